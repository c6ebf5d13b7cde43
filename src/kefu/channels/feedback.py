"""Customer-facing buttons on bot messages: quick replies and "was this helpful?" votes, for every channel.

The bot writes `meta.quick_replies = [{"label", "text"}]` on clarify/fallback messages and `meta.faq_id` +
`meta.ask_feedback` on answers; this module reads that contract once (`actions`), names the vote buttons in the
customer's language and decides who may vote (`customer_vote`): only the customer of the conversation, only on a
bot answer in it, once per message. The widget endpoint and the LINE/Messenger postbacks all go through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.conversations.models import Conversation, Message
from kefu.core import catalog
from kefu.core.errors import Conflict, NotFound

MAX_QUICK_REPLIES = 13  # LINE and Messenger both cap quick replies at 13
FEEDBACK_PREFIX = "kefu:fb:"
QUICK_REPLY_PREFIX = "kefu:qr:"
_FEEDBACK_DATA = re.compile(r"^kefu:fb:(\d{1,18}):([01])$")


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A button that sends `text` as the customer's next message."""

    label: str
    text: str


@dataclass(frozen=True, slots=True)
class Actions:
    """The buttons a customer-visible message offers."""

    quick_replies: tuple[QuickReply, ...] = ()
    ask_feedback: bool = False


def actions(message: Message) -> Actions:
    """Buttons of a message from its meta (defensive: malformed entries are skipped)."""
    if message.sender_type != "bot" or message.is_note:
        return Actions()
    meta: dict[str, Any] = message.meta or {}
    replies: list[QuickReply] = []
    raw = meta.get("quick_replies")
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        label, text = str(item.get("label") or "").strip(), str(item.get("text") or "").strip()
        if label and text:
            replies.append(QuickReply(label[:200], text[:1000]))
        if len(replies) >= MAX_QUICK_REPLIES:
            break
    ask = bool(meta.get("ask_feedback")) and isinstance(meta.get("faq_id"), int)
    return Actions(tuple(replies), ask)


def customer_locale(session: Session, conv: Conversation) -> str:
    """The language buttons are labelled in: the customer's, else the brand's."""
    from kefu.brands.models import Brand
    from kefu.customers.models import Customer

    customer = session.get(Customer, conv.customer_id)
    brand = session.get(Brand, conv.brand_id)
    return (customer.locale if customer else None) or (brand.default_locale if brand else "zh-TW")


def vote_labels(locale: str | None) -> tuple[str, str, str]:
    """(helpful, not helpful, thanks) in the customer's language."""
    texts = catalog.table(locale or catalog.DEFAULT_LOCALE)  # the catalogs' fb_* entries; unknown → zh-TW
    return texts["fb_helpful"], texts["fb_not_helpful"], texts["fb_thanks"]


def vote_data(message_id: int, helpful: bool) -> str:
    """Postback payload of a vote button."""
    return f"{FEEDBACK_PREFIX}{message_id}:{1 if helpful else 0}"


def parse_vote(data: str | None) -> tuple[int, bool] | None:
    """(message id, helpful) from a vote button's postback payload, else None."""
    m = _FEEDBACK_DATA.match((data or "").strip())
    return (int(m.group(1)), m.group(2) == "1") if m else None


def already_voted(session: Session, message_ids: list[int]) -> dict[int, bool]:
    """Existing votes (message id → helpful) among these messages, in one query."""
    from kefu.bot.models import BotFeedback

    if not message_ids:
        return {}
    rows = session.execute(
        select(BotFeedback.message_id, BotFeedback.helpful).where(BotFeedback.message_id.in_(message_ids))
    )
    return {mid: helpful for mid, helpful in rows}


def customer_vote(session: Session, conv: Conversation, message_id: int, helpful: bool) -> None:
    """Record the customer's vote on a bot answer in their own conversation (once; unhelpful → review queue)."""
    from kefu.bot.service import record_feedback

    msg = session.get(Message, message_id)
    if msg is None or msg.conversation_id != conv.id or not actions(msg).ask_feedback:
        raise NotFound.said("err_channels_no_bot_answer")
    if already_voted(session, [msg.id]):
        raise Conflict.said("err_channels_already_rated")
    try:
        with session.begin_nested():
            record_feedback(session, msg.id, helpful)
    except IntegrityError as exc:  # a double tap racing itself: the first vote counts
        raise Conflict.said("err_channels_already_rated") from exc
