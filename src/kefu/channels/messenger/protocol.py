"""Facebook Messenger Platform protocol layer: webhook verification, event parsing and a send client."""

# Pure and DB-free: the adapter registry decides what to persist and when to retry.

from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from kefu.channels.client import BearerClient
from kefu.channels.types import (
    DESTINATION_REFUSED,
    PROVIDER_UNAVAILABLE,
    RECIPIENT_UNREACHABLE,
    TOKEN_INVALID,
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
    "DEFAULT_API_VERSION",
    "MAX_TEXT_LENGTH",
    "SIGNATURE_HEADER",
    "MessengerApiError",
    "MessengerClient",
    "MessengerPermanentError",
    "MessengerProfile",
    "MessengerRetryableError",
    "MessengerSendResult",
    "parse_webhook",
    "verify_challenge",
    "verify_signature",
]

CHANNEL = "messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
MAX_TEXT_LENGTH = 2000
MESSAGING_TYPES = frozenset({"RESPONSE", "UPDATE", "MESSAGE_TAG"})

# Graph API error codes that are throttling or transient platform failures: 1 unknown/retry,
# 2 service unavailable, 4 app rate limit, 17 user rate limit, 32 page rate limit,
# 341 application limit reached, 613 calls-per-time rate limit.
_RETRYABLE_GRAPH_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})
# Subcodes that ride on a "retryable" code but need a human to act (e.g. 2/2018344: Page admin
# must accept the privacy terms), so retrying is pointless.
_PERMANENT_GRAPH_SUBCODES = frozenset({2018344})


# ---------------------------------------------------------------------------
# Webhook
# ---------------------------------------------------------------------------


def _first(value: str | Sequence[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value[0] if value else None


def verify_challenge(params: Mapping[str, str | Sequence[str]], verify_token: str) -> str | None:
    """Answer Meta's GET subscription check: return ``hub.challenge`` if mode and token match."""
    if not verify_token:
        return None
    mode = _first(params.get("hub.mode"))
    token = _first(params.get("hub.verify_token"))
    challenge = _first(params.get("hub.challenge"))
    if mode != "subscribe" or token is None or not challenge:
        return None
    if not hmac.compare_digest(token.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return challenge


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """Check ``X-Hub-Signature-256: sha256=<hex>`` (HMAC-SHA256 of the raw body with the app secret)."""
    if not app_secret or not header:
        return False
    algorithm, _, provided = header.strip().partition("=")
    if algorithm.lower() != "sha256" or not provided:
        return False
    expected = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    try:
        provided_bytes = provided.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), provided_bytes)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


_ATTACHMENT_DEFAULT_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "file": "application/octet-stream",
}


def _attachment(item: dict[str, Any], mid: str, index: int) -> Attachment | None:
    kind = str(item.get("type", ""))
    payload = _as_dict(item.get("payload"))
    url = payload.get("url")
    if kind not in _ATTACHMENT_DEFAULT_TYPES or not isinstance(url, str) or not url:
        return None
    # Attachment URLs are signed CDN links; the path's last segment is the original file name.
    name = posixpath.basename(urlsplit(url).path)
    filename = name or f"{mid}-{index + 1}"
    guessed = mimetypes.guess_type(filename, strict=False)[0]
    if guessed and kind != "file" and guessed.split("/", 1)[0] != kind:
        # Voice clips arrive as .mp4 files; the extension alone would label them video.
        guessed = f"{kind}/mp4" if guessed.endswith("/mp4") else None
    return Attachment(
        filename=filename,
        content_type=guessed or _ATTACHMENT_DEFAULT_TYPES[kind],
        size=None,
        url=url,
    )


def _attachment_text(item: dict[str, Any]) -> str | None:
    kind = item.get("type")
    payload = _as_dict(item.get("payload"))
    if kind == "location":
        coords = _as_dict(payload.get("coordinates"))
        if "lat" in coords and "long" in coords:
            title = item.get("title")
            prefix = f"{title} " if title else ""
            return f"{prefix}({coords['lat']}, {coords['long']})"
    if kind == "fallback":
        # Shared links arrive as "fallback" attachments with a title and URL, not as text.
        parts = [str(p) for p in (item.get("title"), item.get("url") or payload.get("url")) if p]
        return " ".join(parts) or None
    return None


