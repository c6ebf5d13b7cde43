"""The account-security incident ladder (seed 003 §3.2 「賬號安全事件處置」).

接報 → the security centre intervenes within 10 minutes, the account is frozen temporarily within 15, the customer's
identity verified within 30 and the system repaired within an hour (wall-clock, 24×7), then 3 proactive contacts
within 7 days. Cases of a security category (`account_anomaly`) carry the ladder: every step is an SLA milestone
target of the category's policy (`security.account_anomaly`), so recording a step stops its clock through
`sla.reach_milestone` and a late or missing step breaches, warns and escalates like any other target.

Steps are recorded in order and once (recording a step again answers the first record). kefu cannot freeze the
game or bank account itself: a brand may configure a freeze webhook, called after commit by a retried job with an
HMAC signature over the SSRF-guarded client; a 2xx answer records the freeze step, otherwise the agent confirms it.
The repair step plans the follow-up contacts (the brand's follow-up rule for the category, else 3 within 7 days);
a case resolved without a recorded repair gets the same plan from its resolution (the follow-up planner), once.
A freeze request that fails for good notifies the case's assignee (else the brand's agents who may work cases).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.account_security.commands import RecordStep, RequestFreeze, SaveFreezeHook, ensure
from kefu.account_security.models import (
    SECURITY_CATEGORIES,
    STEPS,
    FreezeHook,
    FreezeRequest,
    SecurityStep,
)
from kefu.audit.service import record
from kefu.auth.permissions import Principal, permissions_for
from kefu.auth.service import assignable_agents
from kefu.brands.service import get_brand
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput, NotFound
from kefu.core.events import publish
from kefu.core.jobs import enqueue, max_attempts
from kefu.customers.models import CustomerIdentity
from kefu.followups.service import plan_case
from kefu.sla import service as sla
from kefu.sla.models import TicketSlaTarget
from kefu.sla.notifications import localized, notify
from kefu.tickets.models import Ticket
from kefu.tickets.timeline import add_activity

FREEZE_JOB = "account_security.freeze_webhook"
SIGNATURE_HEADER = "X-Kefu-Signature"
TIMESTAMP_HEADER = "X-Kefu-Timestamp"


def is_incident(ticket: Ticket) -> bool:
    """True for a case of a security category (the ladder applies)."""
    return ticket.category in SECURITY_CATEGORIES


def _require_incident(ticket: Ticket) -> None:
    if not is_incident(ticket):
        category = ticket.category or "none"
        raise Conflict.said("err_account_security_not_incident", number=ticket.number, category=category).also(
            title="Not a security incident"
        )


# ---------------------------------------------------------------- the ladder of one case


@dataclass(frozen=True)
class LadderStep:
    """One step of a case's ladder: its deadline and SLA status, and the record once made."""

    step: str
    due_at: datetime | None
    status: str | None  # the SLA target's status (running, warning, breached, met, missed); None without a target
    record: SecurityStep | None


def steps_of(session: Session, ticket: Ticket) -> dict[str, SecurityStep]:
    """Recorded steps of a case, by step."""
    rows = session.scalars(select(SecurityStep).where(SecurityStep.ticket_id == ticket.id))
    return {r.step: r for r in rows}


def ladder(session: Session, ticket: Ticket) -> list[LadderStep]:
    """The four steps of a case in order, with deadlines from its SLA targets."""
    done = steps_of(session, ticket)
    _, targets = sla.ticket_sla(session, ticket.id)
    by_key = {t.key: t for t in targets}
    out = []
    for step in STEPS:
        target = by_key.get(step)
        out.append(
            LadderStep(
                step=step,
                due_at=target.due_at if target else None,
                status=target.status if target else None,
                record=done.get(step),
            )
        )
    return out


def _at(ticket: Ticket, at: datetime | None, now: datetime) -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        raise InvalidInput.said("err_account_security_at_needs_offset")
    if at > now + timedelta(minutes=1):
        raise InvalidInput.said("err_account_security_step_in_future")
    if at < ticket.created_at:
        raise InvalidInput.said("err_account_security_step_before_case")
    return at


