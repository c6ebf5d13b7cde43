"""Personal data the bot keeps: customer questions queued for review."""

from __future__ import annotations

from sqlalchemy import select

from kefu.bot.models import BotReviewItem
from kefu.conversations.models import Conversation
from kefu.privacy.contract import PersonalData

DECLARATIONS = [
    PersonalData(
        BotReviewItem,
        {"text": "text", "candidates": "json"},
        owned_by=lambda ids: select(BotReviewItem).where(
            BotReviewItem.conversation_id.in_(select(Conversation.id).where(Conversation.customer_id.in_(ids)))
        ),
    ),
]
