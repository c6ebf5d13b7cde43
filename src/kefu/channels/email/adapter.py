"""Email adapter: token-verified threading (our own Message-IDs / plus-tagged reply address, sender must be the
conversation's customer), auto-acks with loop protection, SMTP sending with threading headers."""

from __future__ import annotations

import email.utils
import re
import smtplib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels import config as channel_config
from kefu.channels.base import ChannelAdapter, SendContext, SendResult, register
from kefu.channels.email.mime import build_reply, extract_ticket_number, parse_email, to_inbound
from kefu.channels.email.smtp import SmtpRelay, deliver
from kefu.channels.email.tokens import (
    conversation_from_addresses,
    conversation_from_message_ids,
    make_message_id,
    recipient_addresses,
    reply_address,
    sender_verdict,
)
from kefu.channels.media import outbound
from kefu.channels.media import read as read_file
from kefu.channels.types import Attachment, InboundMessage, PermanentSendError, RetryableSendError
from kefu.core.db import SessionFactory

if TYPE_CHECKING:
    from kefu.brands.models import Inbox
    from kefu.conversations.models import Conversation, Message

DEFAULT_ACK = (
    "您好，我們已收到您的來信，客服人員將盡快回覆。\nThank you, we have received your message and will reply soon."
)


def parse_raw(raw: bytes) -> InboundMessage:
    """Normalize one RFC 5322 message."""
    return to_inbound(parse_email(raw))


def inbox_address(config: Mapping[str, Any]) -> str:
    """The inbox's own address."""
    return str(config.get("address") or "").strip().lower()


def message_id_domain(config: Mapping[str, Any]) -> str:
    addr = inbox_address(config)
    return str(config.get("message_id_domain") or (addr.rsplit("@", 1)[1] if "@" in addr else "kefu.local"))


def _ticket_prefix_pattern(session: Session, brand_id: int) -> str:
    from kefu.brands.models import Brand

    brand = session.get(Brand, brand_id)
    return re.escape(brand.ticket_prefix) if brand is not None else "KF"


def _sender_customer_id(session: Session, inbox: Inbox, sender: str) -> int | None:
    from kefu.customers.models import CustomerIdentity

    if not sender:
        return None
    return session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.brand_id == inbox.brand_id,
            CustomerIdentity.kind == "email",
            CustomerIdentity.external_id == sender.lower(),
        )
    )


def _own_ticket_id(session: Session, inbox: Inbox, subject: str | None, customer_id: int) -> int | None:
    """The ticket whose number the subject quotes, when it belongs to `customer_id`."""
    from kefu.tickets.models import Ticket

    number = extract_ticket_number(subject, _ticket_prefix_pattern(session, inbox.brand_id))
    if not number:
        return None
    from kefu.conversations.models import Conversation

    ticket = session.scalar(select(Ticket).where(Ticket.brand_id == inbox.brand_id, Ticket.number == number))
    if ticket is None:
        return None
    if ticket.customer_id == customer_id:
        return ticket.id
    linked = session.scalar(
        select(Conversation.id)
        .where(Conversation.ticket_id == ticket.id, Conversation.customer_id == customer_id)
        .limit(1)
    )
    return ticket.id if ticket.customer_id is None and linked is not None else None


