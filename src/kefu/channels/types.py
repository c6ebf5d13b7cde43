"""Channel-neutral message types and errors shared by every channel protocol layer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Attachment",
    "ChannelError",
    "ChannelSendError",
    "EventType",
    "FailureReason",
    "InboundMessage",
    "InvalidPayloadError",
    "OutboundMessage",
    "PermanentSendError",
    "RetryableSendError",
    "failure_code",
    "failure_detail",
    "failure_text",
    "http_failure_code",
]


class EventType(StrEnum):
    """Well-known values of ``InboundMessage.event_type``; channels may emit others verbatim."""

    MESSAGE = "message"
    STICKER = "sticker"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    POSTBACK = "postback"
    READ = "read"
    DELIVERY = "delivery"
    REACTION = "reaction"
    # A customer's "was this helpful?" button (LINE postback / Messenger quick reply); text is the vote payload.
    FEEDBACK = "feedback"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried by a message: inline bytes, a URL, or a provider handle to fetch it later."""

    filename: str
    content_type: str
    # None when the provider does not tell us the size before download.
    size: int | None
    data: bytes | None = None
    url: str | None = None
    # Email Content-ID (without angle brackets) so HTML ``cid:`` references can be resolved.
    content_id: str | None = None
    inline: bool = False
    # Provider-side id used to download the content (e.g. a LINE message id).
    provider_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """One normalized event received from a channel (a message, follow, postback, read receipt...)."""

    channel: str
    # Stable per-provider id; the persistence layer uses it as the dedupe key.
    provider_message_id: str
    sender_external_id: str
    sender_name: str | None = None
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime | None = None
    # Ids that can link this event to an existing conversation (email Message-IDs, chat ids...).
    thread_keys: tuple[str, ...] = ()
    subject: str | None = None
    reply_token: str | None = None
    event_type: str = EventType.MESSAGE
    # JSON-serializable provider payload; excluded from hashing because dicts are unhashable.
    raw: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    """A channel-neutral message to send to an external recipient."""

    channel: str
    recipient_external_id: str
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    subject: str | None = None
    # Provider message id this message answers (email In-Reply-To, chat quote target...).
    in_reply_to: str | None = None
    reply_token: str | None = None
    # Caller-chosen key reused across retries so providers that support it deduplicate sends.
    idempotency_key: str | None = None
    # True for machine-generated messages (auto-acknowledgements); drives loop-protection headers.
    automatic: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, hash=False)


class ChannelError(Exception):
    """Base class for all channel protocol errors."""


class InvalidPayloadError(ChannelError, ValueError):
    """A webhook body could not be parsed into events."""


class ChannelSendError(ChannelError):
    """A provider API call failed; ``retryable`` tells the caller whether to try again later."""

    retryable: bool = False
    # A stable reason an agent is told in their language (catalog `dlf_<code>`); None: a generic sentence.
    code: str | None = None
    # Saved into the outbox row's payload with the failure (e.g. LINE: later attempts push instead of reply).
    payload_update: dict[str, Any] | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        provider_code: str | None = None,
        details: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.retry_after = retry_after
        self.provider_code = provider_code
        self.details = details


class RetryableSendError(ChannelSendError):
    """Transient failure (network, timeout, 5xx, rate limit): the same request may succeed later."""

    retryable = True


class PermanentSendError(ChannelSendError):
    """The provider rejected the request; retrying it unchanged will not help."""

    retryable = False


class OutcomeUnknownError(ChannelSendError):
    """The request may or may not have reached the customer and the provider cannot deduplicate a resend.

    The outbox row becomes `unknown` (shown to agents and by the API) instead of risking a second copy.
    """

    retryable = False
    code = "outcome_unknown"


# A stored send failure reads "[code] ExceptionName: provider text": the code is what agents are told (in their
# language), the rest stays for logs and the outbox admin; a failure without a code is stored as before.
_CODED = re.compile(r"^\[([a-z0-9_]{1,40})\] ")


def failure_text(exc: BaseException, code: str | None = None) -> str:
    """The stored reason of a failed send: its stable code (if any) first, then the raw error."""
    code = code or getattr(exc, "code", None)
    raw = f"{type(exc).__name__}: {exc}"
    return f"[{code}] {raw}" if code else raw


def failure_code(error: str | None) -> str | None:
    """The stable code of a stored failure reason (None for failures stored without one)."""
    found = _CODED.match(error or "")
    return found.group(1) if found else None


def failure_detail(error: str | None) -> str:
    """A stored failure reason without its code: the raw error for the technical detail."""
    return _CODED.sub("", error or "", count=1)


class FailureReason:
    """What agents are told of a stored send failure (`error`): its code and the raw detail (a views' mixin)."""

    error: str | None

    @property
    def code(self) -> str | None:
        """The failure's stable code (catalog `dlf_<code>` tells agents why); None when stored without one."""
        return failure_code(self.error)

    @property
    def detail(self) -> str:
        """The raw failure (provider text) for the technical detail, without its code."""
        return failure_detail(self.error)


# Send-failure codes every HTTP channel uses the same way (catalog `dlf_<code>`); a channel names the ones only its
# provider tells apart (LINE's monthly quota, Messenger's 24-hour window) where it reads the provider's error.
PROVIDER_UNAVAILABLE = "provider_unavailable"  # 5xx, timeout, network: retried, then told to agents
DESTINATION_REFUSED = "destination_refused"  # the configured address is an internal host (SSRF guard)
TOKEN_INVALID = "token_invalid"  # noqa: S105 - a failure code, not a secret
RECIPIENT_UNREACHABLE = "recipient_unreachable"


def http_failure_code(status: int, *, auth: bool = True) -> str | None:
    """The code of a provider's HTTP error status, or None when only the provider's body can tell.

    `auth`: a 401 means our access token was refused (a provider's API); False where the other side authenticates
    us otherwise (an integrator's callback checks our signature, not a token we hold).
    """
    if status == 401 and auth:
        return TOKEN_INVALID
    if status == 413:
        return "payload_too_large"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return PROVIDER_UNAVAILABLE
    return None
