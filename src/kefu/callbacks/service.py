"""Call-back appointments (seed 003 「預約服務專線」「預約服務日曆（提前3天鎖定時段）」).

Slots come from the brand's business calendar (``business`` unless set) in the brand's timezone, `slot_minutes`
long, bookable from `min_lead_minutes` ahead up to `days_ahead` days, at most `capacity` call-backs a slot (brand
``settings["callbacks"]``). A booking without a case opens one (channel phone, routed like any case) so the call-back
is the case's next step; the call-back goes to the case's assignee (else its team). The sweep (`callbacks.sweep`,
every minute) reminds the assignee `remind_agent_minutes` before, puts the call-back in their queue at its time, and
flags it missed when `window_minutes` pass without an outcome (assignee and team leads are told). Reports measure
how many were called within their window.

Video sessions (seed 002 視訊客服, 003 「手語視頻客服」) are call-backs with `mode="video"`: offered only when the brand
configures a meeting-URL template (``settings["video"]["url_template"]``, e.g. a self-hosted Jitsi
``https://meet.example.org/kefu-{token}``), each session gets its own unguessable room link, and the session goes to
an agent with the skill ``video`` (and ``sign_language`` when the customer needs sign language, unless a certified
partner interpreter is recorded on the booking), one session per agent a slot, on shift when the brand keeps shifts.
Deaf and hard-of-hearing customers (kefu.customers.accessibility) are never booked a phone call-back.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Agent, AgentBrand
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.callbacks.models import OUTCOMES, SOURCES, Callback
from kefu.core.access import get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.catalog import gettext
from kefu.core.config import Settings
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from kefu.core.events import publish
from kefu.core.l10n import format_datetime, format_zone
from kefu.core.ratelimit import RouteLimit
from kefu.core.signing import keyed_hash
from kefu.customers.accessibility import DeclareNeeds, declare, needs_of, phone_refused
from kefu.customers.models import Customer
from kefu.customers.phones import check_phone, phone_key
from kefu.customers.service import find_or_create_by_identity
from kefu.sla import service as sla
from kefu.sla.notifications import localized, notify
from kefu.tickets.models import Ticket
from kefu.tickets.service import create_ticket
from kefu.tickets.timeline import add_activity

DEFAULTS: dict[str, Any] = {
    "slot_minutes": 30,
    "capacity": 2,
    "min_lead_minutes": 60,
    "days_ahead": 3,
    "window_minutes": 30,
    "remind_agent_minutes": 15,
    "remind_customer_minutes": 60,
    "calendar": "business",
}
OPEN = ("booked", "due")
# Public booking (portal form and API) opens a ticket and puts a call on an agent's list: a few per address.
PUBLIC_BOOKINGS = RouteLimit("callback", per_ip=10, window=timedelta(minutes=10))
# Open public call-backs for one number: each requester (a client address, or the number itself) has a share of its
# own, so a stranger who books a victim's number uses up only the stranger's share, never the victim's; the ceiling
# per number bounds what several strangers can pile onto one number in the agents' queue (a missed call from the
# number itself, OWNER, is never refused for it).
PUBLIC_PER_REQUESTER = 2
PUBLIC_PER_NUMBER = 6
OWNER = "owner"


def requester_of(ip: str, settings: Settings) -> str:
    """A client address as the requester stored on a public booking: keyed and hashed, never the address itself."""
    # Under this purpose's own key (kefu.core.signing.keyed_hash). Open bookings stored before 2820 hashed the
    # address under the bare secret, so they no longer count toward their client's own share: deliberately not
    # matched both ways, as they still count toward the number's ceiling (PUBLIC_PER_NUMBER bounds the gap) and
    # are all closed within `days_ahead` plus the call window of the change (DEVELOPING.md, "Call-backs").
    return "ip:" + keyed_hash(settings.secret_key, "kefu-callback-requester", ip)[:40]


def settings_of(brand: Brand) -> dict[str, Any]:
    """A brand's call-back settings with defaults."""
    return {**DEFAULTS, **((brand.settings or {}).get("callbacks") or {})}