@register
class EmailAdapter(ChannelAdapter):
    """A support mailbox (SMTP receiver and/or IMAP poller in, SMTP out)."""

    kind = "email"
    identity_kind = "email"

    def thread_key(self, msg: InboundMessage) -> str:
        """The thread root: first References entry, else In-Reply-To, else this Message-ID."""
        refs = msg.raw.get("references") or []
        return str(refs[0] if refs else (msg.raw.get("in_reply_to") or msg.provider_message_id))

    def find_conversation(self, session: Session, inbox: Inbox, msg: InboundMessage) -> Conversation | None:
        """Continue a conversation only for its own customer, found by our token (else Message-ID / ticket number).

        A forged sender (Authentication-Results fail) never continues anything; a stranger quoting someone
        else's ticket number or Message-ID starts a conversation of their own.
        """
        from kefu.conversations.models import Conversation
        from kefu.conversations.models import Message as MessageModel

        verdict = self.verdict(inbox, msg)
        if verdict == "unverified":
            return None
        customer_id = _sender_customer_id(session, inbox, msg.sender_external_id)
        if customer_id is None:
            return None
        cid = conversation_from_message_ids(msg.thread_keys) or conversation_from_addresses(
            recipient_addresses(msg.raw)
        )
        if cid is not None:
            conv = session.get(Conversation, cid)
            ok = conv is not None and conv.brand_id == inbox.brand_id and conv.customer_id == customer_id
            return conv if ok else None
        if msg.thread_keys:
            # Mail threaded on the customer's own earlier messages (or on ids sent before reply tokens existed).
            conv_id = session.scalar(
                select(MessageModel.conversation_id)
                .join(Conversation, Conversation.id == MessageModel.conversation_id)
                .where(
                    MessageModel.brand_id == inbox.brand_id,
                    MessageModel.channel == "email",
                    MessageModel.provider_message_id.in_(list(msg.thread_keys)),
                    Conversation.customer_id == customer_id,
                )
                .order_by(MessageModel.id.desc())
                .limit(1)
            )
            if conv_id is not None:
                return session.get(Conversation, conv_id)
        # Ticket numbers are sequential, so quoting one proves nothing: only an authenticated sender may use it.
        ticket_id = _own_ticket_id(session, inbox, msg.subject, customer_id) if verdict == "verified" else None
        if ticket_id is not None:
            return session.scalar(
                select(Conversation)
                .where(
                    Conversation.ticket_id == ticket_id,
                    Conversation.channel == "email",
                    Conversation.customer_id == customer_id,
                )
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        return None

    def verdict(self, inbox: Inbox, msg: InboundMessage) -> str:
        """Sender authentication of a mail: verified / unverified / unknown (inbox settings decide whom to trust)."""
        cfg = inbox.config or {}
        return sender_verdict(
            msg.raw,
            authserv_id=str(cfg.get("authserv_id") or "") or None,
            require=bool(cfg.get("require_sender_auth")),
        )

    def recipient(self, session: Session, inbox: Inbox, conv: Conversation) -> str | None:
        """The customer's own address; a Reply-To counts only when it is already one of the customer's addresses."""
        from kefu.conversations.models import Message as MessageModel
        from kefu.customers.models import CustomerIdentity

        known = list(
            session.scalars(
                select(CustomerIdentity.external_id)
                .where(CustomerIdentity.customer_id == conv.customer_id, CustomerIdentity.kind == "email")
                .order_by(CustomerIdentity.id.desc())
            )
        )
        last = session.scalar(
            select(MessageModel)
            .where(MessageModel.conversation_id == conv.id, MessageModel.sender_type == "customer")
            .order_by(MessageModel.id.desc())
            .limit(1)
        )
        reply_to = str((last.meta or {}).get("reply_to") or "").lower() if last is not None else ""
        if reply_to and reply_to in known:
            return reply_to
        return known[0] if known else None

    def prepare(self, session: Session, inbox: Inbox, conv: Conversation, message: Message) -> dict[str, Any]:
        """Threading headers and a stable Message-ID (also the idempotency key and our own thread key)."""
        from kefu.knowledge.render import render_message

        rendered = render_message(session, message, "email")  # rich KB answers: text part + sanitised HTML part
        payload = self._payload(session, inbox, conv, rendered.text if rendered.rich else message.body, message)
        from kefu.customers.accessibility import plain_text_only

        # Blind and low-vision customers get the text part only (screen readers read it best).
        if rendered.rich and not plain_text_only(session, conv.customer_id):
            payload["html"] = str(rendered.html)
        files = outbound(session, message)
        if files:
            payload["attachments"] = files
        # Subject and Cc the agent set in the composer (kefu.channels.email.compose); threading headers stay.
        chosen = (message.meta or {}).get("email") or {}
        if chosen.get("subject"):
            payload["subject"] = str(chosen["subject"])
        if chosen.get("cc"):
            payload["cc"] = [str(a) for a in chosen["cc"]]
        return payload

    def _payload(
        self, session: Session, inbox: Inbox, conv: Conversation, text: str, message: Message | None
    ) -> dict[str, Any]:
        from kefu.conversations.models import Message as MessageModel
        from kefu.tickets.models import Ticket

        parent = session.scalar(
            select(MessageModel)
            .where(
                MessageModel.conversation_id == conv.id,
                MessageModel.provider_message_id.is_not(None),
                MessageModel.channel == "email",
            )
            .order_by(MessageModel.id.desc())
            .limit(1)
        )
        meta = dict(parent.meta or {}) if parent is not None else {}
        in_reply_to = (
            parent.provider_message_id if parent is not None and not meta.get("message_id_generated") else None
        )
        references = [*meta.get("references", []), *([in_reply_to] if in_reply_to else [])]
        ticket = session.get(Ticket, conv.ticket_id) if conv.ticket_id else None
        cfg = inbox.config or {}
        # Our Message-ID and Reply-To carry the conversation's token: replies thread back only through them.
        message_id = make_message_id(conv.id, message_id_domain(cfg))
        if message is not None:
            # Customers' replies carry this id in In-Reply-To, which threads them back here.
            message.provider_message_id = message_id
            session.flush()
        return {
            "text": text,
            "subject": conv.subject or meta.get("subject") or "",
            "in_reply_to": in_reply_to,
            "references": references,
            "message_id": message_id,
            "ticket_tag": ticket.number if ticket is not None else None,
            "reply_to": reply_address(inbox_address(cfg), conv.id) if inbox_address(cfg) else None,
            "idempotency_key": message_id,
        }

    def message_meta(self, msg: InboundMessage) -> dict[str, Any]:
        """Reply address (shown, not trusted), references, sender authentication and loop-protection facts."""
        reply_to = msg.raw.get("reply_to") or []
        verdict = sender_verdict(msg.raw)
        return {
            "reply_to": (reply_to[0]["address"] if reply_to else msg.sender_external_id) or None,
            "sender_auth": verdict,
            "unverified_sender": verdict == "unverified",
            "references": list(msg.raw.get("references") or []),
            "message_id_generated": bool(msg.raw.get("message_id_generated")),
            "auto_reply": bool(msg.raw.get("is_auto_reply")),
        }

    def after_inbound(
        self, session: Session, inbox: Inbox, conv: Conversation, message: Message, msg: InboundMessage, new: bool
    ) -> None:
        """Link a new thread to the ticket named in its subject; send the auto-acknowledgement if allowed."""
        from kefu.channels import outbox

        verdict = self.verdict(inbox, msg)  # with the inbox's trusted authserv-id, unlike message_meta
        unverified = verdict == "unverified"
        message.meta = {**(message.meta or {}), "sender_auth": verdict, "unverified_sender": unverified}
        if not new:
            return
        cfg = inbox.config or {}
        if conv.ticket_id is None and verdict == "verified":
            # Only the ticket's own customer links a new thread to it by quoting its number.
            conv.ticket_id = _own_ticket_id(session, inbox, msg.subject, conv.customer_id)
        sender = msg.sender_external_id
        if not cfg.get("auto_ack") or not sender or msg.raw.get("is_auto_reply") or sender == inbox_address(cfg):
            return  # never answer machines (RFC 3834), bulk mail or ourselves
        if unverified:
            return  # no backscatter to the address a forger put in From
        if outbox.automatic_limit_reached(session, inbox.id, sender, channel_config.auto_ack_per_hour()):
            return  # a sender (or a loop) hammering us gets at most N acks per hour
        text = cfg["auto_ack"] if isinstance(cfg["auto_ack"], str) else DEFAULT_ACK
        payload = self._payload(session, inbox, conv, text, None)
        payload["automatic"] = True
        key = payload.pop("idempotency_key")
        outbox.queue(
            session,
            inbox=inbox,
            recipient=sender,
            payload=payload,
            conversation=conv,
            automatic=True,
            idempotency_key=key,
        )

    def send(self, ctx: SendContext) -> SendResult:
        """Build the threaded reply and hand it to the configured SMTP relay."""
        cfg, p = ctx.config, ctx.payload
        host = str(cfg.get("smtp_host") or "")
        if not host:
            raise PermanentSendError("email inbox has no smtp_host", code="no_smtp_host")
        from_addr = email.utils.formataddr((str(cfg.get("from_name") or ""), inbox_address(cfg)))
        files: list[Attachment] = []
        for item in p.get("attachments") or []:
            try:
                data = read_file(item)
            except OSError as exc:  # erased or lost since the agent attached it: fail visibly, never send without it
                raise PermanentSendError(
                    f"attachment {item.get('filename')!r} is no longer stored", code="attachment_gone"
                ) from exc
            files.append(Attachment(str(item["filename"]), str(item["content_type"]), len(data), data=data))
        msg = build_reply(
            from_addr=from_addr,
            to=ctx.recipient,
            text=str(p.get("text") or ""),
            html=str(p["html"]) if p.get("html") else None,
            subject=str(p.get("subject") or ""),
            in_reply_to=p.get("in_reply_to"),
            references=list(p.get("references") or []),
            message_id=str(p["message_id"]),
            ticket_tag=p.get("ticket_tag"),
            reply_to=p.get("reply_to") or None,
            cc=[str(a) for a in p.get("cc") or []],
            automatic=bool(p.get("automatic")),
            message_id_domain=message_id_domain(cfg),
            attachments=files,
            standalone=bool(p.get("standalone")),
        )
        try:
            envelope = [ctx.recipient, *(str(a) for a in p.get("cc") or [] if str(a) != ctx.recipient)]
            # Well inside the outbox's lease: past it another sender may take the row over and send it again.
            deadline = 0.75 * channel_config.settings().outbox_send_lease_seconds
            refused = deliver(
                SmtpRelay.from_inbox(cfg),
                msg,
                envelope_from=inbox_address(cfg),
                to_addrs=envelope,
                deadline=deadline,
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                # 4xx at RCPT is temporary (greylisting, full mailbox, rate limits): try again later.
                raise RetryableSendError(f"recipient deferred: {exc.recipients}", status_code=codes[0]) from exc
            raise PermanentSendError(f"recipient refused: {exc.recipients}", code="recipient_refused") from exc
        except smtplib.SMTPResponseException as exc:
            err = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentSendError(err, status_code=exc.smtp_code) from exc
            raise RetryableSendError(err, status_code=exc.smtp_code) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableSendError(f"SMTP connection failed: {exc!r}") from exc
        if refused:
            raise PermanentSendError(f"recipient refused: {refused}", code="recipient_refused")
        return SendResult(str(p["message_id"]), {"smtp": host})

    def periodic(self, factory: SessionFactory) -> None:
        """Poll every IMAP-configured email inbox that is due."""
        from kefu.channels.email.imap import poll_due

        poll_due(factory)
