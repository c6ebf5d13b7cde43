"""SMS adapter: sends proactive notices through an SMS gateway's HTTP API (no inbound; customers call or reply
on another channel).

The gateway is configured on the brand's phone inbox (`sms_url`, `sms_token`, `sms_sender`): kefu POSTs JSON
``{"to", "text", "sender", "id"}`` with ``Authorization: Bearer <sms_token>`` and ``Idempotency-Key: <id>``; most
gateways (or a small bridge in front of one) answer 2xx with ``{"id": ...}``. 429/5xx are retried with backoff by
the outbox; other 4xx are permanent (bad number, refused). Re-sending after an unknown outcome is not safe unless
the gateway honours the Idempotency-Key, which the inbox states with `sms_idempotent`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from kefu.channels.base import ChannelAdapter, SendContext, SendResult, register
from kefu.channels.types import (
    DESTINATION_REFUSED,
    PROVIDER_UNAVAILABLE,
    TOKEN_INVALID,
    PermanentSendError,
    RetryableSendError,
    http_failure_code,
)
from kefu.core.retry import retry_after_seconds
from kefu.privacy import net


@register
class SmsAdapter(ChannelAdapter):
    """Outbound-only SMS (簡訊通知)."""

    kind = "sms"
    identity_kind = "phone"
    can_send = True

    def resend_safe(self, payload: Mapping[str, Any]) -> bool:
        """Only when the gateway deduplicates by Idempotency-Key (the payload records the inbox's promise)."""
        return bool(payload.get("gateway_idempotent"))

    def send(self, ctx: SendContext) -> SendResult:
        """POST the text to the gateway."""
        url = str(ctx.config.get("sms_url") or "")
        if not url:
            raise PermanentSendError("phone inbox has no sms_url (SMS gateway)", code="inbox_incomplete")
        body = json.dumps(
            {
                "to": ctx.recipient,
                "text": str(ctx.payload.get("text") or ""),
                "sender": str(ctx.config.get("sms_sender") or ""),
                "id": ctx.idempotency_key,
            },
            ensure_ascii=False,
        ).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": ctx.idempotency_key}
        if ctx.config.get("sms_token"):
            headers["Authorization"] = f"Bearer {ctx.config['sms_token']}"
        try:
            response = net.post(url, content=body, headers=headers, timeout=float(ctx.config.get("timeout", 10)))
        except net.BlockedDestination as exc:
            raise PermanentSendError(f"sms_url refused: {exc}", code=DESTINATION_REFUSED) from exc
        except httpx.HTTPError as exc:
            raise RetryableSendError(f"SMS gateway failed: {exc!r}", code=PROVIDER_UNAVAILABLE) from exc
        status = response.status_code
        if status >= 400:
            # The gateway's bearer token (sms_token) refused: 401, or 403 as many gateways answer it.
            code = TOKEN_INVALID if status == 403 else http_failure_code(status)
            cls = RetryableSendError if status >= 500 or status == 429 else PermanentSendError
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise cls(f"SMS gateway answered {status}", status_code=status, code=code, retry_after=wait)
        try:
            provider_id = str(response.json().get("id") or ctx.idempotency_key)
        except (ValueError, AttributeError):
            provider_id = ctx.idempotency_key
        return SendResult(provider_id, {"gateway": "sms"})