def record_step(
    session: Session,
    ticket: Ticket,
    actor: Principal | None,
    command: RecordStep | dict[str, object],
    *,
    source: str = "agent",
) -> tuple[SecurityStep, bool]:
    """Record a step of the ladder (in order); the second time answers the first record and False."""
    cmd = ensure(RecordStep, command)
    _require_incident(ticket)
    done = steps_of(session, ticket)
    if cmd.step in done:
        return done[cmd.step], False
    missing = [s for s in STEPS[: STEPS.index(cmd.step)] if s not in done]
    if missing:
        raise Conflict.said("err_account_security_step_order", first=missing[0], step=cmd.step).also(
            title="Step out of order"
        )
    now = utcnow()
    at = _at(ticket, cmd.at, now)
    row = SecurityStep(
        brand_id=ticket.brand_id,
        ticket_id=ticket.id,
        step=cmd.step,
        at=at,
        agent_id=actor.agent_id if actor else None,
        source=source,
        note=cmd.note,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # recorded by someone else meanwhile: theirs is the record
        return steps_of(session, ticket)[cmd.step], False
    add_activity(
        session,
        ticket,
        "security_step",
        body=cmd.note,
        agent_id=row.agent_id,
        data={"step": cmd.step, "at": at.isoformat(), "source": source},
    )
    sla.reach_milestone(session, ticket, cmd.step, at)
    if cmd.step == "repaired":
        plan_case(session, ticket, at)  # the brand's rule, else DEFAULT_FOLLOW_UP
    record(
        session,
        actor,
        "security_step.record",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"step": cmd.step, "at": at.isoformat(), "source": source},
        actor_label="freeze webhook" if actor is None else None,
    )
    publish(
        session,
        "security.step",
        {"ticket_id": ticket.id, "step": cmd.step, "at": at.isoformat()},
        (f"brand:{ticket.brand_id}", f"ticket:{ticket.id}"),
    )
    session.flush()
    return row, True


# ---------------------------------------------------------------- freeze webhook


def get_hook(session: Session, brand_id: int, actor: Principal | None) -> FreezeHook | None:
    """The brand's freeze webhook, if configured."""
    get_brand(session, brand_id, actor)
    return session.scalar(select(FreezeHook).where(FreezeHook.brand_id == brand_id))


def save_hook(
    session: Session, brand_id: int, actor: Principal | None, command: SaveFreezeHook | dict[str, object]
) -> FreezeHook:
    """Create or replace a brand's freeze webhook (audited; the secret is never read back)."""
    cmd = ensure(SaveFreezeHook, command)
    hook = get_hook(session, brand_id, actor)
    if hook is None:
        hook = FreezeHook(brand_id=brand_id, url=cmd.url, secret=cmd.secret, is_active=cmd.is_active)
        session.add(hook)
    else:
        hook.url, hook.secret, hook.is_active, hook.updated_at = cmd.url, cmd.secret, cmd.is_active, utcnow()
    session.flush()
    record(
        session,
        actor,
        "security_freeze_hook.save",
        target_type="security_freeze_hook",
        target_id=hook.id,
        brand_id=brand_id,
        details={"url": cmd.url, "is_active": cmd.is_active},
    )
    return hook


def delete_hook(session: Session, brand_id: int, actor: Principal | None) -> None:
    """Remove a brand's freeze webhook (agents then freeze by hand and confirm)."""
    hook = get_hook(session, brand_id, actor)
    if hook is None:
        raise NotFound.said("err_account_security_no_freeze_webhook")
    record(
        session,
        actor,
        "security_freeze_hook.delete",
        target_type="security_freeze_hook",
        target_id=hook.id,
        brand_id=brand_id,
    )
    session.delete(hook)
    session.flush()


def has_active_hook(session: Session, brand_id: int) -> bool:
    """True when the brand has an active freeze webhook (the case card offers the request button)."""
    hook = session.scalar(select(FreezeHook).where(FreezeHook.brand_id == brand_id))
    return hook is not None and hook.is_active


