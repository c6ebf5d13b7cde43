"""LINE Messaging API protocol layer: webhook signature check, event parsing and a small sync client."""

# Pure and DB-free: the adapter registry decides what to persist and when to retry.

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from kefu.channels.client import BearerClient
from kefu.channels.types import (
    DESTINATION_REFUSED,
    PROVIDER_UNAVAILABLE,
    RECIPIENT_UNREACHABLE,
    Attachment,
    ChannelSendError,
    EventType,
    InboundMessage,
    InvalidPayloadError,
    PermanentSendError,
    RetryableSendError,
    http_failure_code,
)
from kefu.core.retry import retry_after_seconds
from kefu.core.textrules import strict_json
from kefu.privacy.net import BlockedDestination

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_DATA_API_BASE",
    "SIGNATURE_HEADER",
    "LineApiError",
    "LineClient",
    "LineMessage",
    "LinePermanentError",
    "LineProfile",
    "LineRetryableError",
    "LineSendResult",
    "is_redelivery",
    "parse_webhook",
    "text_message",
    "verify_signature",
]

CHANNEL = "line"
SIGNATURE_HEADER = "X-Line-Signature"
DEFAULT_API_BASE = "https://api.line.me"
DEFAULT_DATA_API_BASE = "https://api-data.line.me"
MAX_MESSAGES_PER_REQUEST = 5

# A message is either a full LINE message object or a plain string sent as a text message.
LineMessage = Mapping[str, Any] | str


# ---------------------------------------------------------------------------
# Webhook
# ---------------------------------------------------------------------------


def verify_signature(channel_secret: str, body: bytes, signature: str | None) -> bool:
    """Check ``X-Line-Signature``: base64(HMAC-SHA256(channel secret, raw body)), constant-time."""
    if not channel_secret or not signature:
        return False
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    expected = base64.b64encode(digest)
    try:
        provided = signature.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected, provided)


_MEDIA_DEFAULTS: dict[str, tuple[str, str]] = {
    "image": ("image/jpeg", ".jpg"),
    "video": ("video/mp4", ".mp4"),
    # LINE delivers voice messages as AAC in an MP4 (m4a) container.
    "audio": ("audio/mp4", ".m4a"),
}


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _media_attachment(message: dict[str, Any]) -> Attachment:
    message_id = str(message.get("id", ""))
    kind = str(message.get("type", ""))
    provider = _as_dict(message.get("contentProvider"))
    # Only "external" content has a public URL; LINE-hosted content must be fetched with get_content.
    url = provider.get("originalContentUrl") if provider.get("type") == "external" else None
    if kind == "file":
        filename = str(message.get("fileName") or f"{message_id}.bin")
        content_type = mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"
        size = message.get("fileSize")
        return Attachment(
            filename=filename,
            content_type=content_type,
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            provider_id=message_id,
        )
    content_type, extension = _MEDIA_DEFAULTS[kind]
    return Attachment(
        filename=f"{message_id}{extension}",
        content_type=content_type,
        size=None,
        url=url if isinstance(url, str) else None,
        provider_id=message_id,
    )


def _location_text(message: dict[str, Any]) -> str:
    parts = [str(message[k]) for k in ("title", "address") if message.get(k)]
    lat, lng = message.get("latitude"), message.get("longitude")
    if lat is not None and lng is not None:
        parts.append(f"({lat}, {lng})")
    return " ".join(parts)


def _source_key(source: dict[str, Any]) -> tuple[str, str | None]:
    kind = str(source.get("type", "user"))
    ids = {"user": source.get("userId"), "group": source.get("groupId"), "room": source.get("roomId")}
    chat_id = ids.get(kind) or source.get("userId")
    return kind, str(chat_id) if chat_id else None


def _event_to_inbound(event: dict[str, Any], destination: str | None) -> InboundMessage:
    event_kind = str(event.get("type", "unknown"))
    message = _as_dict(event.get("message"))
    source = _as_dict(event.get("source"))
    text = ""
    attachments: tuple[Attachment, ...] = ()
    event_type: str = event_kind

    if event_kind == "message":
        message_type = message.get("type")
        event_type = EventType.MESSAGE
        if message_type == "text":
            text = str(message.get("text", ""))
        elif message_type in ("image", "video", "audio", "file"):
            attachments = (_media_attachment(message),)
        elif message_type == "location":
            text = _location_text(message)
        elif message_type == "sticker":
            event_type = EventType.STICKER
            # Newer "message stickers" carry the text the user typed onto the sticker.
            text = str(message.get("text", ""))
    elif event_kind == "postback":
        text = str(_as_dict(event.get("postback")).get("data", ""))

    chat_kind, chat_id = _source_key(source)
    thread_keys = [f"{chat_kind}:{chat_id}"] if chat_id else []
    quoted = message.get("quotedMessageId")
    if quoted:
        thread_keys.append(str(quoted))

    provider_id = event.get("webhookEventId") or message.get("id")
    if not provider_id:
        # Very old payloads lack webhookEventId; a content hash still dedupes exact redeliveries.
        canonical = json.dumps(event, sort_keys=True, ensure_ascii=False).encode("utf-8")
        provider_id = "sha256:" + hashlib.sha256(canonical).hexdigest()

    raw = dict(event)
    if destination is not None:
        raw["destination"] = destination
    reply_token = event.get("replyToken")
    return InboundMessage(
        channel=CHANNEL,
        provider_message_id=str(provider_id),
        sender_external_id=str(source.get("userId") or chat_id or ""),
        sender_name=None,
        text=text,
        attachments=attachments,
        sent_at=_timestamp(event.get("timestamp")),
        thread_keys=tuple(thread_keys),
        reply_token=str(reply_token) if reply_token else None,
        event_type=event_type,
        raw=raw,
    )


