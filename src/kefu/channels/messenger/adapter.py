"""Messenger adapter: signed webhooks, receipts as delivery status, Send API replies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kefu.channels.base import ChannelAdapter, DeliveryUpdate, SendContext, SendResult, register
from kefu.channels.client import download
from kefu.channels.feedback import (
    MAX_QUICK_REPLIES,
    QUICK_REPLY_PREFIX,
    actions,
    customer_locale,
    parse_vote,
    vote_data,
    vote_labels,
)
from kefu.channels.media import outbound
from kefu.channels.media import read as read_file
from kefu.channels.messenger.protocol import (
    DEFAULT_API_BASE,
    DEFAULT_API_VERSION,
    ECHO_METADATA_PREFIX,
    MAX_TEXT_LENGTH,
    MessengerClient,
    parse_webhook,
    verify_signature,
)
from kefu.channels.types import Attachment, ChannelSendError, EventType, InboundMessage, PermanentSendError
from kefu.knowledge.render import render_message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kefu.brands.models import Inbox
    from kefu.conversations.models import Conversation, Message


def client_for(config: Mapping[str, Any]) -> MessengerClient:
    """A Send API client for an inbox config (api_base points at a test server or a proxy)."""
    token = str(config.get("page_access_token") or "")
    if not token:
        raise PermanentSendError("Messenger inbox has no page_access_token", code="inbox_incomplete")
    return MessengerClient(
        token,
        str(config.get("api_base") or DEFAULT_API_BASE),
        str(config.get("api_version") or DEFAULT_API_VERSION),
        app_secret=str(config.get("app_secret") or "") or None,
        timeout=float(config.get("timeout", 10)),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def quick_replies(message: Message, locale: str) -> list[dict[str, Any]]:
    """Messenger quick replies: options carry their text in the payload, votes a vote payload."""
    acts = actions(message)
    out: list[dict[str, Any]] = [
        {"content_type": "text", "title": q.label[:20], "payload": (QUICK_REPLY_PREFIX + q.text)[:1000]}
        for q in acts.quick_replies
    ]
    if acts.ask_feedback:
        yes, no, _ = vote_labels(locale)
        out += [
            {"content_type": "text", "title": yes[:20], "payload": vote_data(message.id, True)},
            {"content_type": "text", "title": no[:20], "payload": vote_data(message.id, False)},
        ]
    return out[:MAX_QUICK_REPLIES]


@register
class MessengerAdapter(ChannelAdapter):
    """Facebook Page inbox."""

    kind = "messenger"
    identity_kind = "messenger"

    def verify(self, inbox: Inbox, body: bytes, headers: Mapping[str, str]) -> bool:
        """X-Hub-Signature-256 over the raw body with the app secret."""
        secret = str((inbox.config or {}).get("app_secret") or "")
        return verify_signature(secret, body, headers.get("x-hub-signature-256"))

    def parse(self, inbox: Inbox, body: bytes) -> list[InboundMessage]:
        """Messaging events (echoes dropped; deduped later by mid); our quick replies and vote buttons decoded."""
        out = []
        for msg in parse_webhook(body):
            message = _dict(msg.raw.get("message"))
            payload = str(_dict(message.get("quick_reply")).get("payload") or "")
            payload = payload or str(_dict(msg.raw.get("postback")).get("payload") or "")
            if parse_vote(payload) is not None:
                msg = replace(msg, event_type=EventType.FEEDBACK, text=payload)
            elif payload.startswith(QUICK_REPLY_PREFIX) and payload[len(QUICK_REPLY_PREFIX) :].strip():
                # The button title may be cut to 20 characters; the option's full text is in the payload.
                msg = replace(msg, text=payload[len(QUICK_REPLY_PREFIX) :])
            out.append(msg)
        return out

    def thread_key(self, msg: InboundMessage) -> str:
        """One conversation per PSID."""
        return f"psid:{msg.sender_external_id}"

    def delivery_update(self, msg: InboundMessage) -> DeliveryUpdate | None:
        """`delivery` and `read` events update the status of what we sent; our echoes confirm a send."""
        if msg.event_type == "echo":
            message = msg.raw.get("message") or {}
            key = str(message.get("metadata") or "").removeprefix(ECHO_METADATA_PREFIX)
            return DeliveryUpdate("sent", msg.sender_external_id, (str(message.get("mid") or ""),), None, key)
        if msg.event_type not in (EventType.DELIVERY, EventType.READ):
            return None
        detail = msg.raw.get(str(msg.event_type)) or {}
        mids = tuple(str(m) for m in detail.get("mids", []) or [])
        status = "delivered" if msg.event_type == EventType.DELIVERY else "read"
        return DeliveryUpdate(status, msg.sender_external_id, mids, None if mids else msg.sent_at)

    def fetch_attachment(self, config: Mapping[str, Any], attachment: Attachment) -> bytes | None:
        """Attachments are signed CDN URLs."""
        return download(attachment.url) if attachment.url else None

    def prepare(self, session: Session, inbox: Inbox, conv: Conversation, message: Message) -> dict[str, Any]:
        """Plain text (rich answers written out) plus quick replies: the bot's options and the vote."""
        payload: dict[str, Any] = {"text": render_message(session, message, "messenger").text}
        files = outbound(session, message)
        if files:
            payload["attachments"] = files
        replies = quick_replies(message, customer_locale(session, conv))
        if replies:
            payload["quick_replies"] = replies
        return payload

    def resend_safe(self, payload: Mapping[str, Any]) -> bool:
        """The Send API has no idempotency key: a send whose outcome was lost becomes `unknown`, never a duplicate
        (its echo, carrying our key as metadata, then marks it sent)."""
        return False

    def send(self, ctx: SendContext) -> SendResult:
        """Send API text message(s); quick replies ride on the last one."""
        text = str(ctx.payload.get("text") or "")
        files = list(ctx.payload.get("attachments") or [])
        if not text and not files:
            text = " "
        chunks = [text[i : i + MAX_TEXT_LENGTH] for i in range(0, len(text), MAX_TEXT_LENGTH)]
        blobs = []
        for item in files:  # read before the first send: a lost file fails the row before anything went out
            try:
                blobs.append((item, read_file(item)))
            except OSError as exc:
                raise PermanentSendError(
                    f"attachment {item.get('filename')!r} is no longer stored", code="attachment_gone"
                ) from exc
        messaging_type = str(ctx.payload.get("messaging_type") or "RESPONSE")
        last = len(chunks) + len(blobs)
        # Parts a failed earlier attempt delivered are not sent again (text, then each file: one request each).
        done = int(ctx.payload.get("parts_sent") or 0)
        mids: list[str] = [str(m) for m in ctx.payload.get("part_mids") or []]
        # The metadata comes back on the echo webhook: it settles this row if our record of the send is lost.
        metadata = f"{ECHO_METADATA_PREFIX}{ctx.idempotency_key}"
        parts: list[tuple[dict[str, Any], bytes | None]] = [({"text": c}, None) for c in chunks]
        parts += [(item, data) for item, data in blobs]
        with client_for(ctx.config) as client:
            for n, (part, data) in enumerate(parts, start=1):
                if n <= done:
                    continue
                extra: dict[str, Any] = {"metadata": metadata}
                if n == last and ctx.payload.get("quick_replies"):
                    extra["quick_replies"] = list(ctx.payload["quick_replies"])
                try:
                    if data is None:
                        result = client.send_message(ctx.recipient, {**part, **extra}, messaging_type)
                    else:
                        result = client.send_attachment(
                            ctx.recipient,
                            filename=str(part.get("filename") or "attachment"),
                            content_type=str(part.get("content_type") or "application/octet-stream"),
                            data=data,
                            messaging_type=messaging_type,
                            extra=extra,
                        )
                except ChannelSendError as exc:
                    if n > 1:
                        exc.payload_update = {"parts_sent": n - 1, "part_mids": mids}
                    raise
                if result.message_id:
                    mids.append(result.message_id)
        return SendResult(mids[0] if mids else None, {"mids": mids})