def check_settings(value: object) -> dict[str, Any]:
    """Validate a ``callbacks`` brand setting (admin input)."""
    if not isinstance(value, dict) or set(value) - set(DEFAULTS):
        raise InvalidInput.said("err_callbacks_settings_keys", choices=sorted(DEFAULTS))
    limits = {
        "slot_minutes": (10, 240),
        "capacity": (1, 100),
        "min_lead_minutes": (0, 7 * 24 * 60),
        "days_ahead": (1, 60),
        "window_minutes": (5, 240),
        "remind_agent_minutes": (0, 240),
        "remind_customer_minutes": (0, 24 * 60),
    }
    for key, (lo, hi) in limits.items():
        if key in value and not (isinstance(value[key], int) and lo <= value[key] <= hi):
            raise InvalidInput.said("err_callbacks_setting_range", key=key, lo=lo, hi=hi)
    if "calendar" in value and not isinstance(value["calendar"], str):
        raise InvalidInput.said("err_callbacks_calendar_unknown")
    return dict(value)


_TEMPLATE = re.compile(r"^https://[^\s{}]+$")


def check_video(value: object) -> dict[str, Any]:
    """Validate a ``video`` brand setting: an https meeting-URL template with one ``{token}``."""
    if not isinstance(value, dict) or set(value) - {"url_template", "provider"}:
        raise InvalidInput.said("err_callbacks_video_shape")
    template = value.get("url_template")
    if not isinstance(template, str) or template.count("{token}") != 1 or len(template) > 500:
        raise InvalidInput.said("err_callbacks_video_url")
    if not _TEMPLATE.match(template.replace("{token}", "x")):
        raise InvalidInput.said("err_callbacks_video_url")
    if "provider" in value and not (isinstance(value["provider"], str) and len(value["provider"]) <= 100):
        raise InvalidInput.said("err_callbacks_video_provider")
    return dict(value)


def video_template(brand: Brand) -> str | None:
    """The brand's meeting-URL template, None when the brand offers no video sessions."""
    conf = (brand.settings or {}).get("video") or {}
    template = conf.get("url_template") if isinstance(conf, dict) else None
    return template if isinstance(template, str) and "{token}" in template else None


def video_url(brand: Brand, cb: Callback) -> str | None:
    """The session's room link (the template as configured now, filled with the session's own token)."""
    template = video_template(brand)
    if cb.mode != "video" or not cb.video_token or template is None:
        return None
    return template.replace("{token}", cb.video_token)


def require_video(brand: Brand) -> str:
    """The template, or a clear refusal when the brand has no video provider."""
    template = video_template(brand)
    if template is None:
        raise Conflict.said("err_callbacks_no_video")
    return template


class VideoRequest(BaseModel):
    """A video session instead of a phone call; sign language by a signing agent or a certified partner interpreter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    needs_sign_language: bool = False
    interpreter_org: str | None = Field(default=None, min_length=2, max_length=200)
    interpreter_cert: str | None = Field(default=None, min_length=2, max_length=200)


def _skills_needed(video: VideoRequest) -> set[str]:
    need = {"video"}
    if video.needs_sign_language and not video.interpreter_org:
        need.add("sign_language")
    return need


def skilled_agents(session: Session, brand_id: int, need: set[str]) -> list[int]:
    """Active agents of the brand having every skill in `need` (skills compare case-insensitively)."""
    rows = session.execute(
        select(Agent.id, Agent.skills)
        .join(AgentBrand, AgentBrand.agent_id == Agent.id)
        .where(AgentBrand.brand_id == brand_id, Agent.is_active.is_(True))
        .order_by(Agent.id)
    )
    return [aid for aid, skills in rows if need <= {str(x).strip().lower() for x in skills or []}]


def _video_busy(session: Session, brand_id: int, start: datetime, end: datetime) -> dict[datetime, set[int]]:
    rows = session.execute(
        select(Callback.scheduled_at, Callback.assignee_id).where(
            Callback.brand_id == brand_id,
            Callback.mode == "video",
            Callback.status.in_(OPEN),
            Callback.assignee_id.is_not(None),
            Callback.scheduled_at >= start,
            Callback.scheduled_at <= end,
        )
    )
    out: dict[datetime, set[int]] = {}
    for at, aid in rows:
        if aid is not None:
            out.setdefault(at, set()).add(aid)
    return out


def _free_video_agents(session: Session, brand: Brand, at: datetime, need: set[str]) -> list[int]:
    from kefu.shifts.service import brand_roster

    pool = skilled_agents(session, brand.id, need)
    roster = brand_roster(session, brand, at, at)
    if roster is not None:
        on = roster.on_shift(at)
        pool = [a for a in pool if a in on]
    busy = _video_busy(session, brand.id, at, at).get(at, set())
    return [a for a in pool if a not in busy]


class Slot(BaseModel):
    """A bookable start time: UTC instant, the brand's local label, and how many places are left."""

    start: datetime
    local: str
    left: int


