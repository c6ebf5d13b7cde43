"""Web chat visitors: sessions, messages through the inbound pipeline, uploads, replay for resume."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from kefu.brands.models import Inbox
from kefu.channels import config
from kefu.channels.models import ChannelAttachment, InboundEvent
from kefu.channels.service import on_a_note, process_event, record_inbound, resolve_conversation
from kefu.channels.storage import describe, path_of, store
from kefu.channels.types import Attachment, InboundMessage
from kefu.channels.web_chat.token import Visitor
from kefu.conversations.models import Conversation, Message
from kefu.core.errors import InvalidInput, NotFound, ProblemError
from kefu.core.ratelimit import Budget, RouteLimit, WindowLimit
from kefu.customers.accessibility import VISION, DeclareNeeds, declare, needs_of
from kefu.customers.claims import record_claim
from kefu.customers.models import Customer, CustomerIdentity
from kefu.customers.service import find_or_create_by_identity

# Sniffed signatures: the declared type must match the bytes (no HTML/SVG smuggled in as "image").
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "video/mp4": (),
    "video/webm": (b"\x1a\x45\xdf\xa3",),
    "video/quicktime": (),
}


# An anonymous widget visitor cannot flood a conversation (or the disk): the rows kept anyway are the budget.
MESSAGES_PER_MINUTE = 30
UPLOADS_PER_WINDOW = 20
VISITOR_MESSAGES = WindowLimit(InboundEvent.received_at, timedelta(minutes=1), (InboundEvent.channel == "web_chat",))
VISITOR_UPLOADS = WindowLimit(ChannelAttachment.created_at, timedelta(minutes=10))
# Every page load of a site with the widget opens (or resumes) a session; one address behind an office or mobile
# NAT may carry many visitors, so the budget is generous: it only stops a script minting tokens in a loop.
SESSIONS = RouteLimit("widget_session", per_ip=60, window=timedelta(minutes=1))
# Each declaration of needs writes consent history; people set them once or twice.
NEEDS = RouteLimit("widget_needs", per_ip=20, window=timedelta(minutes=10))


def _sent_by(inbox: Inbox, visitor: Visitor) -> ColumnElement[bool]:
    """The visitor's inbound rows (provider ids are "<visitor>:<client id>"; the unique index serves the prefix)."""
    return and_(
        InboundEvent.inbox_id == inbox.id,
        InboundEvent.provider_id.startswith(f"{visitor.visitor_id}:", autoescape=True),
    )


def thread_key(visitor: Visitor) -> str:
    """The conversation key of a visitor."""
    return f"visitor:{visitor.visitor_id}"


def find_conversation(session: Session, visitor: Visitor) -> Conversation | None:
    """The visitor's latest conversation in this inbox."""
    return session.scalar(
        select(Conversation)
        .where(Conversation.inbox_id == visitor.inbox_id, Conversation.external_thread_id == thread_key(visitor))
        .order_by(Conversation.id.desc())
        .limit(1)
    )


CLAIM_MAILS_PER_HOUR = 3


def link_contact(session: Session, inbox: Inbox, visitor: Visitor, name: str | None, email: str | None) -> bool:
    """Pre-chat form: the visitor's own record notes the claimed email; a link mailed there proves it (True if sent).

    The visitor never joins the address's customer on say-so: that would show them the owner's tickets.
    """
    customer, _ = find_or_create_by_identity(session, inbox.brand_id, "web", visitor.visitor_id, name)
    if name and not customer.name:
        customer.name = name[:200]
    if not email or "@" not in email:
        return False
    email = email.strip().lower()
    owned = session.scalar(
        select(CustomerIdentity.id).where(
            CustomerIdentity.customer_id == customer.id,
            CustomerIdentity.kind == "email",
            CustomerIdentity.external_id == email,
        )
    )
    if owned is not None or (customer.attributes or {}).get("claimed_email") == email:
        return False  # already proven, or a link is on its way
    token = record_claim(session, customer, "email", email)
    return send_claim_link(session, inbox.brand_id, email, token)


