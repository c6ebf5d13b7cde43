"""A real test message through an inbox's adapter (admin "send test message"): email over the inbox's SMTP relay,
LINE/Messenger push to a user id, SMS through the phone inbox's gateway, the API channel's signed callback.

The send goes straight through the adapter (not the outbox), so the admin sees the provider's answer at once; the
same SSRF-guarded clients and error classes as real replies are used, so a passing test means replies will work.
"""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.channels.base import SendContext, get_adapter
from kefu.channels.types import ChannelSendError
from kefu.core.errors import InvalidInput

if TYPE_CHECKING:
    from kefu.auth.permissions import Principal
    from kefu.brands.models import Inbox

# Inbox kind -> the adapter that sends for it (a phone inbox sends SMS through its gateway).
TESTABLE: dict[str, str] = {"email": "email", "line": "line", "messenger": "messenger", "phone": "sms", "api": "api"}


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """What the provider said: ok with its message id, or the error it answered with."""

    ok: bool
    provider_message_id: str | None = None
    error: str | None = None
    retryable: bool = False
    status_code: int | None = None


def can_test(kind: str) -> bool:
    """True when the inbox kind can send a test message."""
    return kind in TESTABLE


def _payload(inbox: Inbox, text: str, subject: str) -> dict[str, Any]:
    if inbox.kind == "email":
        from kefu.channels.email.adapter import message_id_domain

        domain = message_id_domain(inbox.config or {})
        return {"text": text, "subject": subject, "message_id": email.utils.make_msgid("kefu-test", domain=domain)}
    if inbox.kind == "line":
        return {"text": text, "mode": "push"}
    if inbox.kind == "messenger":
        return {"text": text, "messaging_type": "RESPONSE"}
    return {"text": text}


def send_test(
    session: Session,
    inbox: Inbox,
    actor: Principal | None,
    to: str,
    *,
    text: str,
    subject: str,
    release: Callable[[], None] | None = None,
) -> TestOutcome:
    """Send `text` to `to` through the inbox's adapter now; the provider's refusal comes back as the outcome.

    `release` ends the caller's transaction before the provider is called (the request passes its commit)."""
    to = to.strip()
    if not can_test(inbox.kind):
        raise InvalidInput.said("err_channels_test_cannot", kind=inbox.kind).also(code="cannot")
    if not to:
        raise InvalidInput.said("err_channels_test_need_to").also(code="need_to")
    if not inbox.is_active:
        raise InvalidInput.said("err_channels_inbox_inactive").also(code="inactive")
    adapter = get_adapter(TESTABLE[inbox.kind])
    assert adapter is not None
    key = f"test-{uuid.uuid4().hex}"
    ctx = SendContext(inbox.id, dict(inbox.config or {}), to, _payload(inbox, text, subject), key, 1)
    inbox_id, brand_id, kind = inbox.id, inbox.brand_id, inbox.kind
    if release is not None:
        # A provider may take its whole timeout (SMTP: up to 3/4 of the outbox lease, 90 s): a request's write
        # transaction open meanwhile holds SQLite's one writer turn, and every other write waited, then got 503.
        release()
    try:
        result = adapter.send(ctx)
        outcome = TestOutcome(True, result.provider_message_id)
    except ChannelSendError as exc:
        outcome = TestOutcome(False, error=exc.message[:500], retryable=exc.retryable, status_code=exc.status_code)
    except (ValueError, OSError) as exc:  # e.g. a malformed address the client library refuses before sending
        outcome = TestOutcome(False, error=str(exc)[:500])
    # The recipient is personal data (and provider errors often quote it): the audit keeps only the outcome.
    record(
        session,
        actor,
        "inbox.test_message",
        target_type="inbox",
        target_id=inbox_id,
        brand_id=brand_id,
        details={"kind": kind, "ok": outcome.ok, "status": outcome.status_code},
    )
    return outcome