def slots(session: Session, brand: Brand, now: datetime | None = None, video: VideoRequest | None = None) -> list[Slot]:
    """Open slots from the minimum lead time to `days_ahead` days, in business hours, with places left.

    With `video`, a slot also needs a free agent with the skills (one session each), on shift if shifts are kept.
    """
    now = now or utcnow()
    if video is not None:
        require_video(brand)
    conf = settings_of(brand)
    tz = ZoneInfo(brand.timezone or "Asia/Taipei")
    calendars = sla.calendars_for(session, brand.id, None)
    cal = calendars.get(conf["calendar"]) or calendars["business"]
    step = timedelta(minutes=conf["slot_minutes"])
    earliest = now + timedelta(minutes=conf["min_lead_minutes"])
    local_now = now.astimezone(tz)
    t = local_now.replace(minute=0, second=0, microsecond=0)
    end = (local_now + timedelta(days=conf["days_ahead"])).replace(hour=23, minute=59)
    booked = _booked(session, brand.id, now, end)
    from kefu.shifts.service import brand_roster

    # With schedules (排班), a slot takes at most one booking per agent on shift at its start.
    roster = brand_roster(session, brand, now, end)
    skilled = skilled_agents(session, brand.id, _skills_needed(video)) if video is not None else []
    busy = _video_busy(session, brand.id, now, end) if video is not None else {}
    out: list[Slot] = []
    while t <= end:
        if t >= earliest and cal.is_open(t) and cal.is_open(t + step - timedelta(minutes=1)):
            capacity = conf["capacity"] if roster is None else min(conf["capacity"], len(roster.on_shift(t)))
            left = capacity - booked.get(t, 0)
            if video is not None:
                on = set(skilled) if roster is None else set(skilled) & roster.on_shift(t)
                left = min(left, len(on - busy.get(t.astimezone(ZoneInfo("UTC")), set())))
            if left > 0:
                out.append(Slot(start=t.astimezone(ZoneInfo("UTC")), local=t.strftime("%Y-%m-%d %H:%M"), left=left))
        t += step
    return out


def _booked(session: Session, brand_id: int, start: datetime, end: datetime) -> dict[datetime, int]:
    rows = session.execute(
        select(Callback.scheduled_at, func.count())
        .where(
            Callback.brand_id == brand_id,
            Callback.status.in_(OPEN),
            Callback.scheduled_at >= start,
            Callback.scheduled_at <= end,
        )
        .group_by(Callback.scheduled_at)
    )
    return {at: int(n) for at, n in rows}


