"""Telephony events from a PBX / cloud-telephony provider: signed, replay-proof, idempotent per call and event.

A phone inbox's config holds the shared ``secret`` (and optionally ``extensions``: PBX extension → agent id,
``replay_window_seconds``, default 300). The PBX POSTs one JSON event per request to
``/api/v1/channels/phone/{inbox_id}/events`` with ``X-Kefu-Timestamp: <unix seconds>`` and
``X-Kefu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``. A timestamp outside the window is
refused (a captured request cannot be replayed later); within the window the same event of the same call is stored
once (``inbound_events`` unique per inbox and ``call:<call_id>:<event>``), so a retry or replay changes nothing.

* ``ringing`` / ``answered``: the caller is found (or created) by number and a ``call.ringing`` / ``call.answered``
  event pops the caller's timeline to the agent at the extension (topic ``agent:<id>``) and to the brand.
* ``ended``: the call is logged on the caller's phone conversation (duration, agent, recording link) and the case
  opens or continues per the inbox's case policy.
* ``missed`` (or ``ended`` without ``answered``): the call is logged as missed, the case opens, and a call-back is
  booked in the first free call-back slot so it lands in the agents' queue (``kefu.callbacks``).

Recording URLs are stored as links for the agent (never fetched here), only when they are http(s).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.auth.models import Agent
from kefu.brands.models import Brand, Inbox
from kefu.brands.texts import brand_locale, brand_text
from kefu.channels.models import InboundEvent
from kefu.conversations.commands import CreateConversation
from kefu.conversations.models import Conversation, Message
from kefu.conversations.service import add_message, create_conversation
from kefu.core.catalog import gettext
from kefu.core.commands import build
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput, NotFound, ProblemError, Unauthorized
from kefu.core.events import publish
from kefu.core.textrules import strict_json
from kefu.customers.service import find_or_create_by_identity
from kefu.tickets.intake import ensure_case

DEFAULT_REPLAY_WINDOW = 300
EVENTS = ("ringing", "answered", "ended", "missed")


class CallEvent(BaseModel):
    """One PBX event."""

    call_id: str = Field(min_length=1, max_length=200)
    event: Literal["ringing", "answered", "ended", "missed"]
    caller: str = Field(min_length=3, max_length=64)
    caller_name: str | None = Field(default=None, max_length=200)
    direction: Literal["inbound", "outbound"] = "inbound"
    extension: str | None = Field(default=None, max_length=32)
    duration_seconds: int | None = Field(default=None, ge=0, le=86_400)
    recording_url: str | None = Field(default=None, max_length=2000)
    occurred_at: datetime | None = None


@dataclass
class CallResult:
    """What one event did."""

    duplicate: bool
    event_id: int
    customer_id: int | None = None
    conversation_id: int | None = None
    ticket_id: int | None = None
    callback_id: int | None = None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Kefu-Signature of a telephony event (also what a PBX integration computes)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(config: Mapping[str, Any], body: bytes, headers: Mapping[str, str], now: float | None = None) -> None:
    """Refuse a wrong signature or a timestamp outside the replay window (401, same answer for both)."""
    secret = str(config.get("secret") or "")
    stamp = headers.get("x-kefu-timestamp", "")
    given = headers.get("x-kefu-signature", "")
    if not secret or not stamp.isdigit() or not hmac.compare_digest(sign(secret, stamp, body), given):
        raise Unauthorized("Invalid telephony signature.")
    window = int(config.get("replay_window_seconds") or DEFAULT_REPLAY_WINDOW)
    if abs((time.time() if now is None else now) - int(stamp)) > window:
        raise Unauthorized("Telephony event timestamp outside the replay window.")


def phone_inbox(session: Session, inbox_id: int) -> Inbox:
    """An active phone inbox (404 otherwise: probing reveals nothing)."""
    inbox = session.get(Inbox, inbox_id)
    if inbox is None or inbox.kind != "phone" or not inbox.is_active:
        raise NotFound(f"Inbox {inbox_id} not found.")
    return inbox


def parse(body: bytes) -> CallEvent:
    """A verified body as a CallEvent (422 problem for anything else)."""
    try:
        event = CallEvent.model_validate(strict_json(body))
    except (ValueError, ValidationError) as exc:
        raise InvalidInput(f"Not a telephony event: {str(exc)[:300]}") from exc
    if event.recording_url and urlsplit(event.recording_url).scheme not in ("http", "https"):
        raise InvalidInput("recording_url must be an http(s) URL.")
    return event


def receive(
    session: Session, inbox_id: int, body: bytes, headers: Mapping[str, str], now: float | None = None
) -> CallResult:
    """Verify, dedupe and apply one telephony event in the request's transaction."""
    inbox = phone_inbox(session, inbox_id)
    verify(inbox.config or {}, body, headers, now)
    event = parse(body)
    provider_id = f"call:{event.call_id}:{event.event}"[:500]
    existing = _stored(session, inbox.id, provider_id)
    if existing is not None:
        return CallResult(True, existing.id, conversation_id=existing.conversation_id)
    row = InboundEvent(
        brand_id=inbox.brand_id,
        inbox_id=inbox.id,
        channel="phone",
        provider_id=provider_id,
        payload=event.model_dump(mode="json"),
        status="processed",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # A concurrent delivery of the same event won; theirs is the one that counts.
        stored = _stored(session, inbox.id, provider_id)
        return CallResult(True, stored.id if stored else 0)
    result = _apply(session, inbox, event, row)
    row.processed_at, row.attempts = utcnow(), 1
    row.conversation_id = result.conversation_id
    session.flush()
    return result


def _stored(session: Session, inbox_id: int, provider_id: str) -> InboundEvent | None:
    return session.scalar(
        select(InboundEvent).where(InboundEvent.inbox_id == inbox_id, InboundEvent.provider_id == provider_id)
    )


def _agent_for(session: Session, inbox: Inbox, extension: str | None) -> int | None:
    """The agent at a PBX extension (inbox config ``extensions``), if they work for this brand."""
    if not extension:
        return None
    mapped = extension_map((inbox.config or {}).get("extensions")).get(extension)
    if mapped is None:
        return None
    agent = session.get(Agent, mapped)
    if agent is None or not agent.is_active:
        return None
    return agent.id if agent.role == "admin" or inbox.brand_id in _brands(session, agent.id) else None


def _brands(session: Session, agent_id: int) -> set[int]:
    from kefu.auth.models import AgentBrand

    return set(session.scalars(select(AgentBrand.brand_id).where(AgentBrand.agent_id == agent_id)))


def extension_map(value: object) -> dict[str, int]:
    """Inbox setting ``extensions``: "201=12, 202=15" (as typed in admin) or a JSON object → {extension: agent id}."""
    pairs: list[tuple[object, object]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str):
        for part in value.replace("\n", ",").split(","):
            ext, sep, agent = part.partition("=")
            if sep:
                pairs.append((ext, agent))
    out: dict[str, int] = {}
    for key, who in pairs:
        try:
            out[str(key).strip()] = int(str(who).strip())
        except ValueError:
            continue
    return out


def _conversation(session: Session, inbox: Inbox, customer_id: int, caller: str) -> Conversation:
    """The caller's open conversation on this hotline, else a new one (calls from one number share a thread)."""
    thread = f"caller:{caller}"[:500]
    conv = session.scalar(
        select(Conversation)
        .where(
            Conversation.inbox_id == inbox.id,
            Conversation.external_thread_id == thread,
            Conversation.status != "closed",
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conv is not None:
        return conv
    return create_conversation(
        session,
        build(
            CreateConversation,
            {
                "brand_id": inbox.brand_id,
                "customer_id": customer_id,
                "channel": "phone",
                "inbox_id": inbox.id,
                "subject": brand_text(session, inbox.brand_id, "subj_phone"),
                "status": "open",
                "external_thread_id": thread,
            },
        ),
        actor=None,
    )


def _apply(session: Session, inbox: Inbox, event: CallEvent, row: InboundEvent) -> CallResult:
    caller = event.caller.strip()
    customer, _ = find_or_create_by_identity(session, inbox.brand_id, "phone", caller, event.caller_name)
    agent_id = _agent_for(session, inbox, event.extension)
    result = CallResult(False, row.id, customer_id=customer.id)
    # Every event row is tied to the caller's conversation, so erasing the customer erases the raw events too.
    conv = _conversation(session, inbox, customer.id, caller)
    result.conversation_id = conv.id
    if event.event in ("ringing", "answered"):
        data = {
            "call_id": event.call_id,
            "event": event.event,
            "customer_id": customer.id,
            "conversation_id": conv.id,
            "caller": caller,
            "inbox_id": inbox.id,
            "agent_id": agent_id,
        }
        topics = (f"brand:{inbox.brand_id}",) + ((f"agent:{agent_id}",) if agent_id else ())
        publish(session, f"call.{event.event}", data, topics)
        return result
    answered = _stored(session, inbox.id, f"call:{event.call_id}:answered")
    missed = event.event == "missed" or (answered is None and not event.duration_seconds)
    if agent_id is None and answered is not None:
        agent_id = _agent_for(session, inbox, (answered.payload or {}).get("extension"))
    message = _log(session, conv, event, agent_id, missed)
    ticket = ensure_case(session, conv, message)
    result.ticket_id = ticket.id if ticket is not None else None
    if missed and ticket is not None and event.direction == "inbound":
        result.callback_id = _call_back(session, inbox, ticket.id, caller, event)
    publish(
        session,
        "call.logged",
        {
            "call_id": event.call_id,
            "conversation_id": conv.id,
            "customer_id": customer.id,
            "message_id": message.id,
            "missed": missed,
        },
        # The agent whose pop-up shows this call sees it end and be logged.
        (f"brand:{inbox.brand_id}", f"conversation:{conv.id}") + ((f"agent:{agent_id}",) if agent_id else ()),
    )
    return result


def _log(session: Session, conv: Conversation, event: CallEvent, agent_id: int | None, missed: bool) -> Message:
    """The call in the timeline: a missed call is a system line, an answered one is the agent's call."""
    seconds = event.duration_seconds or 0
    minutes, rest = divmod(seconds, 60)
    locale = brand_locale(session, conv.brand_id)
    way = "inbound" if event.direction == "inbound" else "outbound"
    summary = (
        gettext(f"call_missed_{way}", locale)
        if missed
        else gettext("call_summary", locale).format(
            direction=gettext(f"call_{way}", locale),
            duration=f"{minutes}:{rest:02d}",
            outcome=gettext("call_by_pbx", locale),
        )
    )
    call: dict[str, Any] = {
        "direction": event.direction,
        "duration_seconds": seconds,
        "outcome": "no_answer" if missed else "answered",
        "call_id": event.call_id,
        "extension": event.extension,
        "source": "pbx",
    }
    if event.recording_url:
        call["recording_url"] = event.recording_url
    at = event.occurred_at.astimezone(UTC) if event.occurred_at and event.occurred_at.tzinfo else None
    message, _ = add_message(
        session,
        conv,
        sender_type="system" if missed or agent_id is None else "agent",
        agent_id=None if missed else agent_id,
        body=summary + (f"\n錄音 recording: {event.recording_url}" if event.recording_url else ""),
        content_type="call",
        meta={"call": call},
        provider_message_id=f"call:{event.call_id}"[:500],
        created_at=at,
    )
    return message


def _call_back(session: Session, inbox: Inbox, ticket_id: int, caller: str, event: CallEvent) -> int | None:
    """Book the first free call-back slot for a missed call (none free or too many open: the case still shows it)."""
    from kefu.callbacks import service as callbacks

    brand = session.get(Brand, inbox.brand_id)
    assert brand is not None
    offered = callbacks.slots(session, brand)
    if not offered:
        return None
    try:
        with session.begin_nested():
            cb = callbacks.book(
                session,
                brand.id,
                scheduled_at=offered[0].start,
                phone=caller,
                source="phone",
                actor=None,
                name=event.caller_name or "",
                topic="未接來電回撥 / Missed call",
                ticket_id=ticket_id,
                requester=callbacks.OWNER,  # the PBX's caller id: the number itself asked, strangers never block it
            )
    except ProblemError:
        return None
    return cb.id
