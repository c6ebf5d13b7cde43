"""Pure, DB-free protocol layers for external messaging channels (email, LINE, Messenger)."""

from kefu.channels.types import (
    Attachment,
    ChannelError,
    ChannelSendError,
    EventType,
    InboundMessage,
    InvalidPayloadError,
    OutboundMessage,
    PermanentSendError,
    RetryableSendError,
)

__all__ = [
    "Attachment",
    "ChannelError",
    "ChannelSendError",
    "EventType",
    "InboundMessage",
    "InvalidPayloadError",
    "OutboundMessage",
    "PermanentSendError",
    "RetryableSendError",
]
