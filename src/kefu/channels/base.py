"""The channel adapter interface and registry: one adapter per inbox kind, found in `kefu.channels.<kind>`."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels.types import Attachment, InboundMessage

if TYPE_CHECKING:
    from kefu.brands.models import Inbox
    from kefu.conversations.models import Conversation, Message


@dataclass(frozen=True, slots=True)
class SendContext:
    """Everything an adapter needs to send one outbox row (no database access during the send)."""

    inbox_id: int
    config: Mapping[str, Any]
    recipient: str
    payload: Mapping[str, Any]
    idempotency_key: str
    attempt: int


@dataclass(frozen=True, slots=True)
class SendResult:
    """A provider accepted the message."""

    provider_message_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A delivery/read receipt: applies to the listed provider ids, or to everything sent before `watermark`."""

    status: str  # "sent" | "delivered" | "read"
    recipient: str
    provider_message_ids: tuple[str, ...] = ()
    watermark: datetime | None = None
    # Set by a provider's echo of our own send: settles that outbox row even if its outcome was lost.
    idempotency_key: str | None = None


class ChannelAdapter:
    """Parse inbound → normalized messages; send outbound; report delivery status. Subclass per channel kind."""

    kind: ClassVar[str] = ""
    # Customer identity kind used by customers.find_or_create_by_identity.
    identity_kind: ClassVar[str] = ""
    # False for channels an agent cannot write to (phone logs, message board).
    can_send: ClassVar[bool] = True

    def plan_send(self, payload: dict[str, Any], attempt: int) -> dict[str, Any]:
        """Decide, before a send and durably (saved with the claim), how attempt `attempt` will send."""
        return payload

    def resend_safe(self, payload: Mapping[str, Any]) -> bool:
        """True when re-sending after an unknown outcome cannot reach the customer twice (provider dedupes our key)."""
        return True

    def send_lease(self, payload: Mapping[str, Any]) -> float | None:
        """Seconds a claimed send is left to its sender (None: the outbox default)."""
        return None

    def verify(self, inbox: Inbox, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when a webhook body is authentic (signature over the raw bytes)."""
        return False

    def parse(self, inbox: Inbox, body: bytes) -> list[InboundMessage]:
        """Turn a verified webhook body into normalized messages."""
        raise NotImplementedError(f"{self.kind} has no webhook")

    def thread_key(self, msg: InboundMessage) -> str:
        """The key that keeps this sender's messages in one conversation."""
        return msg.thread_keys[0] if msg.thread_keys else f"sender:{msg.sender_external_id}"

    def find_conversation(self, session: Session, inbox: Inbox, msg: InboundMessage) -> Conversation | None:
        """The open conversation this message continues (latest non-closed one on this thread)."""
        from kefu.conversations.models import Conversation

        return session.scalar(
            select(Conversation)
            .where(
                Conversation.inbox_id == inbox.id,
                Conversation.external_thread_id == self.thread_key(msg),
                Conversation.status != "closed",
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )

    def message_meta(self, msg: InboundMessage) -> dict[str, Any]:
        """Channel-specific facts kept in Message.meta (e.g. an email's Reply-To)."""
        return {}

    def delivery_update(self, msg: InboundMessage) -> DeliveryUpdate | None:
        """A receipt carried by this inbound event, if it is one."""
        return None

    def fetch_attachment(self, config: Mapping[str, Any], attachment: Attachment) -> bytes | None:
        """Download an attachment known only by provider id or URL (None when not possible)."""
        return None

    def recipient(self, session: Session, inbox: Inbox, conv: Conversation) -> str | None:
        """The provider address of the conversation's customer."""
        from kefu.customers.models import CustomerIdentity

        return session.scalar(
            select(CustomerIdentity.external_id)
            .where(CustomerIdentity.customer_id == conv.customer_id, CustomerIdentity.kind == self.identity_kind)
            .order_by(CustomerIdentity.id.desc())
            .limit(1)
        )

    def prepare(self, session: Session, inbox: Inbox, conv: Conversation, message: Message) -> dict[str, Any]:
        """Outbox payload for an agent/bot message, computed inside the transaction (threading, reply tokens)."""
        from kefu.channels.media import outbound
        from kefu.knowledge.render import render_message

        # Text-only channels get rich KB answers as plain text with links written out (kefu.knowledge.render).
        payload: dict[str, Any] = {"text": render_message(session, message, self.kind).text}
        files = outbound(session, message)
        if files:
            payload["attachments"] = files
        return payload

    def send(self, ctx: SendContext) -> SendResult:
        """Deliver one outbox row; raise RetryableSendError / PermanentSendError on failure."""
        raise NotImplementedError(f"{self.kind} cannot send")

    def after_inbound(
        self, session: Session, inbox: Inbox, conv: Conversation, message: Message, msg: InboundMessage, new: bool
    ) -> None:
        """Channel-specific follow-up inside the inbound transaction (e.g. an email auto-acknowledgement)."""


A = TypeVar("A", bound=type[ChannelAdapter])
_adapters: dict[str, ChannelAdapter] = {}
_loaded = False
_lock = threading.Lock()


def register(cls: A) -> A:
    """Class decorator: make `cls` the adapter of `cls.kind`."""
    _adapters[cls.kind] = cls()
    return cls


def load_adapters() -> None:
    """Import `kefu.channels.<folder>.adapter` for every channel folder (adding a channel touches one folder)."""
    global _loaded
    with _lock:
        if _loaded:
            return
        import kefu.channels

        for info in pkgutil.iter_modules(kefu.channels.__path__, "kefu.channels."):
            if info.ispkg and importlib.util.find_spec(f"{info.name}.adapter") is not None:
                importlib.import_module(f"{info.name}.adapter")
        _loaded = True


def get_adapter(kind: str) -> ChannelAdapter | None:
    """The adapter registered for an inbox kind."""
    load_adapters()
    return _adapters.get(kind)


def adapters() -> dict[str, ChannelAdapter]:
    """Every registered adapter by kind."""
    load_adapters()
    return dict(_adapters)
