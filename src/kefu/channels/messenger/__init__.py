"""Facebook Messenger Platform channel protocol layer."""

from kefu.channels.messenger.protocol import (
    DEFAULT_API_BASE,
    DEFAULT_API_VERSION,
    MAX_TEXT_LENGTH,
    SIGNATURE_HEADER,
    MessengerApiError,
    MessengerClient,
    MessengerPermanentError,
    MessengerProfile,
    MessengerRetryableError,
    MessengerSendResult,
    parse_webhook,
    verify_challenge,
    verify_signature,
)

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
