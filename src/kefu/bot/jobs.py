"""Bot background jobs: answer inbound customer messages, refit a brand's index."""

from __future__ import annotations

from typing import Any

from kefu.bot.engine import get_registry
from kefu.bot.service import respond
from kefu.channels.service import on_inbound
from kefu.core.db import get_database
from kefu.core.jobs import job


@job("bot.handle_message")
def handle_message(payload: dict[str, Any]) -> None:
    """Run the dialogue policy for one inbound customer message.

    ``respond`` makes the brand's index ready and decides the turn with short read-only sessions, calls the LLM (if
    configured) with no session open, and only then writes the reply in one short transaction.
    """
    respond(get_database().sessionmaker, int(payload["conversation_id"]), int(payload["message_id"]))


@job("bot.rebuild_index")
def rebuild_index(payload: dict[str, Any]) -> None:
    """Refit a brand's knowledge index after an FAQ change, on a background thread of this process (outside any
    transaction; the job thread is not held while it fits). Other processes load the saved result."""
    get_registry().refresh(int(payload["brand_id"]), get_database().sessionmaker)


@on_inbound
def on_customer_message(payload: dict[str, Any]) -> None:
    """Every committed inbound customer message: emotion/anger check always, bot reply when the bot owns it."""
    if payload.get("sender_type") == "customer":
        handle_message(payload)
