"""Phone adapter: calls are logged by agents, nothing is sent."""

from __future__ import annotations

from kefu.channels.base import ChannelAdapter, register


@register
class PhoneAdapter(ChannelAdapter):
    """A hotline (客服專線)."""

    kind = "phone"
    identity_kind = "phone"
    can_send = False
