"""Web chat adapter: visitors are identified by signed tokens; agent replies reach them over the public topic."""

from __future__ import annotations

from kefu.channels.base import ChannelAdapter, register
from kefu.channels.types import InboundMessage


@register
class WebChatAdapter(ChannelAdapter):
    """The embeddable chat widget."""

    kind = "web_chat"
    identity_kind = "web"  # customers.schemas identity kinds: email|phone|line|messenger|web|api|board
    # Replies are delivered by the realtime hub (topic conversation:<id>:public) and replayed on resume.
    can_send = False

    def thread_key(self, msg: InboundMessage) -> str:
        """One conversation per visitor."""
        return f"visitor:{msg.sender_external_id}"