def parse_webhook(body: bytes | str) -> list[InboundMessage]:
    """Parse a LINE webhook body into InboundMessages (one per event, unknown types passed through)."""
    # Callers must verify_signature() on the raw bytes first; this function trusts its input.
    try:
        payload = strict_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayloadError(f"LINE webhook body is not JSON: {exc}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise InvalidPayloadError("LINE webhook body has no 'events' list")
    destination = payload.get("destination")
    events: list[InboundMessage] = []
    for event in payload["events"]:
        if not isinstance(event, dict):
            raise InvalidPayloadError("LINE webhook event is not an object")
        events.append(_event_to_inbound(event, str(destination) if destination else None))
    return events


def is_redelivery(message: InboundMessage) -> bool:
    """True when LINE flagged the event as a redelivery (``deliveryContext.isRedelivery``)."""
    return bool(_as_dict(message.raw.get("deliveryContext")).get("isRedelivery"))


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------


class LineApiError(ChannelSendError):
    """A LINE API call failed."""

    def __init__(self, message: str, *, retry_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        # Reuse this key when retrying a push so LINE can drop the duplicate (409) if it was sent.
        self.retry_key = retry_key


class LineRetryableError(LineApiError, RetryableSendError):
    """Network error, timeout, 5xx or rate limit: retry later (with the same retry key)."""


class LinePermanentError(LineApiError, PermanentSendError):
    """LINE rejected the request (4xx, expired reply token, quota exhausted...)."""


@dataclass(frozen=True, slots=True)
class LineSendResult:
    """Outcome of a reply/push call."""

    request_id: str | None
    sent_message_ids: tuple[str, ...] = ()
    retry_key: str | None = None
    # True when LINE answered 409: a previous attempt with this retry key was already accepted.
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class LineProfile:
    """A user's LINE profile."""

    user_id: str
    display_name: str
    picture_url: str | None = None
    status_message: str | None = None
    language: str | None = None


def text_message(text: str) -> dict[str, Any]:
    """Build a LINE text message object."""
    return {"type": "text", "text": text}


def _normalize_messages(messages: Sequence[LineMessage] | LineMessage) -> list[dict[str, Any]]:
    items: Sequence[LineMessage] = [messages] if isinstance(messages, str | Mapping) else messages
    normalized = [text_message(m) if isinstance(m, str) else dict(m) for m in items]
    if not 1 <= len(normalized) <= MAX_MESSAGES_PER_REQUEST:
        raise ValueError(f"LINE accepts 1-{MAX_MESSAGES_PER_REQUEST} messages per request, got {len(normalized)}")
    return normalized


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response.headers.get("retry-after"))


def _error_from_response(response: httpx.Response, retry_key: str | None) -> LineApiError:
    message = f"HTTP {response.status_code}"
    details: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("message") or message)
        details = body.get("details")
        if isinstance(details, list) and details:
            described = "; ".join(
                f"{d.get('property', '')}: {d.get('message', '')}".strip(": ") for d in details if isinstance(d, dict)
            )
            if described:
                message = f"{message} ({described})"
    status = response.status_code
    kwargs: dict[str, Any] = {
        "status_code": status,
        "request_id": response.headers.get("x-line-request-id"),
        "retry_after": _retry_after(response),
        "details": details,
        "retry_key": retry_key,
    }
    text = f"LINE API error {status}: {message}"
    # 429 normally means "slow down", but the monthly free-message quota also answers 429 and will
    # not recover until the next month, so retrying it only burns the retry budget.
    quota_exhausted = status == 429 and "monthly limit" in message.lower()
    kwargs["code"] = _failure_code(status, message, quota_exhausted)
    if (status >= 500 or status == 429) and not quota_exhausted:
        return LineRetryableError(text, **kwargs)
    return LinePermanentError(text, **kwargs)


def _failure_code(status: int, message: str, quota_exhausted: bool) -> str | None:
    """What agents are told about a LINE error (catalog `dlf_<code>`)."""
    if quota_exhausted:
        return "quota_exhausted"
    # LINE answers 400 "Failed to send messages" for a user id that does not exist for this channel (deleted, or
    # issued by another provider). A user who blocked the account is not reported: LINE answers 200 and drops it.
    if status == 400 and message.lower().startswith("failed to send messages"):
        return RECIPIENT_UNREACHABLE
    return http_failure_code(status)


