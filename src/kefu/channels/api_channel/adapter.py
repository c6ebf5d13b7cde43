"""API channel adapter: inbox-secret authenticated JSON in, HMAC-signed callback out."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from kefu.channels.base import ChannelAdapter, SendContext, SendResult, register
from kefu.channels.types import InboundMessage, InvalidPayloadError, PermanentSendError, RetryableSendError
from kefu.privacy import net

if TYPE_CHECKING:
    from kefu.brands.models import Inbox


def secret_ok(config: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    """`Authorization: Bearer <inbox secret>` (or X-Kefu-Inbox-Secret), compared in constant time."""
    secret = str(config.get("secret") or "")
    auth = headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else headers.get("x-kefu-inbox-secret", "")
    return bool(secret) and hmac.compare_digest(secret.encode(), given.encode())


def sign(secret: str, body: bytes) -> str:
    """X-Kefu-Signature of a callback body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
            data = json.loads(body)
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
            out.append(
                InboundMessage(
                    channel="api",
                    provider_message_id=str(item["id"]),
                    sender_external_id=str(user["id"]),
                    sender_name=str(user["name"]) if user.get("name") else None,
                    text=str(item.get("text") or ""),
                    thread_keys=(f"thread:{thread}",) if thread else (f"user:{user['id']}",),
                    raw=item,
                )
            )
        return out

    def send(self, ctx: SendContext) -> SendResult:
        """POST the reply to config.callback_url, signed, with a stable Idempotency-Key."""
        url = str(ctx.config.get("callback_url") or "")
        if not url:
            raise PermanentSendError("API inbox has no callback_url")
        body = json.dumps(
            {"user_id": ctx.recipient, "text": ctx.payload.get("text"), "id": ctx.idempotency_key},
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": ctx.idempotency_key,
            "X-Kefu-Signature": sign(str(ctx.config.get("secret") or ""), body),
        }
        try:
            response = net.post(url, content=body, headers=headers, timeout=float(ctx.config.get("timeout", 10)))
        except net.BlockedDestination as exc:
            raise PermanentSendError(f"callback_url refused: {exc}") from exc
        except httpx.HTTPError as exc:
            raise RetryableSendError(f"callback failed: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableSendError(f"callback answered {response.status_code}", status_code=response.status_code)
        if response.status_code >= 400:
            raise PermanentSendError(f"callback answered {response.status_code}", status_code=response.status_code)
        return SendResult(ctx.idempotency_key)
