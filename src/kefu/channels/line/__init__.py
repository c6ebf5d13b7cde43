"""LINE Messaging API channel protocol layer."""

from kefu.channels.line.protocol import (
    DEFAULT_API_BASE,
    DEFAULT_DATA_API_BASE,
    SIGNATURE_HEADER,
    LineApiError,
    LineClient,
    LineMessage,
    LinePermanentError,
    LineProfile,
    LineRetryableError,
    LineSendResult,
    is_redelivery,
    parse_webhook,
    text_message,
    verify_signature,
)

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