def freeze_requests(session: Session, ticket: Ticket) -> list[FreezeRequest]:
    """A case's freeze requests, oldest first."""
    return list(
        session.scalars(select(FreezeRequest).where(FreezeRequest.ticket_id == ticket.id).order_by(FreezeRequest.id))
    )


def request_freeze(
    session: Session, ticket: Ticket, actor: Principal, command: RequestFreeze | dict[str, object]
) -> FreezeRequest:
    """Ask the brand's system to freeze the account: the webhook is called after commit by a retried job."""
    cmd = ensure(RequestFreeze, command)
    _require_incident(ticket)
    done = steps_of(session, ticket)
    if "intervene" not in done:
        raise Conflict.said("err_account_security_step_order", first="intervene", step="freeze").also(
            title="Step out of order"
        )
    if "freeze" in done:
        raise Conflict.said("err_account_security_freeze_recorded")
    hook = session.scalar(select(FreezeHook).where(FreezeHook.brand_id == ticket.brand_id))
    if hook is None or not hook.is_active:
        raise Conflict.said("err_account_security_freeze_by_hand").also(title="No freeze webhook")
    live = [r for r in freeze_requests(session, ticket) if r.status == "pending"]
    if live:
        return live[0]
    req = FreezeRequest(
        brand_id=ticket.brand_id, ticket_id=ticket.id, requested_by=actor.agent_id, requested_at=utcnow()
    )
    session.add(req)
    session.flush()
    add_activity(session, ticket, "security_freeze_requested", body=cmd.note, agent_id=actor.agent_id)
    record(
        session,
        actor,
        "security_freeze.request",
        target_type="ticket",
        target_id=ticket.id,
        brand_id=ticket.brand_id,
        details={"request_id": req.id},
    )
    enqueue(session, FREEZE_JOB, {"request_id": req.id}, key=f"security-freeze:{ticket.id}")
    return req


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """X-Kefu-Signature: HMAC-SHA256 over `<timestamp>.<body>` (the timestamp bounds replays)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _payload(session: Session, req: FreezeRequest, ticket: Ticket) -> bytes:
    identities = []
    if ticket.customer_id is not None:
        identities = [
            {"kind": k, "external_id": e}
            for k, e in session.execute(
                select(CustomerIdentity.kind, CustomerIdentity.external_id)
                .where(CustomerIdentity.customer_id == ticket.customer_id)
                .order_by(CustomerIdentity.id)
            )
        ]
    data = {
        "event": "account.freeze_requested",
        "request_id": req.id,
        "brand_id": req.brand_id,
        "ticket_id": ticket.id,
        "ticket_number": ticket.number,
        "customer_id": ticket.customer_id,
        "identities": identities,
        "requested_at": req.requested_at.isoformat(),
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _fail(session: Session, req: FreezeRequest, ticket: Ticket | None, error: str) -> str:
    """Fail a request for good and tell who works the case to freeze by hand (once: only a pending request fails)."""
    req.status, req.last_error = "failed", error[:500]
    session.flush()
    if ticket is None:
        return req.status
    if ticket.assignee_id is not None:
        to = [ticket.assignee_id]
    else:
        to = [a.id for a in assignable_agents(session, ticket.brand_id) if "tickets:write" in permissions_for(a.role)]
    notify(
        session,
        to,
        "security.freeze_failed",
        localized("notif_freeze_failed", number=ticket.number),
        brand_id=ticket.brand_id,
        body=req.last_error,
        ticket_id=ticket.id,
        data={"request_id": req.id, "response_status": req.response_status},
    )
    return req.status


class RetryLater(RuntimeError):
    """The webhook failed in a way worth retrying (network, 5xx, 408, 429): the job runner backs off."""


def deliver_freeze(session: Session, request_id: int, *, now: datetime | None = None) -> str:
    """Call the brand's freeze webhook for one request (the job's body); returns the request's status.

    A 2xx answer records the freeze step; other 4xx answers fail the request for good (the agent freezes by hand);
    network errors, 5xx, 408 and 429 raise RetryLater after recording the attempt, so the job is retried with
    backoff, until the job's last attempt fails the request.
    """
    from kefu.privacy import net

    req = session.get(FreezeRequest, request_id)
    if req is None or req.status != "pending":
        return req.status if req is not None else "gone"
    ticket = session.get(Ticket, req.ticket_id)
    hook = session.scalar(select(FreezeHook).where(FreezeHook.brand_id == req.brand_id))
    if ticket is None or hook is None or not hook.is_active:
        return _fail(session, req, ticket, "the brand's freeze webhook was removed or disabled")
    body = _payload(session, req, ticket)
    stamp = str(int((now or utcnow()).timestamp()))
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(hook.secret, stamp, body),
        TIMESTAMP_HEADER: stamp,
        "X-Kefu-Event": "account.freeze_requested",
    }
    req.attempts += 1
    try:
        response = net.post(hook.url, content=body, headers=headers, timeout=10.0)
    except Exception as exc:  # blocked destination, DNS, connect, timeout: retried until the job's last attempt
        req.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if req.attempts >= max_attempts():  # the card and a notification tell the agent to freeze by hand
            return _fail(session, req, ticket, req.last_error)
        session.flush()
        raise RetryLater(req.last_error) from exc
    req.response_status = response.status_code
    if 200 <= response.status_code < 300:
        req.status, req.delivered_at, req.last_error = "delivered", now or utcnow(), ""
        done = steps_of(session, ticket)
        # The case may have been recategorised meanwhile, or the freeze confirmed by hand: nothing more to record.
        if is_incident(ticket) and "intervene" in done and "freeze" not in done:
            record_step(
                session,
                ticket,
                None,
                RecordStep(step="freeze", note=f"freeze webhook answered {response.status_code}"),
                source="webhook",
            )
        session.flush()
        return req.status
    req.last_error = f"HTTP {response.status_code}"
    if (response.status_code >= 500 or response.status_code in (408, 429)) and req.attempts < max_attempts():
        session.flush()
        raise RetryLater(req.last_error)
    return _fail(session, req, ticket, req.last_error)


# ---------------------------------------------------------------- punctuality report


class StepPunctuality(BaseModel):
    """One step over a period: how many cases had its clock, met on time, breached (late or overdue), still open."""

    step: str
    total: int = 0
    met: int = 0
    breached: int = 0
    open: int = 0
    on_time_rate: float | None = None


class Punctuality(BaseModel):
    """The ladder's on-time rate per step for cases opened in [start, end] (dates in the brand's timezone)."""

    brand_id: int
    timezone: str
    start: date
    end: date
    steps: list[StepPunctuality]


def punctuality(
    session: Session, brand_id: int, actor: Principal | None, *, start: date, end: date, now: datetime | None = None
) -> Punctuality:
    """On-time figures per step from the stored SLA milestone targets of the brand's cases."""
    brand = get_brand(session, brand_id, actor)
    if end < start:
        raise InvalidInput.said("err_account_security_end_before_start")
    if (end - start).days > 366:
        raise InvalidInput.said("err_account_security_period_too_long")
    zone = ZoneInfo(brand.timezone or "Asia/Taipei")
    lo = datetime.combine(start, time(), zone)
    hi = datetime.combine(end + timedelta(days=1), time(), zone)
    now = now or utcnow()
    by_step = {s: StepPunctuality(step=s) for s in STEPS}
    rows = session.execute(
        select(TicketSlaTarget.key, TicketSlaTarget.due_at, TicketSlaTarget.met_at).where(
            TicketSlaTarget.brand_id == brand_id,
            TicketSlaTarget.kind == "milestone",
            TicketSlaTarget.key.in_(STEPS),
            TicketSlaTarget.started_at >= lo,
            TicketSlaTarget.started_at < hi,
        )
    )
    for key, due, met in rows:
        s = by_step[key]
        s.total += 1
        if due is None:
            s.open += 1
        elif met is not None:
            if met <= due:
                s.met += 1
            else:
                s.breached += 1
        elif now > due:
            s.breached += 1
        else:
            s.open += 1
    for s in by_step.values():
        decided = s.met + s.breached
        s.on_time_rate = round(s.met / decided, 4) if decided else None
    return Punctuality(brand_id=brand_id, timezone=zone.key, start=start, end=end, steps=list(by_step.values()))