def send_claim_link(session: Session, brand_id: int, address: str, token: str) -> bool:
    """Mail the verification link through the brand's email inbox (rate-limited per address); False if none."""
    import email.utils

    from kefu.channels import outbox
    from kefu.channels.email.adapter import inbox_address, message_id_domain
    from kefu.core.config import get_settings

    mailbox = session.scalar(
        select(Inbox)
        .where(Inbox.brand_id == brand_id, Inbox.kind == "email", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
        .limit(1)
    )
    if mailbox is None or not inbox_address(mailbox.config or {}):
        return False
    if outbox.automatic_limit_reached(session, mailbox.id, address, CLAIM_MAILS_PER_HOUR):
        return False  # nobody can use us to flood an address
    link = f"{get_settings().base_url.rstrip('/')}/api/v1/widget/verify?token={token}"
    message_id = email.utils.make_msgid(idstring="kefu-claim", domain=message_id_domain(mailbox.config or {}))
    outbox.queue(
        session,
        inbox=mailbox,
        recipient=address,
        payload={
            "text": CLAIM_MAIL.format(link=link),
            "subject": "請確認您的電子郵件 / Please confirm your email",
            "message_id": message_id,
            "in_reply_to": None,
            "references": [],
            "automatic": True,
        },
        automatic=True,
        idempotency_key=message_id,
    )
    return True


CLAIM_MAIL = (
    "您好，有人在線上客服中輸入了這個電子郵件地址。若是您本人，請開啟以下連結完成驗證（24 小時內有效）：\n"
    "{link}\n\n若不是您，請忽略這封信。\n\n"
    "Someone entered this email address in our chat. If it was you, open this link to confirm "
    "(valid for 24 hours):\n{link}\n\nIf it was not you, you can ignore this message."
)


def _inbound(
    visitor: Visitor, client_id: str, text: str, name: str | None, attachment_ids: list[int]
) -> InboundMessage:
    return InboundMessage(
        channel="web_chat",
        provider_message_id=f"{visitor.visitor_id}:{client_id}",
        sender_external_id=visitor.visitor_id,
        sender_name=name,
        text=text,
        attachments=tuple(
            Attachment(filename="", content_type="", size=None, provider_id=f"stored:{i}") for i in attachment_ids
        ),
        thread_keys=(thread_key(visitor),),
    )


def post_message(
    session: Session,
    inbox: Inbox,
    visitor: Visitor,
    *,
    text: str,
    client_id: str,
    attachment_ids: list[int] | None = None,
    name: str | None = None,
    locale: str | None = None,
) -> Message:
    """Store a visitor message synchronously (the HTTP/WS answer is the acknowledgement); retries dedupe.

    ``locale`` (the widget's language) becomes the customer's language if they have none yet.
    """
    msg = _inbound(visitor, client_id, text, name, attachment_ids or [])
    VISITOR_MESSAGES.enforce(
        session,
        [Budget(_sent_by(inbox, visitor), MESSAGES_PER_MINUTE)],
        "err_webchat_too_many_messages",
    )
    created = record_inbound(session, inbox, [msg], process=False)
    outcome = process_event(session, created[0]) if created else None  # inserted just now: no read back
    message = outcome.message if outcome is not None else None
    conv = outcome.conversation if outcome is not None else None
    if message is None:  # a retry of a stored message (same client id): find what the first attempt stored
        event = session.scalar(
            select(InboundEvent).where(
                InboundEvent.inbox_id == inbox.id, InboundEvent.provider_id == msg.provider_message_id
            )
        )
        if event is None or event.message_id is None:
            raise ProblemError.said("err_webchat_not_stored").also(status=503, title="Unavailable")
        message = session.get(Message, event.message_id)
        assert message is not None
    if locale:
        conv = conv if conv is not None else session.get(Conversation, message.conversation_id)
        customer = session.get(Customer, conv.customer_id) if conv is not None else None
        if customer is not None and not customer.locale:
            customer.locale = locale
            session.flush()
    return message


def ensure_conversation(session: Session, inbox: Inbox, visitor: Visitor) -> Conversation:
    """The visitor's conversation, opened on demand (uploads before the first text message)."""
    conv, _ = resolve_conversation(session, inbox, _inbound(visitor, "upload", "", None, []))
    return conv


def upload(
    session: Session, inbox: Inbox, visitor: Visitor, filename: str, content_type: str, data: bytes
) -> dict[str, Any]:
    """Store an image/video after checking type (declared and sniffed) and size."""
    content_type = content_type.split(";", 1)[0].strip().lower()
    if content_type not in SIGNATURES:
        raise InvalidInput.said("err_webchat_upload_type")
    limit = config.max_video_bytes() if content_type.startswith("video/") else config.max_image_bytes()
    if len(data) > limit:
        raise ProblemError.said("err_webchat_upload_too_large", mb=limit // (1024 * 1024)).also(
            status=413, title="Payload too large"
        )
    if not data:
        raise InvalidInput.said("err_webchat_upload_empty")
    sigs = SIGNATURES[content_type]
    if content_type in ("video/mp4", "video/quicktime"):
        ok = data[4:8] == b"ftyp"
    elif content_type == "image/webp":
        ok = data.startswith(b"RIFF") and data[8:12] == b"WEBP"
    else:
        ok = any(data.startswith(s) for s in sigs)
    if not ok:
        raise InvalidInput.said("err_webchat_upload_content")
    conv = ensure_conversation(session, inbox, visitor)
    VISITOR_UPLOADS.enforce(
        session,
        [Budget(ChannelAttachment.conversation_id == conv.id, UPLOADS_PER_WINDOW)],
        "err_webchat_too_many_files",
    )
    row = store(
        session,
        brand_id=inbox.brand_id,
        conversation_id=conv.id,
        filename=filename,
        content_type=content_type,
        data=data,
    )
    return describe(row)


def public_message(m: Message) -> dict[str, Any]:
    """What a visitor may see of a message (plain; `public_messages` adds rendering and buttons)."""
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "sender_type": m.sender_type,
        "body": m.body,
        "content_type": m.content_type,
        "attachments": m.attachments,
        "created_at": m.created_at.isoformat(),
    }


