"""Message board adapter: inbound only (replies to board posts are followed up by email or phone)."""

from __future__ import annotations

from kefu.channels.base import ChannelAdapter, register
from kefu.channels.types import InboundMessage


@register
class BoardAdapter(ChannelAdapter):
    """Public message board / contact form."""

    kind = "board"
    identity_kind = "board"
    can_send = False

    def thread_key(self, msg: InboundMessage) -> str:
        """Every post is its own case."""
        return f"post:{msg.provider_message_id}"
