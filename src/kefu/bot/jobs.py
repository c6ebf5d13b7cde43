"""Bot background jobs: answer inbound customer messages, refit a brand's index."""

from __future__ import annotations

from typing import Any

from kefu.bot.classifier import classifier_factory
from kefu.bot.engine import get_registry
from kefu.bot.service import handle_customer_message
from kefu.channels.service import on_inbound
from kefu.conversations.models import Conversation
from kefu.core.db import get_database
from kefu.core.jobs import job
from kefu.tickets.classify import set_classifier_factory


@job("bot.handle_message")
def handle_message(payload: dict[str, Any]) -> None:
    """Run the dialogue policy for one inbound customer message.

    The brand's index is made ready first, with short read-only sessions of its own; only then does the write
    transaction start, so a (re)fit never holds a database lock.
    """
    database = get_database()
    conversation_id = int(payload["conversation_id"])
    with database.session() as session:
        conv = session.get(Conversation, conversation_id)
        brand_id, bot_owned = (conv.brand_id, conv.status == "bot") if conv is not None else (None, False)
    if brand_id is None:
        return
    if bot_owned:  # conversations humans own only get the emotion check: no index needed
        get_registry().ensure(brand_id, database.sessionmaker)
    with database.session() as session:
        handle_customer_message(session, conversation_id, int(payload["message_id"]))


@job("bot.rebuild_index")
def rebuild_index(payload: dict[str, Any]) -> None:
    """Refit a brand's knowledge index in this process (outside any transaction)."""
    get_registry().build(int(payload["brand_id"]), get_database().sessionmaker)


@on_inbound
def on_customer_message(payload: dict[str, Any]) -> None:
    """Every committed inbound customer message: emotion/anger check always, bot reply when the bot owns it."""
    if payload.get("sender_type") == "customer":
        handle_message(payload)


# New tickets are classified by the bot's NLU (trained on the KB and on agents' corrections).
set_classifier_factory(classifier_factory)
