"""LINE adapter: signed webhooks, follow/unfollow/text/media/sticker, replies by reply token or push."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.channels.base import ChannelAdapter, SendContext, SendResult, register
from kefu.channels.client import download
from kefu.channels.feedback import MAX_QUICK_REPLIES, actions, customer_locale, parse_vote, vote_data, vote_labels
from kefu.channels.line.protocol import (
    DEFAULT_API_BASE,
    DEFAULT_DATA_API_BASE,
    LineApiError,
    LineClient,
    LinePermanentError,
    parse_webhook,
    verify_signature,
)
from kefu.channels.media import LINE_IMAGE_TYPES, outbound
from kefu.channels.types import Attachment, EventType, InboundMessage, OutcomeUnknownError, PermanentSendError
from kefu.core.db import utcnow
from kefu.knowledge.render import render_message

if TYPE_CHECKING:
    from kefu.brands.models import Inbox
    from kefu.conversations.models import Conversation, Message


def quick_reply_items(message: Message, locale: str) -> list[dict[str, Any]]:
    """LINE quick-reply buttons: message actions for the bot's options, postback actions for the vote."""
    acts = actions(message)
    items: list[dict[str, Any]] = [
        {"type": "action", "action": {"type": "message", "label": q.label[:20], "text": q.text[:300]}}
        for q in acts.quick_replies
    ]
    if acts.ask_feedback:
        yes, no, _ = vote_labels(locale)
        for helpful, label in ((True, yes), (False, no)):
            action = {"type": "postback", "label": label[:20], "data": vote_data(message.id, helpful)}
            items.append({"type": "action", "action": {**action, "displayText": label}})
    return items[:MAX_QUICK_REPLIES]


def file_message(item: Mapping[str, Any]) -> dict[str, Any]:
    """A LINE message for one attached file: an image message LINE fetches from our signed https link; other
    documents as a text message with that link (the Messaging API has no file message type)."""
    url = str(item.get("url") or "")
    if str(item.get("content_type") or "") in LINE_IMAGE_TYPES:
        return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
    size = int(item.get("size") or 0)
    shown = f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"
    return {"type": "text", "text": f"📎 {item.get('filename')} ({shown})\n{url}"}


# At most five message objects per reply or push request.
MAX_MESSAGES = 5
# LINE reply tokens expire about a minute after the event; past this we push instead.
REPLY_TOKEN_TTL_SECONDS = 50
# How long a reply send is left to its sender before another looks at it (the HTTP timeout is 10 s).
REPLY_SEND_LEASE_SECONDS = 15.0
MAX_TEXT = 5000


def _fresh(at: Any, ttl: float) -> bool:
    return at is not None and (utcnow() - datetime.fromisoformat(str(at))).total_seconds() < ttl


def client_for(config: Mapping[str, Any]) -> LineClient:
    """A LINE client for an inbox config (api_base/data_api_base point at a test server or a proxy)."""
    token = str(config.get("channel_access_token") or "")
    if not token:
        raise PermanentSendError("LINE inbox has no channel_access_token", code="inbox_incomplete")
    api_base = str(config.get("api_base") or DEFAULT_API_BASE)
    data_base = str(config.get("data_api_base") or (api_base if config.get("api_base") else DEFAULT_DATA_API_BASE))
    return LineClient(token, api_base, data_base, timeout=float(config.get("timeout", 10)))