def book(
    session: Session,
    brand_id: int,
    *,
    scheduled_at: datetime,
    phone: str,
    source: str,
    actor: Principal | None,
    name: str = "",
    topic: str = "",
    ticket_id: int | None = None,
    video: VideoRequest | None = None,
    declared: DeclareNeeds | None = None,
    now: datetime | None = None,
    requester: str | None = None,
    submission_id: str | None = None,
) -> Callback:
    """Book a call-back (or with `video`, a video session) in an open slot; agents may book any future time.

    Opens a case when none is given. `declared`: needs the customer declares while booking (portal, widget).
    `requester`: who asked a public booking (`requester_of(ip)`, or OWNER for the number's own missed call).
    `submission_id`: the public form's (or API client's) id for this post; the same post again books nothing new.
    """
    ask = Booking(brand_id, scheduled_at, phone, source, actor, name, topic, ticket_id, video, declared, now, requester)
    if submission_id is None or actor is not None:  # agents' retries go through the Idempotency-Key instead
        return _book(session, ask, None)
    digest = ask.digest()
    # As the message board (kefu.channels.board.service): the same id with other content is another post, filed
    # under an id derived from both, so it neither returns nor touches the first booking. Two identical posts racing
    # (a double tap, a retried request) both miss the lookup; the loser's insert meets the winner's unique
    # (brand, submission) once the winner commits, its savepoint rolls back, and the lookup, run again, answers with
    # the winner's booking: one case, one call in the queue, and the caller's cap share spent once.
    for attempt in (1, 2, 3):
        filed = _filed_under(session, brand_id, submission_id, digest)
        if isinstance(filed, Callback):
            return filed
        try:
            with session.begin_nested():
                return _book(session, ask, (filed, digest))
        except IntegrityError:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Booking:
    """What one booking asks for (the arguments of `book`)."""

    brand_id: int
    scheduled_at: datetime
    phone: str
    source: str
    actor: Principal | None
    name: str
    topic: str
    ticket_id: int | None
    video: VideoRequest | None
    declared: DeclareNeeds | None
    now: datetime | None
    requester: str | None

    def digest(self) -> str:
        """A digest of what a public post asked (and who asked it): equal only for the very same post."""
        asked = {
            "at": self.scheduled_at.astimezone(UTC).isoformat() if self.scheduled_at.tzinfo else None,
            "phone": self.phone.strip(),
            "name": self.name.strip(),
            "topic": self.topic,
            "source": self.source,
            "video": self.video.model_dump() if self.video else None,
            "declared": self.declared.model_dump() if self.declared else None,
            # Another client replaying someone's id and content gets a booking of its own, never theirs.
            "requester": self.requester,
        }
        return hashlib.sha256(json.dumps(asked, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _filed_under(session: Session, brand_id: int, submission_id: str, digest: str) -> str | Callback:
    """The id to file a public post under, or the booking this very post made already."""
    derived = f"{submission_id[:64]}:{digest[:32]}"
    for candidate in (submission_id[:64], derived):
        held = session.scalar(select(Callback).where(Callback.brand_id == brand_id, Callback.submission == candidate))
        if held is None:
            return candidate
        if held.submission_digest == digest:
            return held
    return secrets.token_hex(16)  # both held by other posts (a digest collision in 128 bits): a fresh id


def _book(session: Session, ask: Booking, filed: tuple[str, str] | None) -> Callback:
    """`book` once it is known this post books anew; `filed`: the submission id and digest to store."""
    now = ask.now or utcnow()
    brand = get_brand(session, ask.brand_id, ask.actor)
    conf = settings_of(brand)
    mode = "video" if ask.video is not None else "phone"
    template = require_video(brand) if ask.video is not None else None
    if ask.video is not None and ask.video.interpreter_org and not ask.video.interpreter_cert:
        raise InvalidInput.said("err_callbacks_interpreter_cert")
    if ask.source not in SOURCES:
        raise InvalidInput.said("err_callbacks_source_choice", choices=", ".join(SOURCES))
    # The number's identity is its digits-only national form: the cap below counts every spelling of it as one.
    check_phone(ask.phone)
    key = phone_key(ask.phone)
    if key is None:
        raise InvalidInput.said("err_callbacks_phone_required")
    if ask.scheduled_at.tzinfo is None:
        raise InvalidInput.said("err_callbacks_scheduled_needs_offset")
    if ask.actor is None:  # customers pick one of the offered slots; agents may agree any later time on the phone
        _check_public_cap(session, ask.brand_id, key, ask.requester)
        offered = {s.start for s in slots(session, brand, now, ask.video)}
        if ask.scheduled_at not in offered:
            raise Conflict.said("err_callbacks_slot_taken")
    elif ask.scheduled_at <= now:
        raise InvalidInput.said("err_callbacks_in_past")
    customer = None
    ticket: Ticket | None = None
    created = False
    if ask.ticket_id is not None:
        ticket = ref_in_brand(session, Ticket, ask.ticket_id, ask.brand_id, "err_callbacks_no_ticket", NotFound)
        customer_id = ticket.customer_id
    else:
        customer, created = find_or_create_by_identity(
            session, ask.brand_id, "phone", ask.phone.strip(), ask.name or None
        )
        customer_id = customer.id
    # A public booking proves nothing about the number typed (like the message board): it files the case under that
    # number's customer, but neither rewrites the needs recorded for them nor answers from them (a 409 told anyone
    # whether a number's owner is deaf). Agents, and a number new to the brand, speak for the customer.
    speaks_for_customer = ask.actor is not None or created
    if ask.declared is not None and ask.declared.needs and not ask.declared.consent:
        raise InvalidInput.said("err_customers_needs_consent")  # the same answer whoever the number belongs to
    if ask.declared is not None and ask.declared.needs and customer_id is not None and speaks_for_customer:
        who = session.get(Customer, customer_id)
        assert who is not None
        declare(session, who, ask.declared, ask.actor, source=ask.source, now=now)
    typed: list[str] = list(ask.declared.needs) if ask.declared is not None else []
    needs = needs_of(session, customer_id) if speaks_for_customer else typed
    if mode == "phone" and phone_refused(needs):
        raise Conflict.said("uix_callback_deaf")
    assignee_id = ticket.assignee_id if ticket is not None else None
    if ask.video is not None:
        free = _free_video_agents(session, brand, ask.scheduled_at, _skills_needed(ask.video))
        if not free:
            skills = ", ".join(sorted(_skills_needed(ask.video)))
            raise Conflict.said("err_callbacks_no_agent_free", skills=skills)
        assignee_id = assignee_id if assignee_id in free else _least_busy(session, free)
    if ticket is None:
        ticket = create_ticket(
            session,
            brand_id=ask.brand_id,
            subject=_subject(brand.default_locale, mode, ask.topic),
            description=ask.topic,
            actor=ask.actor,
            customer_id=customer_id,
            channel="phone",
        )
    cb = Callback(
        brand_id=ask.brand_id,
        ticket_id=ticket.id,
        customer_id=customer_id,
        assignee_id=assignee_id if ask.video is not None else ticket.assignee_id,
        team_id=ticket.team_id,
        phone=ask.phone.strip(),
        name=ask.name.strip()[:200],
        topic=ask.topic,
        source=ask.source,
        mode=mode,
        needs_sign_language=bool(ask.video and ask.video.needs_sign_language),
        interpreter_org=ask.video.interpreter_org if ask.video else None,
        interpreter_cert=ask.video.interpreter_cert if ask.video else None,
        video_token=secrets.token_urlsafe(32) if ask.video is not None else None,
        scheduled_at=ask.scheduled_at,
        window_minutes=conf["window_minutes"],
        created_by=ask.actor.agent_id if ask.actor else None,
        created_at=now,
        requester=ask.requester if ask.actor is None else None,
        submission=filed[0] if filed else None,
        submission_digest=filed[1] if filed else None,
    )
    session.add(cb)
    session.flush()
    locale = brand.default_locale
    when = format_datetime(ask.scheduled_at, locale, brand.timezone, "long")
    zone_name = format_zone(brand.timezone, locale, ask.scheduled_at)
    link = template.replace("{token}", cb.video_token) if template and cb.video_token else None
    # The public update carries the room link: the customer finds it on the portal's progress page.
    add_activity(
        session,
        ticket,
        "callback_booked",
        body=gettext("callback_booked_video", locale).format(when=when, zone=zone_name, link=link)
        if link
        else gettext("callback_booked_phone", locale).format(when=when, zone=zone_name),
        public=True,
        data={"callback_id": cb.id, "scheduled_at": ask.scheduled_at.isoformat(), "source": ask.source, "mode": mode},
        at=now,
    )
    record(
        session,
        ask.actor,
        "callback.book",
        target_type="callback",
        target_id=cb.id,
        brand_id=ask.brand_id,
        details={"source": ask.source, "mode": mode, "sign_language": cb.needs_sign_language},
        actor_type=None if ask.actor else "customer",
        actor_label=None if ask.actor else ask.source,
    )
    publish(session, "callback.booked", {"id": cb.id, "ticket_id": ticket.id}, (f"brand:{ask.brand_id}",))
    return cb


def _check_public_cap(session: Session, brand_id: int, key: str, requester: str | None) -> None:
    """429 when this requester already has its share of open call-backs for the number, or (the number itself
    apart) the number has reached its ceiling; one query, grouped by requester."""
    rows = session.execute(
        select(Callback.requester, func.count())
        .where(Callback.brand_id == brand_id, Callback.phone_key == key, Callback.status.in_(OPEN))
        .group_by(Callback.requester)
    ).all()
    per = {who: int(n) for who, n in rows}
    # A booking with no requester (a caller outside a request) shares one anonymous share, as the old cap did.
    if per.get(requester, 0) >= PUBLIC_PER_REQUESTER:
        raise TooManyRequests.said("uix_callback_limit")
    if requester != OWNER and sum(n for who, n in per.items() if who != OWNER) >= PUBLIC_PER_NUMBER:
        raise TooManyRequests.said("uix_callback_limit")


def _subject(locale: str, mode: str, topic: str) -> str:
    """The ticket's subject, written once in the brand's language (kefu.brands.texts explains why)."""
    kind = "video" if mode == "video" else "callback"
    return gettext(f"subj_{kind}_topic", locale).format(topic=topic[:80]) if topic else gettext(f"subj_{kind}", locale)


def _least_busy(session: Session, agent_ids: list[int]) -> int:
    """The agent with the fewest open video sessions (then the lowest id)."""
    counts = dict(
        session.execute(
            select(Callback.assignee_id, func.count())
            .where(Callback.assignee_id.in_(agent_ids), Callback.mode == "video", Callback.status.in_(OPEN))
            .group_by(Callback.assignee_id)
        ).all()
    )
    return min(agent_ids, key=lambda a: (int(counts.get(a, 0)), a))


def video_links(session: Session, callbacks: list[Callback]) -> dict[int, str]:
    """Room links of the video sessions among `callbacks`, by call-back id (for the console queue)."""
    brands = {b: session.get(Brand, b) for b in {c.brand_id for c in callbacks if c.mode == "video"}}
    links = {c.id: video_url(brand, c) for c in callbacks if (brand := brands.get(c.brand_id)) is not None}
    return {k: v for k, v in links.items() if v}


def ticket_number(session: Session, cb: Callback) -> str:
    """The number of the case a call-back belongs to (shown to the customer who booked it)."""
    number = session.scalar(select(Ticket.number).where(Ticket.id == cb.ticket_id))
    if number is None:
        raise NotFound.said("err_callbacks_ticket_not_found", ticket_id=cb.ticket_id)
    return number


def get_callback(session: Session, callback_id: int, principal: Principal) -> Callback:
    """One call-back the principal may see."""
    cb = get_in_brand(session, Callback, callback_id, principal, "Call-back")
    return cb


def complete(
    session: Session, cb: Callback, actor: Principal, outcome: str, note: str = "", now: datetime | None = None
) -> Callback:
    """Record the call (reached / no answer); a missed call-back can still be made late."""
    if outcome not in OUTCOMES:
        raise InvalidInput.said("err_callbacks_outcome_choice", choices=", ".join(OUTCOMES))
    if cb.status not in ("booked", "due", "missed"):
        raise Conflict.said("err_callbacks_not_open", status=cb.status)
    now = now or utcnow()
    cb.status, cb.result, cb.note, cb.done_at, cb.done_by = "done", outcome, note, now, actor.agent_id
    ticket = session.get(Ticket, cb.ticket_id)
    assert ticket is not None
    add_activity(
        session, ticket, "callback_done", body=note, agent_id=actor.agent_id, data={"outcome": outcome}, at=now
    )
    session.flush()
    return cb


def cancel(session: Session, cb: Callback, actor: Principal | None, now: datetime | None = None) -> Callback:
    """Cancel an open call-back (the slot frees up)."""
    if cb.status not in OPEN:
        raise Conflict.said("err_callbacks_not_open", status=cb.status)
    cb.status = "cancelled"
    ticket = session.get(Ticket, cb.ticket_id)
    assert ticket is not None
    add_activity(session, ticket, "callback_cancelled", public=True, data={"callback_id": cb.id}, at=now or utcnow())
    session.flush()
    return cb


def queue(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None = None,
    assignee_id: int | None = None,
    statuses: tuple[str, ...] = ("due", "missed"),
    limit: int = 100,
    callback_id: int | None = None,
) -> list[tuple[Callback, Ticket]]:
    """Call-backs with their cases, the earliest first (default: what to call now and what was missed)."""
    stmt = select(Callback, Ticket).join(Ticket, Ticket.id == Callback.ticket_id).where(Callback.status.in_(statuses))
    stmt = scope_to_brands(stmt, Callback.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Callback.brand_id == brand_id)
    if assignee_id is not None:
        stmt = stmt.where(Callback.assignee_id == assignee_id)
    if callback_id is not None:
        stmt = stmt.where(Callback.id == callback_id)
    return [(c, t) for c, t in session.execute(stmt.order_by(Callback.scheduled_at, Callback.id).limit(limit))]


def same_number(session: Session, callbacks: list[Callback]) -> dict[int, int]:
    """Per call-back id, how many other open call-backs its number has (same brand, any spelling); one query."""
    keys = {(c.brand_id, c.phone_key) for c in callbacks if c.phone_key}
    if not keys:
        return {}
    rows = session.execute(
        select(Callback.brand_id, Callback.phone_key, func.count())
        .where(Callback.phone_key.in_({k for _, k in keys}), Callback.status.in_(OPEN))
        .group_by(Callback.brand_id, Callback.phone_key)
    ).all()
    open_for = {(b, k): int(n) for b, k, n in rows}
    out: dict[int, int] = {}
    for c in callbacks:
        n = open_for.get((c.brand_id, c.phone_key), 0) - (c.status in OPEN)
        if c.phone_key and n > 0:
            out[c.id] = n
    return out


@dataclass
class SweepResult:
    """What one sweep did."""

    reminded: int = 0
    queued: int = 0
    missed: int = 0


def _recipients(session: Session, cb: Callback, ticket: Ticket, level: str) -> list[int]:
    if level == "agent" and cb.assignee_id:
        return [cb.assignee_id]
    return sla.recipients(session, ticket, level)


def _can_take(session: Session, cb: Callback, agent_id: int) -> bool:
    need = {"video"} | ({"sign_language"} if cb.needs_sign_language and not cb.interpreter_org else set())
    return agent_id in skilled_agents(session, cb.brand_id, need)


def sweep(session: Session, now: datetime | None = None) -> SweepResult:
    """Remind, queue at the appointment time, and flag missed call-backs; each step once (the caller commits)."""
    now = now or utcnow()
    result = SweepResult()
    confs = {b.id: settings_of(b) for b in session.scalars(select(Brand))}
    horizon = now + timedelta(minutes=max((c["remind_agent_minutes"] for c in confs.values()), default=0))
    rows = session.execute(
        select(Callback, Ticket)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .where(Callback.status.in_(OPEN), Callback.scheduled_at <= horizon)
        .order_by(Callback.scheduled_at, Callback.id)
    ).all()
    for cb, ticket in rows:
        conf = confs[cb.brand_id]
        if ticket.assignee_id is not None and (cb.mode != "video" or _can_take(session, cb, ticket.assignee_id)):
            # The call-back follows its case when the case changes hands (a video session only to a skilled agent).
            cb.assignee_id, cb.team_id = ticket.assignee_id, ticket.team_id
        data = {"callback_id": cb.id, "scheduled_at": cb.scheduled_at.isoformat()}
        remind_at = cb.scheduled_at - timedelta(minutes=conf["remind_agent_minutes"])
        if cb.status == "booked" and cb.reminded_agent_at is None and remind_at <= now < cb.scheduled_at:
            cb.reminded_agent_at = now
            notify(
                session,
                _recipients(session, cb, ticket, "agent"),
                "callback.reminder",
                localized("notif_callback_reminder", number=ticket.number),
                brand_id=cb.brand_id,
                body=ticket.subject,
                ticket_id=ticket.id,
                data=data,
            )
            result.reminded += 1
        if cb.status == "booked" and now >= cb.scheduled_at:
            cb.status, cb.queued_at = "due", now
            notify(
                session,
                _recipients(session, cb, ticket, "agent"),
                "callback.due",
                localized("notif_callback_due", number=ticket.number),
                brand_id=cb.brand_id,
                body=ticket.subject,
                ticket_id=ticket.id,
                data=data,
            )
            publish(session, "callback.due", {**data, "ticket_id": ticket.id}, (f"brand:{cb.brand_id}",))
            result.queued += 1
        if cb.status == "due" and now >= cb.scheduled_at + timedelta(minutes=cb.window_minutes):
            cb.status, cb.missed_at = "missed", now
            who = _recipients(session, cb, ticket, "agent") + sla.recipients(session, ticket, "team_lead")
            notify(
                session,
                who,
                "callback.missed",
                localized("notif_callback_missed", number=ticket.number),
                brand_id=cb.brand_id,
                body=ticket.subject,
                ticket_id=ticket.id,
                data=data,
            )
            add_activity(session, ticket, "callback_missed", data=data, at=now)
            result.missed += 1
    session.flush()
    return result


class CallbackStats(BaseModel):
    """Call-backs scheduled in a period and how punctually they were made."""

    brand_id: int
    booked: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    missed_open: int = 0
    cancelled: int = 0
    reached: int = 0
    on_time_rate: float | None = None
    by_source: dict[str, int] = {}


def stats(session: Session, brand_id: int, actor: Principal | None, *, start: datetime, end: datetime) -> CallbackStats:
    """Punctuality of call-backs scheduled in [start, end): called within the window, late, missed, cancelled."""
    get_brand(session, brand_id, actor)
    if end <= start:
        raise InvalidInput.said("err_callbacks_end_before_start")
    out = CallbackStats(brand_id=brand_id, by_source={})
    rows = session.execute(
        select(
            Callback.status,
            Callback.result,
            Callback.source,
            Callback.scheduled_at,
            Callback.window_minutes,
            Callback.done_at,
        ).where(Callback.brand_id == brand_id, Callback.scheduled_at >= start, Callback.scheduled_at < end)
    )
    for status, result, source, at, window, done in rows:
        out.booked += 1
        out.by_source[source] = out.by_source.get(source, 0) + 1
        if status == "cancelled":
            out.cancelled += 1
        elif status == "done" and done is not None:
            out.done += 1
            out.reached += result == "reached"
            if done <= at + timedelta(minutes=window):
                out.on_time += 1
            else:
                out.late += 1
        elif status == "missed":
            out.missed_open += 1
    decided = out.on_time + out.late + out.missed_open
    out.on_time_rate = round(out.on_time / decided, 4) if decided else None
    return out
