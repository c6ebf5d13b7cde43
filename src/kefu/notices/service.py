"""Proactive notices to customers about their own case, on the channel they used (seed 003 「個性化服務提醒（短信/APP
雙重通知）」, 「進度同步」).

Route: the case's latest conversation on a channel that can send (LINE push, Messenger, email threaded on the
case, API callback, web chat) gets an automatic message, which the channels outbox delivers after commit, exactly
once as far as each provider allows. A phone case (or a case without a sending conversation) goes by SMS when the
customer has a number and the brand's phone inbox has an SMS gateway (`sms_url`), through the same outbox. Otherwise
the notice is a public update on the case, shown in the portal progress view. Each notice has a dedupe key
(`status:<ticket>:<activity>`, `callback_reminder:<id>`…): sending twice is a no-op. These are service messages
about the customer's own case, so the outreach consent gate does not apply.

Triggers: status changes to resolved / pending (brand ``settings["notices"]["status"]``), unless the customer was
given a public update in the same minute (closing a chat already tells them); call-back reminders
`remind_customer_minutes` before the appointment (the `notices.sweep` job); follow-up contacts planned after
resolution announce themselves once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.brands.models import Brand, Inbox
from kefu.channels import outbox
from kefu.conversations.models import Conversation
from kefu.conversations.service import add_message
from kefu.core import catalog
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.core.l10n import format_datetime, format_zone
from kefu.customers.models import Customer
from kefu.notices.models import CustomerNotice, NoticeBroadcast
from kefu.surveys.consent import consents_to_outreach
from kefu.tickets import service as ticket_service
from kefu.tickets.models import Ticket
from kefu.tickets.timeline import add_activity

DEFAULT_STATUSES = ("resolved", "pending")
SENDING = ("line", "messenger", "email", "api", "web_chat", "board")
KINDS = ("status", "callback_reminder", "follow_up", "outage")
EXTRA_CHANNELS = ("sms", "email")
# Besides the customer's own channel: outage notices also go by SMS and email unless the brand says otherwise.
DEFAULT_ALSO: dict[str, list[str]] = {"outage": ["sms", "email"]}

# Texts are the notice_* entries of the gettext catalogs (src/kefu/locale), written per locale.
PREFIX = "notice_"


def _locale(customer: Customer | None, brand: Brand) -> str:
    for cand in ((customer.locale if customer else None), brand.default_locale):
        if cand in ("zh-TW", "zh-CN", "en"):
            return str(cand)
        if cand and cand.startswith("zh"):
            return "zh-CN" if cand.lower() in ("zh-cn", "zh-hans", "zh-sg") else "zh-TW"
        if cand and cand.startswith("en"):
            return "en"
    return "zh-TW"


def text_for(kind: str, locale: str, **values: str) -> str:
    """The notice text in the customer's language."""
    return catalog.table(locale)[PREFIX + kind].format(**values)


@dataclass
class Route:
    """Where a notice goes."""

    name: str
    conversation: Conversation | None = None
    inbox: Inbox | None = None
    recipient: str | None = None


