"""Messages sent under the bot's name outside the dialogue engine are tagged as announcements, not bot replies."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import kefu
from kefu.conversations.models import ANNOUNCEMENT_KEYS

SRC = Path(kefu.__file__).resolve().parent
# The dialogue engine writes the bot's replies; the demo seeds one past bot reply. Everything else that speaks as
# the bot (survey invitations, service notices) announces, and must say so in its meta.
REPLIERS = ("bot/", "demo/")


def _bot_sends() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            sender = kw.get("sender_type")
            if name == "add_message" and isinstance(sender, ast.Constant) and sender.value == "bot":
                found.append((rel, node.lineno, node))
    return found


def test_every_bot_message_outside_the_engine_is_tagged_as_an_announcement() -> None:
    """A survey or notice sent as the bot carries an ANNOUNCEMENT_KEYS key, so bot containment leaves it out."""
    sends = _bot_sends()
    assert any(rel.startswith("surveys/") for rel, _, _ in sends), "the scan no longer finds the survey invites"
    untagged = []
    for rel, line, call in sends:
        if rel.startswith(REPLIERS):
            continue
        meta = next((k.value for k in call.keywords if k.arg == "meta"), None)
        keys = {k.value for k in getattr(meta, "keys", []) if isinstance(k, ast.Constant)}
        if not keys & set(ANNOUNCEMENT_KEYS):
            untagged.append(f"{rel}:{line}")
    assert not untagged, f"bot messages without an announcement key {ANNOUNCEMENT_KEYS}: {untagged}"


def test_a_csat_invite_does_not_make_a_human_chat_bot_handled(db: Any, make: Any) -> None:
    """Through the real survey sender: an agent-resolved chat with a CSAT invite is not counted as bot-handled."""
    from datetime import timedelta

    from kefu.analytics import service
    from kefu.conversations.commands import CreateConversation
    from kefu.conversations.service import add_message, create_conversation
    from kefu.core.commands import build
    from kefu.core.db import utcnow
    from kefu.surveys.service import send_csat
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    customer = make.customer(brand)
    conv = create_conversation(
        db,
        build(CreateConversation, {"brand_id": brand.id, "customer_id": customer.id, "channel": "web_chat"}),
        actor=None,
    )
    add_message(db, conv, sender_type="customer", body="退款多久到帳？")
    ticket = create_ticket(
        db,
        brand_id=brand.id,
        subject="退款",
        actor=None,
        customer_id=customer.id,
        channel="web_chat",
        conversation_id=conv.id,
    )
    ticket.status = "resolved"
    ticket.resolved_at = utcnow()
    db.flush()
    assert send_csat(db, ticket, now=ticket.resolved_at) is not None
    now = utcnow()
    f = service.resolve_filters(
        db,
        None,
        start=now - timedelta(days=1),
        end=now + timedelta(days=1),
        now=now,
        brand_id=brand.id,
    )
    assert service.bot_containment(db, f) == {"handled": 0, "contained": 0, "rate": None}