class LineClient(BearerClient):
    """Minimal synchronous LINE Messaging API client (reply, push, profile, content)."""

    def __init__(
        self,
        channel_access_token: str,
        api_base: str = DEFAULT_API_BASE,
        data_api_base: str = DEFAULT_DATA_API_BASE,
        *,
        timeout: float = 10.0,
    ) -> None:
        if not channel_access_token:
            raise ValueError("channel_access_token is required")
        self._api_base = api_base.rstrip("/")
        self._data_api_base = data_api_base.rstrip("/")
        super().__init__(channel_access_token, user_agent="kefu-line/1", timeout=timeout)

    def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry_key: str | None = None,
    ) -> httpx.Response:
        try:
            response = self._http.request(method, url, json=json_body, headers=headers)
        except BlockedDestination as exc:  # an api_base on an internal host: retrying will not help
            raise LinePermanentError(f"LINE API destination refused: {exc}", code=DESTINATION_REFUSED) from exc
        except httpx.TimeoutException as exc:
            raise LineRetryableError(
                f"LINE API timeout: {exc!r}", retry_key=retry_key, code=PROVIDER_UNAVAILABLE
            ) from exc
        except httpx.TransportError as exc:
            raise LineRetryableError(
                f"LINE API network error: {exc!r}", retry_key=retry_key, code=PROVIDER_UNAVAILABLE
            ) from exc
        if response.is_success or (response.status_code == 409 and retry_key):
            return response
        raise _error_from_response(response, retry_key)

    @staticmethod
    def _send_result(response: httpx.Response, retry_key: str | None) -> LineSendResult:
        if response.status_code == 409:
            accepted = response.headers.get("x-line-accepted-request-id")
            return LineSendResult(request_id=accepted, retry_key=retry_key, duplicate=True)
        sent: list[str] = []
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("sentMessages"), list):
            sent = [str(m["id"]) for m in body["sentMessages"] if isinstance(m, dict) and "id" in m]
        return LineSendResult(
            request_id=response.headers.get("x-line-request-id"),
            sent_message_ids=tuple(sent),
            retry_key=retry_key,
        )

    def reply(
        self,
        reply_token: str,
        messages: Sequence[LineMessage] | LineMessage,
        *,
        notification_disabled: bool = False,
    ) -> LineSendResult:
        """Answer an event with its single-use reply token (does not count against the message quota)."""
        # LINE rejects X-Line-Retry-Key on reply, and a retried reply whose first attempt actually
        # went through fails with 400 (token used), so callers should fall back to push.
        body = {
            "replyToken": reply_token,
            "messages": _normalize_messages(messages),
            "notificationDisabled": notification_disabled,
        }
        response = self._request("POST", f"{self._api_base}/v2/bot/message/reply", json_body=body)
        return self._send_result(response, None)

    def push(
        self,
        to: str,
        messages: Sequence[LineMessage] | LineMessage,
        *,
        retry_key: str | None = None,
        notification_disabled: bool = False,
    ) -> LineSendResult:
        """Push messages to a user/group/room id, idempotent across retries via ``X-Line-Retry-Key``."""
        # Retry with the retry_key carried by the LineRetryableError so LINE can answer 409 instead
        # of delivering the same message twice.
        key = retry_key or str(uuid.uuid4())
        body = {
            "to": to,
            "messages": _normalize_messages(messages),
            "notificationDisabled": notification_disabled,
        }
        response = self._request(
            "POST",
            f"{self._api_base}/v2/bot/message/push",
            json_body=body,
            headers={"X-Line-Retry-Key": key},
            retry_key=key,
        )
        return self._send_result(response, key)

    def get_profile(self, user_id: str) -> LineProfile:
        """Fetch a user's display name, picture and status message."""
        response = self._request("GET", f"{self._api_base}/v2/bot/profile/{quote(user_id, safe='')}")
        try:
            body = response.json()
        except ValueError as exc:
            raise LinePermanentError("LINE profile response is not JSON", status_code=response.status_code) from exc
        if not isinstance(body, dict):
            raise LinePermanentError("LINE profile response is not an object", status_code=response.status_code)
        return LineProfile(
            user_id=str(body.get("userId") or user_id),
            display_name=str(body.get("displayName") or ""),
            picture_url=body.get("pictureUrl"),
            status_message=body.get("statusMessage"),
            language=body.get("language"),
        )

    def get_content(self, message_id: str) -> bytes:
        """Download the binary content of an image/video/audio/file message (api-data host)."""
        response = self._request("GET", f"{self._data_api_base}/v2/bot/message/{quote(message_id, safe='')}/content")
        if response.status_code == 202:
            # Video/audio still being transcoded by LINE; the content will be there shortly.
            raise LineRetryableError(
                "LINE content is not ready yet",
                status_code=202,
                request_id=response.headers.get("x-line-request-id"),
            )
        return response.content
