"""The bot's LLM call happens with no write transaction open (issue #14): on its own committed database per backend,
the chat-completions server itself checks, while the bot waits for it, that another writer can take the write lock
(SQLite) or that no other backend holds a transaction id (PostgreSQL); the reply is still written exactly once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kefu.bot.engine import IndexRegistry
from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq
from tests.conftest import PG_URL, Factory, drop_pg_database, migrated_pg, migrated_sqlite
from tests.llm.server import ChatServer, Received, Reply

ANSWER = "退款約 7 個工作天。"


@pytest.fixture(params=["sqlite", "postgresql"])
def own_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Callable[[], bool]]]:
    """A committed, migrated database of its own, and a probe: "could another writer write right now?"."""
    from kefu.core.db import Database

    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        url = migrated_sqlite(path)

        def probe() -> bool:
            conn = sqlite3.connect(path, timeout=0)
            try:
                conn.execute("BEGIN IMMEDIATE")  # the write lock, without waiting for it
                conn.execute("ROLLBACK")
                return True
            except sqlite3.OperationalError:
                return False
            finally:
                conn.close()

        database = Database(url)
        yield database, probe
        database.dispose()
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured")
    import psycopg

    url = migrated_pg(PG_URL)
    try:

        def pg_probe() -> bool:
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                ).fetchone()
            return row is not None and row[0] == 0  # nobody else holds a transaction that has written

        database = Database(url)
        yield database, pg_probe
        database.dispose()
    finally:
        drop_pg_database(PG_URL, url)


def _seed(database: Any) -> dict[str, int]:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.knowledge.service import create_faq

    with database.session() as s:
        make = Factory(s)
        brand = make.brand()
        brand.settings = {"bot": {"answer_threshold": 0.6}}
        faq = create_faq(
            s,
            None,
            CreateFaq(
                brand_id=brand.id,
                locale="zh-TW",
                questions=["退款多久到帳", "申請退款"],
                answer=ANSWER,
                category="refund",
                intent="refund",
                is_published=True,
            ),
        )
        cust = make.customer(brand, locale="zh-TW")
        conv = create_conversation(
            s, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat", status="bot"), actor=None
        )
        msg, _ = add_message(s, conv, sender_type="customer", body="退款多久到帳")
        s.flush()
        return {"conv": conv.id, "msg": msg.id, "faq": faq.id, "brand": brand.id}


def test_no_write_transaction_while_the_llm_answers(
    own_db: tuple[Any, Callable[[], bool]], llm_on: ChatServer, registry: IndexRegistry
) -> None:
    from kefu.audit.models import AuditLog
    from kefu.bot.models import BotState
    from kefu.bot.service import respond
    from kefu.conversations.models import Message

    database, probe = own_db
    ids = _seed(database)
    # The probe itself can see a held write transaction (so a pass below means something).
    with database.session() as s:
        s.add(BotState(conversation_id=ids["conv"], failures=0, clarify_options=[], max_anger=0))
        s.flush()
        assert probe() is False
        s.rollback()
    assert probe() is True

    free: list[bool] = []

    def script(r: Received) -> Reply:
        free.append(probe())
        return Reply("您好，退款約 7 個工作天。")

    llm_on.script = script
    decision = respond(database.sessionmaker, ids["conv"], ids["msg"], registry)
    assert decision is not None and decision.action == "answer"
    assert free == [True]  # the bot was waiting for the model with nothing locked
    # Exactly once: a replay (job retried after a crash) neither calls the model again nor writes a second reply.
    assert respond(database.sessionmaker, ids["conv"], ids["msg"], registry) is None
    assert len(llm_on.received) == 1
    with database.session() as s:
        replies = list(
            s.scalars(select(Message).where(Message.conversation_id == ids["conv"], Message.sender_type == "bot"))
        )
        assert [m.body for m in replies] == ["您好，退款約 7 個工作天。"]
        assert replies[0].meta["llm"] is True and replies[0].meta["faq_id"] == ids["faq"]
        audits = s.scalars(select(AuditLog).where(AuditLog.action == "llm.phrase_answer"))
        outcomes = [a.details["outcome"] for a in audits]
        assert outcomes == ["ok"]


def test_handoff_summary_is_also_fetched_before_the_write(
    own_db: tuple[Any, Callable[[], bool]], llm_on: ChatServer, registry: IndexRegistry
) -> None:
    from kefu.bot.service import respond
    from kefu.conversations.models import Conversation
    from kefu.conversations.service import add_message
    from kefu.tickets.models import Ticket

    database, probe = own_db
    ids = _seed(database)
    with database.session() as s:
        conv = s.get(Conversation, ids["conv"])
        msg, _ = add_message(s, conv, sender_type="customer", body="我要找真人客服")
        s.flush()
        handoff_msg = msg.id
    free: list[bool] = []

    def script(r: Received) -> Reply:
        free.append(probe())
        return Reply("客戶詢問退款進度，要求轉真人客服。")

    llm_on.script = script
    decision = respond(database.sessionmaker, ids["conv"], handoff_msg, registry)
    assert decision is not None and decision.action == "handoff"
    assert free == [True]
    with database.session() as s:
        conv = s.get(Conversation, ids["conv"])
        ticket = s.get(Ticket, conv.ticket_id)
        assert ticket.custom_fields["bot"]["summary"] == "客戶詢問退款進度，要求轉真人客服。"


def test_an_agent_taking_over_during_the_llm_call_wins(
    own_db: tuple[Any, Callable[[], bool]], llm_on: ChatServer, registry: IndexRegistry
) -> None:
    """The write step re-checks the conversation: an agent who took it over while the model was thinking is not
    talked over by the bot; the call is still audited (as discarded) and the message is marked handled once."""
    from kefu.audit.models import AuditLog
    from kefu.bot.service import respond
    from kefu.conversations.models import Conversation, Message

    database, _ = own_db
    ids = _seed(database)

    def script(r: Received) -> Reply:
        with database.session() as s:  # possible only because the bot holds no write lock meanwhile
            conv = s.get(Conversation, ids["conv"])
            conv.status = "open"
        return Reply("您好，退款約 7 個工作天。")

    llm_on.script = script
    assert respond(database.sessionmaker, ids["conv"], ids["msg"], registry) is None
    assert respond(database.sessionmaker, ids["conv"], ids["msg"], registry) is None  # a replay: nothing more
    assert len(llm_on.received) == 1
    with database.session() as s:
        bot = s.scalars(select(Message).where(Message.conversation_id == ids["conv"], Message.sender_type == "bot"))
        assert list(bot) == []
        assert s.get(Message, ids["msg"]).meta["bot_handled"] is True
        audits = s.scalars(select(AuditLog).where(AuditLog.action == "llm.phrase_answer"))
        assert [a.details["outcome"] for a in audits] == ["discarded"]