def public_messages(session: Session, rows: list[Message]) -> list[dict[str, Any]]:
    """Messages as the widget shows them: safe HTML for rich answers, quick replies and vote buttons."""
    from kefu.channels.feedback import actions, already_voted
    from kefu.knowledge.render import render_messages

    rendered = render_messages(session, rows, "web_chat")
    acts = {m.id: actions(m) for m in rows}
    votes = already_voted(session, [mid for mid, a in acts.items() if a.ask_feedback])
    agent_ids = {m.agent_id for m in rows if m.sender_type == "agent" and m.agent_id is not None}
    names: dict[int, str] = {}
    if agent_ids:
        from kefu.auth.models import Agent

        names = {a.id: a.name for a in session.scalars(select(Agent).where(Agent.id.in_(agent_ids)))}
    haptic = _haptic_conversations(session, [m for m in rows if (m.meta or {}).get("notice")])
    out = []
    for m in rows:
        item = public_message(m)
        if (m.meta or {}).get("notice"):
            # Important notices are announced to screen readers; they vibrate for low-vision customers (#17).
            item["notice"] = True
            item["haptic"] = m.conversation_id in haptic
        if m.agent_id is not None and m.agent_id in names:
            item["sender_name"] = names[m.agent_id]  # the widget labels agent replies with who answered
        html = rendered[m.id].html
        if m.sender_type == "bot" and html is not None and (m.meta or {}).get("faq_id") is not None:
            item["html"] = str(html)
        a = acts[m.id]
        if a.quick_replies:
            item["quick_replies"] = [{"label": q.label, "text": q.text} for q in a.quick_replies]
        if a.ask_feedback:
            item["feedback"] = {"ask": True, "voted": votes.get(m.id)}
        out.append(item)
    return out


def declare_needs(session: Session, inbox: Inbox, visitor: Visitor, cmd: DeclareNeeds) -> list[str]:
    """The visitor declares their own accessibility needs in the widget (their conversation's customer)."""
    conv = find_conversation(session, visitor)
    customer = session.get(Customer, conv.customer_id) if conv is not None and conv.customer_id else None
    if customer is None:
        customer, _ = find_or_create_by_identity(session, inbox.brand_id, "web", visitor.visitor_id)
    declare(session, customer, cmd, None, source="widget")
    return needs_of(session, customer.id)


def _haptic_conversations(session: Session, notices: list[Message]) -> set[int]:
    """Conversations whose customer declared blindness or low vision (their notices also vibrate)."""
    from kefu.customers.accessibility import needs_by_customer

    if not notices:
        return set()
    owners = dict(
        session.execute(
            select(Conversation.id, Conversation.customer_id).where(
                Conversation.id.in_({m.conversation_id for m in notices})
            )
        ).all()
    )
    needs = needs_by_customer(session, {c for c in owners.values() if c is not None})
    return {conv for conv, cust in owners.items() if VISION & set(needs.get(cust, []))}


def visitor_message(session: Session, visitor: Visitor, message_id: int) -> dict[str, Any] | None:
    """One customer-visible message of the visitor's conversation, rendered (None when not theirs)."""
    m = session.get(Message, message_id)
    if m is None or m.is_note or not _owns(session, visitor, m.conversation_id):
        return None
    return public_messages(session, [m])[0]


def _owns(session: Session, visitor: Visitor, conversation_id: int | None) -> bool:
    conv = session.get(Conversation, conversation_id) if conversation_id else None
    return conv is not None and conv.inbox_id == visitor.inbox_id and conv.external_thread_id == thread_key(visitor)


def vote(session: Session, visitor: Visitor, message_id: int, helpful: bool) -> None:
    """The visitor rates a bot answer of their own conversation (once per message)."""
    from kefu.channels.feedback import customer_vote

    m = session.get(Message, message_id)
    if m is None or not _owns(session, visitor, m.conversation_id):
        raise NotFound.said("err_channels_no_bot_answer")
    conv = session.get(Conversation, m.conversation_id)
    assert conv is not None
    customer_vote(session, conv, message_id, helpful)


def replay(session: Session, visitor: Visitor, after_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Customer-visible messages after `after_id` (internal notes never included)."""
    conv = find_conversation(session, visitor)
    if conv is None:
        return []
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.id > after_id, Message.is_note.is_(False))
        .order_by(Message.id)
        .limit(limit)
    )
    return public_messages(session, list(rows))


def visitor_attachment(session: Session, visitor: Visitor, attachment_id: int) -> tuple[ChannelAttachment, Path]:
    """A file of the visitor's own conversation and its path; 404 alike for missing and others' files."""
    row = session.get(ChannelAttachment, attachment_id)
    if row is None or not _owns(session, visitor, row.conversation_id) or on_a_note(session, row):
        raise NotFound.said("err_channels_attachment_not_found")
    path = path_of(row)
    if not path.exists():
        raise NotFound.said("err_channels_attachment_file_missing")
    return row, path