_EVENT_KINDS = (
    "message",
    "postback",
    "read",
    "delivery",
    "reaction",
    "referral",
    "optin",
    "account_linking",
    "policy_enforcement",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
    "message_edit",
)


# Outgoing messages carry "kefu:<idempotency key>" as metadata, so their echoes identify the outbox row.
ECHO_METADATA_PREFIX = "kefu:"


def _synthetic_id(kind: str, event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return f"{kind}:sha256:{hashlib.sha256(canonical).hexdigest()}"


def _messaging_to_inbound(event: dict[str, Any]) -> InboundMessage | None:
    sender = str(_as_dict(event.get("sender")).get("id") or "")
    kind = next((k for k in _EVENT_KINDS if k in event), "unknown")
    text = ""
    attachments: list[Attachment] = []
    event_type: str = kind
    thread_keys = [f"psid:{sender}"] if sender else []

    if kind == "message":
        message = _as_dict(event["message"])
        if message.get("is_echo"):
            # Echoes are our own page's outgoing messages reflected back; never customer input. One that carries
            # kefu's idempotency key (metadata) settles a send whose outcome we lost (outbox reconciliation).
            metadata = str(message.get("metadata") or "")
            if not metadata.startswith(ECHO_METADATA_PREFIX) or not message.get("mid"):
                return None
            recipient = str(_as_dict(event.get("recipient")).get("id") or "")
            return InboundMessage(
                channel=CHANNEL,
                provider_message_id=f"echo:{message['mid']}",
                sender_external_id=recipient,
                sent_at=_timestamp(event.get("timestamp")),
                event_type="echo",
                raw=dict(event),
            )
        mid = str(message.get("mid") or "")
        provider_id = mid or _synthetic_id("message", event)
        text = str(message.get("text") or "")
        event_type = EventType.STICKER if message.get("sticker_id") else EventType.MESSAGE
        extra_text: list[str] = []
        items = message.get("attachments")
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            if event_type == EventType.STICKER and item.get("type") == "image":
                continue  # the sticker image is represented by sticker_id, not as a file
            found = _attachment(item, mid or "attachment", index)
            if found is not None:
                attachments.append(found)
            else:
                described = _attachment_text(item)
                if described:
                    extra_text.append(described)
        if extra_text:
            text = "\n".join([text, *extra_text]) if text else "\n".join(extra_text)
        reply_to = _as_dict(message.get("reply_to")).get("mid")
        if reply_to:
            thread_keys.append(str(reply_to))
    elif kind == "postback":
        postback = _as_dict(event["postback"])
        # The title is the button label the customer saw; the payload stays available in raw.
        text = str(postback.get("title") or postback.get("payload") or "")
        provider_id = str(postback.get("mid") or "") or _synthetic_id("postback", event)
    elif kind in ("read", "delivery"):
        detail = _as_dict(event[kind])
        watermark = detail.get("watermark", event.get("timestamp", ""))
        provider_id = f"{kind}:{sender}:{watermark}"
    elif kind == "reaction":
        reaction = _as_dict(event["reaction"])
        provider_id = f"reaction:{reaction.get('mid', '')}:{reaction.get('action', '')}:{event.get('timestamp', '')}"
        text = str(reaction.get("emoji") or reaction.get("reaction") or "")
    else:
        provider_id = _synthetic_id(kind, event)

    return InboundMessage(
        channel=CHANNEL,
        provider_message_id=provider_id,
        sender_external_id=sender,
        sender_name=None,
        text=text,
        attachments=tuple(attachments),
        sent_at=_timestamp(event.get("timestamp")),
        thread_keys=tuple(thread_keys),
        reply_token=None,
        event_type=event_type,
        raw=dict(event),
    )


def parse_webhook(body: bytes | str) -> list[InboundMessage]:
    """Parse a Messenger (object=page) webhook body; echoes are skipped, other objects yield []."""
    try:
        payload = strict_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayloadError(f"Messenger webhook body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidPayloadError("Messenger webhook body is not an object")
    if payload.get("object") != "page":
        return []
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise InvalidPayloadError("Messenger webhook body has no 'entry' list")
    result: list[InboundMessage] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidPayloadError("Messenger webhook entry is not an object")
        messaging = entry.get("messaging")
        for event in messaging if isinstance(messaging, list) else []:
            if not isinstance(event, dict):
                raise InvalidPayloadError("Messenger messaging event is not an object")
            parsed = _messaging_to_inbound(event)
            if parsed is not None:
                result.append(parsed)
    return result


# ---------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------


class MessengerApiError(ChannelSendError):
    """A Graph API call failed."""

    def __init__(
        self,
        message: str,
        *,
        error_code: int | None = None,
        error_subcode: int | None = None,
        fbtrace_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, provider_code=None if error_code is None else str(error_code), **kwargs)
        self.error_code = error_code
        self.error_subcode = error_subcode
        self.fbtrace_id = fbtrace_id


class MessengerRetryableError(MessengerApiError, RetryableSendError):
    """Network error, timeout, 5xx, throttling or a transient Graph error: retry later."""


class MessengerPermanentError(MessengerApiError, PermanentSendError):
    """Graph API rejected the request (bad token, outside the 24h window, blocked user...)."""


@dataclass(frozen=True, slots=True)
class MessengerSendResult:
    """Outcome of a Send API call."""

    recipient_id: str | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class MessengerProfile:
    """Public profile fields of a PSID (requires the relevant page permissions)."""

    psid: str
    first_name: str | None = None
    last_name: str | None = None
    profile_pic: str | None = None

    @property
    def name(self) -> str | None:
        """Full display name, or None if Meta returned no name fields."""
        joined = " ".join(p for p in (self.first_name, self.last_name) if p)
        return joined or None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _error_from_response(response: httpx.Response) -> MessengerApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = _as_dict(body.get("error")) if isinstance(body, dict) else {}
    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    message = str(error.get("message") or f"HTTP {response.status_code}")
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    status = response.status_code
    # Graph reports throttling and outages as HTTP 400/403 too, so the error code decides.
    transient = (
        status >= 500
        or status == 429
        or error.get("is_transient") is True
        or (code in _RETRYABLE_GRAPH_CODES and subcode not in _PERMANENT_GRAPH_SUBCODES)
    )
    cls = MessengerRetryableError if transient else MessengerPermanentError
    return cls(
        f"Messenger API error {status}: {message}",
        code=_failure_code(status, code, subcode, message, transient),
        status_code=status,
        error_code=code,
        error_subcode=subcode,
        fbtrace_id=error.get("fbtrace_id") or response.headers.get("x-fb-trace-id"),
        retry_after=retry_after,
        details=error or None,
    )


# Graph error codes (https://developers.facebook.com/docs/messenger-platform/error-codes) agents can act on.
_THROTTLED_GRAPH_CODES = frozenset({4, 17, 32, 613})
_UNREACHABLE = frozenset({(551, None), (200, 1545041), (100, 2018001), (10, 2018108)})
_OUTSIDE_WINDOW_SUBCODES = frozenset({2018278, 2534022})


def _failure_code(status: int, code: int | None, subcode: int | None, message: str, transient: bool) -> str | None:
    """What agents are told about a Graph error (catalog `dlf_<code>`): Graph puts most reasons in the body."""
    if code == 190 or status == 401:  # an invalid, expired or revoked Page access token
        return TOKEN_INVALID
    if (code, subcode) in _UNREACHABLE or (code, None) in _UNREACHABLE:  # blocked us, deactivated, unknown PSID
        return RECIPIENT_UNREACHABLE
    if code == 10 and (subcode in _OUTSIDE_WINDOW_SUBCODES or "outside of allowed window" in message.lower()):
        return "outside_window"
    if code in _THROTTLED_GRAPH_CODES and transient:
        return "rate_limited"
    found = http_failure_code(status)
    return found or (PROVIDER_UNAVAILABLE if transient else None)


class MessengerClient(BearerClient):
    """Minimal synchronous Messenger Send API client."""

    def __init__(
        self,
        page_access_token: str,
        api_base: str = DEFAULT_API_BASE,
        api_version: str = DEFAULT_API_VERSION,
        *,
        app_secret: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not page_access_token:
            raise ValueError("page_access_token is required")
        self._base = f"{api_base.rstrip('/')}/{api_version.strip('/')}"
        params: dict[str, str] = {}
        if app_secret:
            # Required when the app enables "Require App Secret"; proves the token came from us.
            params["appsecret_proof"] = hmac.new(
                app_secret.encode("utf-8"), page_access_token.encode("utf-8"), hashlib.sha256
            ).hexdigest()
        super().__init__(page_access_token, user_agent="kefu-messenger/1", timeout=timeout, params=params)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        try:
            response = self._http.request(
                method, f"{self._base}/{path}", json=json_body, params=params, data=form, files=files
            )
        except BlockedDestination as exc:  # an api_base on an internal host: retrying will not help
            raise MessengerPermanentError(
                f"Messenger API destination refused: {exc}", code=DESTINATION_REFUSED
            ) from exc
        except httpx.TimeoutException as exc:
            raise MessengerRetryableError(f"Messenger API timeout: {exc!r}", code=PROVIDER_UNAVAILABLE) from exc
        except httpx.TransportError as exc:
            raise MessengerRetryableError(f"Messenger API network error: {exc!r}", code=PROVIDER_UNAVAILABLE) from exc
        if not response.is_success:
            raise _error_from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise MessengerPermanentError(
                "Messenger API response is not JSON", status_code=response.status_code
            ) from exc

    def send_message(
        self,
        psid: str,
        message: Mapping[str, Any],
        messaging_type: str = "RESPONSE",
        *,
        tag: str | None = None,
    ) -> MessengerSendResult:
        """Send a raw Send API ``message`` object (text, attachment, quick replies...) to a PSID."""
        if messaging_type not in MESSAGING_TYPES:
            raise ValueError(f"messaging_type must be one of {sorted(MESSAGING_TYPES)}")
        if (messaging_type == "MESSAGE_TAG") != bool(tag):
            raise ValueError("tag is required with, and only with, messaging_type MESSAGE_TAG")
        body: dict[str, Any] = {
            "recipient": {"id": psid},
            "messaging_type": messaging_type,
            "message": dict(message),
        }
        if tag:
            body["tag"] = tag
        result = self._request("POST", "me/messages", json_body=body)
        data = _as_dict(result)
        recipient, mid = data.get("recipient_id"), data.get("message_id")
        return MessengerSendResult(
            recipient_id=str(recipient) if recipient is not None else None,
            message_id=str(mid) if mid is not None else None,
        )

    def send_attachment(
        self,
        psid: str,
        *,
        filename: str,
        content_type: str,
        data: bytes,
        messaging_type: str = "RESPONSE",
        extra: Mapping[str, Any] | None = None,
    ) -> MessengerSendResult:
        """Upload a file with the message (multipart `filedata`, Send API attachment upload) and send it to a PSID."""
        if messaging_type not in MESSAGING_TYPES:
            raise ValueError(f"messaging_type must be one of {sorted(MESSAGING_TYPES)}")
        major = content_type.split("/", 1)[0]
        kind = major if major in ("image", "video", "audio") else "file"
        message = {"attachment": {"type": kind, "payload": {"is_reusable": False}}, **dict(extra or {})}
        form = {
            "recipient": json.dumps({"id": psid}),
            "messaging_type": messaging_type,
            "message": json.dumps(message, ensure_ascii=False),
        }
        result = self._request("POST", "me/messages", form=form, files={"filedata": (filename, data, content_type)})
        out = _as_dict(result)
        recipient, mid = out.get("recipient_id"), out.get("message_id")
        return MessengerSendResult(
            recipient_id=str(recipient) if recipient is not None else None,
            message_id=str(mid) if mid is not None else None,
        )

    def send_text(
        self,
        psid: str,
        text: str,
        messaging_type: str = "RESPONSE",
        *,
        tag: str | None = None,
    ) -> MessengerSendResult:
        """Send a text message (1-2000 characters) to a PSID."""
        if not text or len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"Messenger text must be 1-{MAX_TEXT_LENGTH} characters, got {len(text)}")
        return self.send_message(psid, {"text": text}, messaging_type, tag=tag)

    def get_profile(
        self, psid: str, fields: Sequence[str] = ("first_name", "last_name", "profile_pic")
    ) -> MessengerProfile:
        """Fetch a PSID's name and picture via the User Profile API."""
        data = _as_dict(self._request("GET", quote(psid, safe=""), params={"fields": ",".join(fields)}))

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value is not None else None

        return MessengerProfile(
            psid=psid,
            first_name=text("first_name"),
            last_name=text("last_name"),
            profile_pic=text("profile_pic"),
        )