@register
class LineAdapter(ChannelAdapter):
    """LINE Official Account."""

    kind = "line"
    identity_kind = "line"

    def verify(self, inbox: Inbox, body: bytes, headers: Mapping[str, str]) -> bool:
        """X-Line-Signature over the raw body with the channel secret."""
        return verify_signature(
            str((inbox.config or {}).get("channel_secret") or ""), body, headers.get("x-line-signature")
        )

    def parse(self, inbox: Inbox, body: bytes) -> list[InboundMessage]:
        """One message per webhook event (deduped later by webhookEventId); vote postbacks become feedback."""
        out = []
        for msg in parse_webhook(body):
            if msg.event_type == EventType.POSTBACK and parse_vote(msg.text) is not None:
                msg = replace(msg, event_type=EventType.FEEDBACK)
            out.append(msg)
        return out

    def thread_key(self, msg: InboundMessage) -> str:
        """`user:<id>` (or group/room): one conversation per chat."""
        return msg.thread_keys[0] if msg.thread_keys else f"user:{msg.sender_external_id}"

    def fetch_attachment(self, config: Mapping[str, Any], attachment: Attachment) -> bytes | None:
        """LINE-hosted content through the data API; external content by URL."""
        if attachment.url:
            return download(attachment.url)
        if attachment.provider_id and config.get("channel_access_token"):
            with client_for(config) as client:
                return client.get_content(attachment.provider_id)
        return None

    def recipient(self, session: Session, inbox: Inbox, conv: Conversation) -> str | None:
        """The user/group/room id of the conversation's chat."""
        key = conv.external_thread_id or ""
        return key.split(":", 1)[1] if ":" in key else (super().recipient(session, inbox, conv) or None)

    def prepare(self, session: Session, inbox: Inbox, conv: Conversation, message: Message) -> dict[str, Any]:
        """Text plus the latest unused reply token (claimed here so two replies never race for it)."""
        from kefu.conversations.models import Message as MessageModel

        payload: dict[str, Any] = {"text": render_message(session, message, "line").text}
        files = outbound(session, message)
        if files:
            payload["attachments"] = files
        items = quick_reply_items(message, customer_locale(session, conv))
        if items:
            payload["quick_reply"] = items
        recent = session.scalars(
            select(MessageModel)
            .where(MessageModel.conversation_id == conv.id, MessageModel.sender_type.in_(("customer", "system")))
            .order_by(MessageModel.id.desc())
            .limit(10)
        )
        for prior in recent:
            meta = dict(prior.meta or {})
            if meta.get("reply_token_used"):
                break  # older tokens are older still
            if meta.get("reply_token"):
                payload["reply_token"] = meta["reply_token"]
                payload["reply_token_at"] = meta.get("reply_token_at")
                meta["reply_token_used"] = True
                prior.meta = meta
                break
        return payload

    def plan_send(self, payload: dict[str, Any], attempt: int) -> dict[str, Any]:
        """Fix the mode on the first claim: reply while the token is fresh, else push (saved before sending)."""
        if "mode" not in payload:
            fresh = _fresh(payload.get("reply_token_at"), REPLY_TOKEN_TTL_SECONDS)
            payload["mode"] = "reply" if payload.get("reply_token") and fresh else "push"
        return payload

    def resend_safe(self, payload: Mapping[str, Any]) -> bool:
        """A push carries X-Line-Retry-Key (LINE answers 409 to a duplicate); a reply token is single-use, so a
        reply may be retried with it while it is fresh (LINE refuses a used token) and never pushed instead."""
        if payload.get("mode") != "reply":
            return True
        return _fresh(payload.get("reply_token_at"), REPLY_TOKEN_TTL_SECONDS)

    def send_lease(self, payload: Mapping[str, Any]) -> float | None:
        """A reply is re-examined soon after its sender died, while its token can still settle the outcome."""
        return REPLY_SEND_LEASE_SECONDS if payload.get("mode") == "reply" else None

    def send(self, ctx: SendContext) -> SendResult:
        """Reply by token or push with X-Line-Retry-Key; a reply that may have happened is never pushed again."""
        text = str(ctx.payload.get("text") or "")
        files = [file_message(f) for f in ctx.payload.get("attachments") or []][:MAX_MESSAGES]
        pieces = [text[i : i + MAX_TEXT] for i in range(0, len(text), MAX_TEXT)]
        pieces = pieces[: MAX_MESSAGES - len(files)] if pieces or files else [" "]
        chunks: list[dict[str, Any]] = [{"type": "text", "text": p} for p in pieces] + files
        if ctx.payload.get("quick_reply"):
            chunks[-1]["quickReply"] = {"items": list(ctx.payload["quick_reply"])}
        token = ctx.payload.get("reply_token")
        ttl = float(ctx.config.get("reply_token_ttl", REPLY_TOKEN_TTL_SECONDS))
        fresh = _fresh(ctx.payload.get("reply_token_at"), ttl)
        mode = ctx.payload.get("mode") or ("reply" if token and fresh and ctx.attempt == 1 else "push")
        with client_for(ctx.config) as client:
            if mode == "reply":
                if token and fresh:
                    try:
                        result = client.reply(str(token), chunks)
                        ids = result.sent_message_ids
                        return SendResult(ids[0] if ids else result.request_id, {"mode": "reply"})
                    except LinePermanentError as exc:
                        if ctx.attempt > 1:
                            # A fresh single-use token refused on a retry: the earlier attempt delivered the reply
                            # (a token refused on the first attempt switched this row to push already).
                            return SendResult(None, {"mode": "reply", "deduplicated": str(exc)[:200]})
                        # First attempt: the token was unusable before we ever used it, so nothing was sent.
                elif ctx.attempt > 1:
                    raise OutcomeUnknownError("an earlier reply may have been delivered and its token has expired")
            try:
                result = client.push(ctx.recipient, chunks, retry_key=ctx.idempotency_key)
            except LineApiError as exc:
                exc.payload_update = {"mode": "push"}  # later attempts push with the same key (deduplicated)
                raise
            ids = result.sent_message_ids
            detail = {"mode": "push", "duplicate": result.duplicate}
            return SendResult(ids[0] if ids else result.request_id, detail)
