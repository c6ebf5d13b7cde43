"""Phone adapter: calls are logged by agents, nothing is sent — a typed reply is refused, never silently dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from kefu.channels.base import ChannelAdapter, register
from kefu.conversations import service as conversations

if TYPE_CHECKING:
    from kefu.conversations.models import Conversation, Message


@register
class PhoneAdapter(ChannelAdapter):
    """A hotline (客服專線)."""

    kind = "phone"
    identity_kind = "phone"
    can_send = False


def _hook(session: Session, conv: Conversation, message: Message) -> None:
    from kefu.core.errors import Conflict

    if conv.channel == "phone" and not message.is_note and message.content_type != "call":
        raise Conflict.said("uix_phone_written")


if not any(getattr(h, "__module__", "") == __name__ for h in conversations.outbound_hooks):
    conversations.outbound_hooks.append(_hook)