def route_for(session: Session, ticket: Ticket, customer: Customer | None, prefer_sms: bool = False) -> Route:
    """The customer's own channel for this case (see the module docstring)."""
    if not prefer_sms:
        conv = session.scalar(
            select(Conversation)
            .where(Conversation.ticket_id == ticket.id, Conversation.channel.in_(SENDING))
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        if conv is not None and conv.inbox_id is not None:
            inbox = session.get(Inbox, conv.inbox_id)
            if inbox is not None and inbox.is_active:
                return Route(str(conv.channel), conversation=conv, inbox=inbox)
    phone = customer.phone if customer is not None else None
    if phone:
        gateway = sms_gateway(session, ticket.brand_id)
        if gateway is not None:
            return Route("sms", inbox=gateway, recipient=phone)
    return Route("portal")


def also_channels(brand: Brand, kind: str) -> list[str]:
    """Channels a notice of this kind also goes out on, besides the customer's own (brand policy)."""
    conf = (brand.settings or {}).get("notices") or {}
    also = conf.get("also") or {}
    return [c for c in also.get(kind, DEFAULT_ALSO.get(kind, [])) if c in EXTRA_CHANNELS]


def check_policy(value: Any) -> dict[str, list[str]]:
    """Validate ``settings["notices"]["also"]``: notice kind → extra channels (sms, email)."""
    if not isinstance(value, dict) or set(value) - set(KINDS):
        raise InvalidInput.said("err_notices_also_shape", choices=list(KINDS), channels=list(EXTRA_CHANNELS))
    out: dict[str, list[str]] = {}
    for kind, channels in value.items():
        if not isinstance(channels, list) or not set(channels) <= set(EXTRA_CHANNELS):
            raise InvalidInput.said("err_notices_also_channels", kind=kind, choices=list(EXTRA_CHANNELS))
        out[kind] = list(dict.fromkeys(channels))
    return out


def sms_gateway(session: Session, brand_id: int) -> Inbox | None:
    """The brand's active phone inbox that has an SMS gateway."""
    for inbox in session.scalars(
        select(Inbox)
        .where(Inbox.brand_id == brand_id, Inbox.kind == "phone", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
    ):
        if (inbox.config or {}).get("sms_url"):
            return inbox
    return None


def mailbox(session: Session, brand_id: int) -> Inbox | None:
    """The brand's first active email inbox."""
    return session.scalar(
        select(Inbox)
        .where(Inbox.brand_id == brand_id, Inbox.kind == "email", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
        .limit(1)
    )


def extra_route(session: Session, brand_id: int, customer: Customer | None, channel: str) -> Route | str:
    """An SMS or email route to the customer, or why there is none."""
    if customer is None:
        return "no customer"
    if channel == "sms":
        if not customer.phone:
            return "no phone number"
        gateway = sms_gateway(session, brand_id)
        return Route("sms", inbox=gateway, recipient=customer.phone) if gateway else "no SMS gateway"
    if not customer.email:
        return "no email address"
    box = mailbox(session, brand_id)
    return Route("email", inbox=box, recipient=customer.email.strip().lower()) if box else "no email inbox"


def _email_payload(inbox: Inbox, text: str, subject: str, number: str | None) -> dict[str, Any]:
    """A standalone notice email (no thread to reply in: a reply quoting the case number finds the case)."""
    from kefu.channels.email.adapter import inbox_address, message_id_domain

    cfg = inbox.config or {}
    message_id = make_msgid(domain=message_id_domain(cfg))
    return {
        "text": text,
        "subject": subject,
        "in_reply_to": None,
        "references": [],
        "message_id": message_id,
        "ticket_tag": number,
        "reply_to": inbox_address(cfg) or None,
        "automatic": True,
    }


def _deliver(
    session: Session,
    notice: CustomerNotice,
    route: Route,
    text: str,
    subject: str,
    number: str | None,
    now: datetime,
) -> None:
    """Queue the notice on its route (the outbox sends after commit) or mark it posted to the portal."""
    if route.conversation is not None:
        # An automatic message on the case's conversation: the outbound hooks queue it in the outbox after commit.
        msg, _ = add_message(
            session, route.conversation, sender_type="bot", body=text, meta={"notice": notice.kind}, created_at=now
        )
        notice.message_id = msg.id
    elif route.name == "sms" and route.inbox is not None and route.recipient:
        row = outbox.queue(
            session,
            inbox=route.inbox,
            recipient=route.recipient,
            payload={"text": text, "gateway_idempotent": bool((route.inbox.config or {}).get("sms_idempotent"))},
            automatic=True,
            channel="sms",
            idempotency_key=f"notice:{notice.dedupe_key}",
        )
        notice.outbox_id = row.id
        notice.recipient = route.recipient
    elif route.name == "email" and route.inbox is not None and route.recipient:
        payload = _email_payload(route.inbox, text, subject, number)
        row = outbox.queue(
            session,
            inbox=route.inbox,
            recipient=route.recipient,
            payload=payload,
            automatic=True,
            idempotency_key=str(payload["message_id"]),
        )
        notice.outbox_id = row.id
        notice.recipient = route.recipient
    else:
        notice.status = "posted"
        notice.reason = "no channel to reach the customer: shown in the portal progress view"


def _already(session: Session, key: str) -> bool:
    return session.scalar(select(CustomerNotice.id).where(CustomerNotice.dedupe_key == key)) is not None


def send(
    session: Session,
    ticket: Ticket,
    kind: str,
    dedupe_key: str,
    text: str,
    *,
    prefer_sms: bool = False,
    now: datetime | None = None,
    extra: Sequence[str] | None = None,
    broadcast: NoticeBroadcast | None = None,
    subject: str | None = None,
) -> CustomerNotice | None:
    """Send one notice about a case on the customer's own route and on the policy's extra channels.

    Returns the notice on the customer's own route (None when this key was already sent); the caller commits.
    Extra channels (SMS, email) are skipped when they repeat the own route or the recipient withdrew consent.
    """
    if _already(session, dedupe_key):
        return None
    now = now or utcnow()
    brand = session.get(Brand, ticket.brand_id)
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    route = route_for(session, ticket, customer, prefer_sms)
    subject = subject or f"[{ticket.number}] {ticket.subject}"[:200]

    def row(key: str, route_name: str) -> CustomerNotice:
        notice = CustomerNotice(
            brand_id=ticket.brand_id,
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            broadcast_id=broadcast.id if broadcast else None,
            kind=kind,
            dedupe_key=key,
            route=route_name,
            status="queued",
            body=text,
            created_at=now,
        )
        session.add(notice)
        return notice

    primary = row(dedupe_key, route.name)
    _deliver(session, primary, route, text, subject, ticket.number, now)
    routes = [route.name]
    wanted = list(extra) if extra is not None else (also_channels(brand, kind) if brand else [])
    extras = [c for c in wanted if c != route.name]
    allowed = False
    if extras and customer is not None and brand is not None:
        allowed = consents_to_outreach(session, customer.id, brand)
    for channel in extras:
        key = f"{dedupe_key}:{channel}"
        if _already(session, key):
            continue
        notice = row(key, channel)
        found = extra_route(session, ticket.brand_id, customer, channel)
        if not allowed:
            # Another channel than the one the customer used is outreach: it needs their consent.
            notice.status, notice.reason = "skipped", "no consent to be contacted on other channels"
        elif isinstance(found, str):
            notice.status, notice.reason = "skipped", found
        elif found.recipient and found.recipient == primary.recipient:
            notice.status, notice.reason = "skipped", "same recipient as the customer's own channel"
        else:
            _deliver(session, notice, found, text, subject, ticket.number, now)
            routes.append(channel)
    # The case timeline shows every notice, and a portal notice is the customer's public update.
    add_activity(
        session,
        ticket,
        "notice",
        body=text,
        public=route.name == "portal",
        data={"kind": kind, "route": route.name, "routes": routes},
        at=now,
    )
    session.flush()
    return primary


def on_status_change(session: Session, ticket: Ticket, old: str, new: str, now: datetime) -> None:
    """tickets.service status hook: tell the customer when their case resolves or waits on them."""
    brand = session.get(Brand, ticket.brand_id)
    if brand is None:
        return
    conf = (brand.settings or {}).get("notices") or {}
    statuses = conf.get("status", list(DEFAULT_STATUSES))
    reopened = new == "open" and old in ("resolved", "closed")
    if new not in statuses and not (reopened and "open" in statuses):
        return
    if new == "open" and not reopened:
        return
    if ticket.last_public_update_at is not None and now - ticket.last_public_update_at < timedelta(minutes=1):
        return  # the customer was just told (e.g. the agent's closing message)
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    text = text_for(new, _locale(customer, brand), number=ticket.number)
    changes = int(ticket.reopen_count or 0)
    send(session, ticket, "status", f"status:{ticket.id}:{new}:{changes}", text, now=now)


def remind_callbacks(session: Session, now: datetime | None = None) -> int:
    """Remind customers of call-backs `remind_customer_minutes` ahead, once each (by SMS when possible)."""
    from kefu.callbacks.models import Callback
    from kefu.callbacks.service import settings_of, video_url

    now = now or utcnow()
    brands = {b.id: b for b in session.scalars(select(Brand))}
    widest = max((settings_of(b)["remind_customer_minutes"] for b in brands.values()), default=0)
    rows = session.execute(
        select(Callback, Ticket)
        .join(Ticket, Ticket.id == Callback.ticket_id)
        .where(
            Callback.status == "booked",
            Callback.reminded_customer_at.is_(None),
            Callback.scheduled_at > now,
            Callback.scheduled_at <= now + timedelta(minutes=widest),
        )
        .order_by(Callback.scheduled_at, Callback.id)
    ).all()
    sent = 0
    for cb, ticket in rows:
        brand = brands[cb.brand_id]
        lead = settings_of(brand)["remind_customer_minutes"]
        if lead <= 0 or now < cb.scheduled_at - timedelta(minutes=lead):
            continue
        cb.reminded_customer_at = now
        customer = session.get(Customer, cb.customer_id) if cb.customer_id else None
        zone = brand.timezone or "Asia/Taipei"
        locale = _locale(customer, brand)
        # A message to the customer: the month spelled out (3月9日, Mar 9), as the portal's callback slots write it.
        local = format_datetime(cb.scheduled_at, locale, zone, "long")
        masked = f"***{cb.phone[-3:]}" if len(cb.phone) > 3 else cb.phone
        values: dict[str, Any] = {
            "local": local,
            "zone": format_zone(zone, locale, cb.scheduled_at),
            "phone": masked,
            "number": ticket.number,
        }
        text = text_for("callback_reminder", locale, **values)
        link = video_url(brand, cb)
        if link:  # a video session: nobody phones; the reminder carries the room link
            video_text = catalog.table(locale).get(PREFIX + "callback_video")
            text = video_text.format(link=link, **values) if video_text else f"{text}\n{link}"
        if customer is not None and not customer.phone:
            customer.phone = cb.phone  # the number they asked us to call is where the reminder goes
        if send(session, ticket, "callback_reminder", f"callback_reminder:{cb.id}", text, prefer_sms=True, now=now):
            sent += 1
    session.flush()
    return sent


def announce_follow_ups(session: Session, now: datetime | None = None, limit: int = 500) -> int:
    """Tell customers once that follow-up contacts are planned for their resolved case."""
    from kefu.followups.models import FollowUp

    now = now or utcnow()
    told = select(CustomerNotice.id).where(
        CustomerNotice.ticket_id == FollowUp.ticket_id, CustomerNotice.kind == "follow_up"
    )
    rows = session.execute(
        select(FollowUp.ticket_id)
        .where(FollowUp.attempt == 1, FollowUp.created_at >= now - timedelta(days=1), ~told.exists())
        .order_by(FollowUp.ticket_id)
        .limit(limit)
    ).all()
    sent = 0
    for (ticket_id,) in rows:
        ticket = session.get(Ticket, ticket_id)
        brand = session.get(Brand, ticket.brand_id) if ticket else None
        if ticket is None or brand is None:
            continue
        customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        text = text_for("follow_up", _locale(customer, brand), number=ticket.number)
        if send(session, ticket, "follow_up", f"follow_up:{ticket.id}", text, now=now):
            sent += 1
    return sent


def _status_hook(session: Session, ticket: Ticket, old: str, new: str, now: datetime) -> None:
    on_status_change(session, ticket, old, new, now)


# Registered once, at import (the API and the worker both import this module through notices.api / notices.jobs).
if not any(getattr(h, "__module__", "") == __name__ for h in ticket_service.status_hooks):
    ticket_service.status_hooks.append(_status_hook)
