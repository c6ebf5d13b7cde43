"""API channel adapter: inbox-secret authenticated JSON in, HMAC-signed callback out."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels.base import ChannelAdapter, SendContext, SendResult, register
from kefu.channels.feedback import QUICK_REPLY_PREFIX, actions, customer_locale, parse_vote, vote_data, vote_labels
from kefu.channels.types import (
    DESTINATION_REFUSED,
    PROVIDER_UNAVAILABLE,
    EventType,
    InboundMessage,
    InvalidPayloadError,
    PermanentSendError,
    RetryableSendError,
    http_failure_code,
)
from kefu.core.retry import retry_after_seconds
from kefu.core.textrules import strict_json
from kefu.privacy import net

if TYPE_CHECKING:
    from kefu.brands.models import Inbox
    from kefu.conversations.models import Conversation, Message


def secret_ok(config: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    """`Authorization: Bearer <inbox secret>` (or X-Kefu-Inbox-Secret), compared in constant time."""
    secret = str(config.get("secret") or "")
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-kefu-inbox-secret", "")
    return bool(secret) and hmac.compare_digest(secret.encode(), given.encode())


def sign(secret: str, body: bytes) -> str:
    """X-Kefu-Signature of a callback body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def structured_quick_replies(message: Message, locale: str) -> list[dict[str, Any]]:
    """Quick replies for the callback JSON: `message` items send `text` back as the user's message; `postback`
    items send `{"postback": payload}` back (the helpful / not helpful vote). The numbered body stays the fallback."""
    acts = actions(message)
    out: list[dict[str, Any]] = [{"type": "message", "label": q.label, "text": q.text} for q in acts.quick_replies]
    if acts.ask_feedback:
        yes, no, _ = vote_labels(locale)
        out += [
            {"type": "postback", "label": yes, "payload": vote_data(message.id, True)},
            {"type": "postback", "label": no, "payload": vote_data(message.id, False)},
        ]
    return out


@register
class ApiChannelAdapter(ChannelAdapter):
    """Custom integrations (apps, games, IVR…)."""

    kind = "api"
    identity_kind = "api"

    def verify(self, inbox: Inbox, body: bytes, headers: Mapping[str, str]) -> bool:
        """The inbox secret."""
        return secret_ok(inbox.config or {}, headers)

    def parse(self, inbox: Inbox, body: bytes) -> list[InboundMessage]:
        """`{"id","user":{"id","name"},"text","thread_id"?}` or `{"messages":[…]}`."""
        try:
            data = strict_json(body)
        except ValueError as exc:
            raise InvalidPayloadError("body is not JSON") from exc
        items = data.get("messages") if isinstance(data, dict) and "messages" in data else [data]
        out: list[InboundMessage] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not item.get("id") or not isinstance(item.get("user"), dict):
                raise InvalidPayloadError("each message needs an id and a user object")
            user = item["user"]
            if not user.get("id"):
                raise InvalidPayloadError("user.id is required")
            thread = item.get("thread_id")
            # Refused here (4xx to the integration) rather than accepted and then lost when the row cannot hold it.
            if len(str(item["id"])) > 200 or len(str(user["id"])) > 200 or len(str(thread or "")) > 200:
                raise InvalidPayloadError("id, user.id and thread_id are at most 200 characters")
            text, event = str(item.get("text") or ""), EventType.MESSAGE
            postback = str(item.get("postback") or "").strip()
            if postback:
                # A tapped quick reply from our callback: a vote, or an option whose full text rides in the payload.
                if parse_vote(postback) is not None:
                    text, event = postback, EventType.FEEDBACK
                elif postback.startswith(QUICK_REPLY_PREFIX) and postback[len(QUICK_REPLY_PREFIX) :].strip():
                    text = postback[len(QUICK_REPLY_PREFIX) :].strip()
                else:
                    raise InvalidPayloadError("postback is not one of kefu's quick-reply payloads")
            out.append(
                InboundMessage(
                    channel="api",
                    provider_message_id=str(item["id"]),
                    sender_external_id=str(user["id"]),
                    sender_name=str(user["name"])[:200] if user.get("name") else None,
                    text=text,
                    thread_keys=(f"thread:{thread}",) if thread else (f"user:{user['id']}",),
                    event_type=event,
                    raw=item,
                )
            )
        return out

    def find_conversation(self, session: Session, inbox: Inbox, msg: InboundMessage) -> Conversation | None:
        """The open conversation of the thread (or the user's latest one, for a vote sent without thread_id)."""
        conv = super().find_conversation(session, inbox, msg)
        if conv is None and msg.event_type == EventType.FEEDBACK:
            from kefu.conversations.models import Conversation as Conv

            conv = session.scalar(
                select(Conv)
                .where(Conv.inbox_id == inbox.id, Conv.external_thread_id == f"user:{msg.sender_external_id}")
                .order_by(Conv.id.desc())
                .limit(1)
            )
        return conv

    def prepare(self, session: Session, inbox: Inbox, conv: Conversation, message: Message) -> dict[str, Any]:
        """Numbered text (the fallback body) plus structured quick replies and signed file links."""
        payload = super().prepare(session, inbox, conv, message)
        replies = structured_quick_replies(message, customer_locale(session, conv))
        if replies:
            payload["quick_replies"] = replies
        payload["message_id"] = message.id
        return payload

    def send(self, ctx: SendContext) -> SendResult:
        """POST the reply to config.callback_url, signed, with a stable Idempotency-Key."""
        url = str(ctx.config.get("callback_url") or "")
        if not url:
            raise PermanentSendError("API inbox has no callback_url", code="inbox_incomplete")
        data: dict[str, Any] = {"user_id": ctx.recipient, "text": ctx.payload.get("text"), "id": ctx.idempotency_key}
        if ctx.payload.get("message_id") is not None:
            data["message_id"] = ctx.payload["message_id"]  # kefu's id of the message (votes name it too)
        if ctx.payload.get("quick_replies"):
            data["quick_replies"] = list(ctx.payload["quick_replies"])
        if ctx.payload.get("attachments"):
            data["attachments"] = [
                {k: f.get(k) for k in ("filename", "content_type", "size", "url")} for f in ctx.payload["attachments"]
            ]
        body = json.dumps(data, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": ctx.idempotency_key,
            "X-Kefu-Signature": sign(str(ctx.config.get("secret") or ""), body),
        }
        try:
            response = net.post(url, content=body, headers=headers, timeout=float(ctx.config.get("timeout", 10)))
        except net.BlockedDestination as exc:
            raise PermanentSendError(f"callback_url refused: {exc}", code=DESTINATION_REFUSED) from exc
        except httpx.HTTPError as exc:
            raise RetryableSendError(f"callback failed: {exc!r}", code=PROVIDER_UNAVAILABLE) from exc
        status = response.status_code
        if status >= 400:
            # The integrator checks our signature, not a token we hold: its 401/403 stays uncoded (its own words).
            cls = RetryableSendError if status >= 500 or status == 429 else PermanentSendError
            wait = retry_after_seconds(response.headers.get("retry-after"))
            code = http_failure_code(status, auth=False)
            raise cls(f"callback answered {status}", status_code=status, code=code, retry_after=wait)
        return SendResult(ctx.idempotency_key)
