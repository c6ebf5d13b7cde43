"""Messenger adapter: signed webhooks, receipts as delivery status, Send API replies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kefu.channels.base import ChannelAdapter, DeliveryUpdate, SendContext, SendResult, register
from kefu.channels.http import download
from kefu.channels.messenger.protocol import (
    DEFAULT_API_BASE,
    DEFAULT_API_VERSION,
    ECHO_METADATA_PREFIX,
    MAX_TEXT_LENGTH,
    MessengerClient,
    parse_webhook,
    verify_signature,
)
from kefu.channels.types import Attachment, EventType, InboundMessage, PermanentSendError

if TYPE_CHECKING:
    from kefu.brands.models import Inbox


def client_for(config: Mapping[str, Any]) -> MessengerClient:
    """A Send API client for an inbox config (api_base points at a test server or a proxy)."""
    token = str(config.get("page_access_token") or "")
    if not token:
        raise PermanentSendError("Messenger inbox has no page_access_token")
    return MessengerClient(
        token,
        str(config.get("api_base") or DEFAULT_API_BASE),
        str(config.get("api_version") or DEFAULT_API_VERSION),
        app_secret=str(config.get("app_secret") or "") or None,
        timeout=float(config.get("timeout", 10)),
    )


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
        """Messaging events (echoes dropped; deduped later by mid)."""
        return parse_webhook(body)

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

    def resend_safe(self, payload: Mapping[str, Any]) -> bool:
        """The Send API has no idempotency key: a send whose outcome was lost becomes `unknown`, never a duplicate
        (its echo, carrying our key as metadata, then marks it sent)."""
        return False

    def send(self, ctx: SendContext) -> SendResult:
        """Send API text message(s)."""
        text = str(ctx.payload.get("text") or "") or " "
        chunks = [text[i : i + MAX_TEXT_LENGTH] for i in range(0, len(text), MAX_TEXT_LENGTH)]
        mids: list[str] = []
        with client_for(ctx.config) as client:
            for chunk in chunks:
                # The metadata comes back on the echo webhook: it settles this row if our record of the send is lost.
                message = {"text": chunk, "metadata": f"{ECHO_METADATA_PREFIX}{ctx.idempotency_key}"}
                kind = str(ctx.payload.get("messaging_type") or "RESPONSE")
                result = client.send_message(ctx.recipient, message, kind)
                if result.message_id:
                    mids.append(result.message_id)
        return SendResult(mids[0] if mids else None, {"mids": mids})
