"""The live bot with the real ranker: brand isolation of every KB query, locale copies, options, small talk, eval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kefu.bot.engine import IndexRegistry
from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq

DATA = Path(__file__).parent / "data"


@pytest.fixture
def registry() -> Iterator[IndexRegistry]:
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime

    reg = IndexRegistry(check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


@pytest.fixture
def kb_queries() -> Iterator[list[str]]:
    """Every statement any session runs against kb_faqs, as SQL text (to check each one is brand-scoped)."""
    seen: list[str] = []

    def listen(state: Any) -> None:
        stmt = state.statement
        tables = {getattr(f, "name", "") for f in getattr(stmt, "get_final_froms", lambda: [])()}
        if "kb_faqs" in tables:
            where = getattr(stmt, "whereclause", None)
            seen.append(str(where) if where is not None else "<no where>")

    event.listen(Session, "do_orm_execute", listen)
    yield seen
    event.remove(Session, "do_orm_execute", listen)


def _kb(db: Any, brand: Any, private: str) -> None:
    from kefu.knowledge.service import create_faq

    rows = [
        (
            "pwd",
            "zh-TW",
            ["網銀密碼忘記了怎麼辦", "網路銀行密碼要怎麼重設", "忘記網銀登入密碼"],
            f"重設密碼（{private}）",
        ),
        ("loan", "zh-TW", ["信貸利率是多少", "信貸的年利率多少", "個人信用貸款利息"], f"信貸 2.5%（{private}）"),
        ("home", "zh-TW", ["房貸利率是多少", "房貸的年利率多少", "房屋貸款利息"], f"房貸 1.9%（{private}）"),
        ("card", "zh-TW", ["信用卡遺失怎麼辦", "卡片不見了怎麼掛失", "信用卡被偷了"], f"請掛失（{private}）"),
    ]
    for ext, locale, qs, answer in rows:
        create_faq(
            db,
            None,
            CreateFaq(
                brand_id=brand.id,
                locale=locale,
                external_id=ext,
                questions=qs,
                answer=answer,
                intent=ext,
                category="general",
            ),
        )


def _conv(db: Any, make: Any, brand: Any, locale: str = "zh-TW") -> Any:
    from kefu.conversations.service import create_conversation

    cust = make.customer(brand, locale=locale)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="api", status="bot"), actor=None
    )
    db.commit()
    return conv


def _say(db: Any, conv: Any, text: str, registry: IndexRegistry) -> Any:
    from kefu.bot.service import handle_customer_message
    from kefu.conversations.models import Message
    from kefu.conversations.service import add_message

    msg, _ = add_message(db, conv, sender_type="customer", body=text)
    decision = handle_customer_message(db, conv.id, msg.id, registry)
    db.commit()
    reply = db.scalars(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.sender_type == "bot")
        .order_by(Message.id.desc())
    ).first()
    return decision, reply


def test_every_kb_query_of_the_bot_is_brand_scoped(
    db: Any, make: Any, registry: IndexRegistry, kb_queries: list[str]
) -> None:
    from kefu.knowledge.service import create_faq

    a, b = make.brand(), make.brand()
    _kb(db, a, "A")
    _kb(db, b, "B")
    # Brand B also has English copies; brand A has none. A's English-speaking customer must never get B's text.
    for ext in ("pwd", "loan"):
        create_faq(
            db,
            None,
            CreateFaq(
                brand_id=b.id,
                locale="en",
                external_id=ext,
                questions=[f"{ext} question"],
                answer=f"private answer of B ({ext})",
                intent=ext,
                category="general",
            ),
        )
    db.commit()
    conv = _conv(db, make, a, locale="en")
    texts = ["網銀密碼忘記了怎麼辦", "forgot my online banking password 網銀密碼", "利率", "1", "我要找真人客服"]
    replies = [_say(db, conv, t, registry)[1].body for t in texts]
    assert not any("B" in r and "private" in r for r in replies), replies
    from kefu.bot.service import assist_suggestions, suggest

    suggestions = suggest(db, a.id, "forgot password 網銀密碼", "en", registry=registry)
    assert suggestions and not any("private" in s["answer"] for s in suggestions)
    assist_suggestions(db, conv)
    assert kb_queries, "the bot path ran no KB query at all?"
    unscoped = [w for w in kb_queries if "kb_faqs.brand_id" not in w]
    assert not unscoped, f"KB queries without a brand filter: {unscoped}"


def test_locale_copies_count_once_and_answer_in_customer_locale(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _kb(db, brand, "tw")
    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-CN",
            external_id="pwd",
            questions=["网银密码忘记了怎么办"],
            answer="简体答案",
            intent="pwd",
        ),
    )
    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="en",
            external_id="pwd",
            questions=["forgot password"],
            answer="English answer",
            intent="pwd",
        ),
    )
    conv = _conv(db, make, brand, locale="zh-CN")
    d, reply = _say(db, conv, "网银密码忘记了怎么办", registry)
    assert d.action == "answer" and reply.body == "简体答案" and reply.meta["ask_feedback"] is True
    index = registry.get(db, brand.id)
    keys = [c.key for c in index.search("網銀密碼忘記", 5)]
    assert len(keys) == len(set(keys)) and keys[0] == "ext:pwd"
    conv2 = _conv(db, make, brand, locale="zh-TW")
    d, reply = _say(db, conv2, "請問網銀密碼忘記了怎麼辦？", registry)  # exact question + punctuation
    assert d.action == "answer" and reply.body == "重設密碼（tw）"


def _offered(db: Any, make: Any, registry: IndexRegistry) -> Any:
    """A conversation whose bot, told to answer nothing, has just offered options for "利率多少"."""
    brand = make.brand()
    brand.settings = {"bot": {"answer_threshold": 0.9999, "clarify_threshold": 0.0}}
    _kb(db, brand, "x")
    conv = _conv(db, make, brand)
    return (conv, *_say(db, conv, "利率多少", registry))


def test_options_have_quick_replies_and_accept_number_label_or_text(
    db: Any, make: Any, registry: IndexRegistry
) -> None:
    conv, d, reply = _offered(db, make, registry)
    assert d.action == "clarify" and 2 <= len(d.options) <= 3
    qr = reply.meta["quick_replies"]
    lines = reply.body.splitlines()[1 : len(d.options) + 1]
    assert [f"{i}. {q['text']}" for i, q in enumerate(qr[: len(d.options)], 1)] == lines  # sends the whole question
    assert all(len(q["label"]) <= 20 for q in qr) and reply.meta["clarify"] == list(d.options)
    assert "1." in reply.body and "2." in reply.body  # numbered text for channels without buttons
    label = qr[1]["label"]
    d2, _ = _say(db, conv, label, registry)
    assert d2.action == "answer" and d2.faq_id == d.options[1] and d2.reason == "clarified"
    _say(db, conv, "利率多少", registry)
    d3, _ = _say(db, conv, "第一個", registry)
    assert d3.action == "answer" and d3.reason == "clarified"


def test_small_talk_gets_a_polite_reply_and_no_complaint_ticket(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.tickets.models import Ticket

    brand = make.brand()
    _kb(db, brand, "x")
    conv = _conv(db, make, brand, locale="zh-CN")
    for text in ("你好", "谢谢", "早安"):
        d, reply = _say(db, conv, text, registry)
        assert d.action == "smalltalk" and reply.meta.get("faq_id") is None, (text, d)
    assert "您好" in _say(db, conv, "你好", registry)[1].body
    d, reply = _say(db, conv, "hi", registry)
    assert d.action == "smalltalk" and reply.body.startswith("Hi")
    d, _ = _say(db, conv, "我要找真人客服", registry)
    assert d.action == "handoff"
    ticket = db.get(Ticket, conv.ticket_id)
    assert ticket.category != "complaint" and ticket.subject != "你好"


def test_bot_eval_cli_runs_the_live_engine_on_a_tiny_kb() -> None:
    from typer.testing import CliRunner

    from kefu.cli import app

    result = CliRunner().invoke(
        app, ["bot", "eval", "--kb", str(DATA / "tiny_kb.csv"), "--test", str(DATA / "tiny_test.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["n"] == 12 and out["n_answerable"] == 8
    assert out["answered_wrong"] == 0 and out["chitchat_answered"] == 0
    assert out["reachable_rate"] == 1.0 and out["smalltalk"] == 4
    assert out["build_seconds"] > 0 and out["p95_ms"] > 0 and out["peak_rss_mb"] > 0


def test_fallback_says_what_the_bot_can_do_and_offers_a_person(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    brand.settings = {"bot": {"answer_threshold": 0.9999, "clarify_threshold": 0.9999}}
    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            external_id="a",
            questions=["信用卡年費多少"],
            answer="免年費",
            category_path=["信用卡", "年費"],
        ),
    )
    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            external_id="b",
            questions=["房貸利率多少"],
            answer="1.9%",
            category_path=["貸款"],
        ),
    )
    conv = _conv(db, make, brand)
    d, reply = _say(db, conv, "股票開戶的手續費怎麼算", registry)
    assert d.action == "fallback"
    assert "信用卡" in reply.body and "貸款" in reply.body and "真人" in reply.body
    assert reply.meta["quick_replies"] == [{"label": "真人客服", "text": "真人"}]
    d, _ = _say(db, conv, "留言", registry)
    assert d.action == "handoff" and conv.ticket_id is not None


def test_picking_an_option_withdrawn_since_it_was_offered_gets_a_reply(
    db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.knowledge.models import FaqEntry

    conv, d, _ = _offered(db, make, registry)
    assert d.action == "clarify" and len(d.options) >= 2
    withdrawn = db.get(FaqEntry, d.options[1])
    withdrawn.is_published = False
    db.commit()
    _, reply = _say(db, conv, "2", registry)
    assert reply.meta.get("fallback") is True and reply.meta.get("faq_id") is None
    assert withdrawn.answer not in reply.body and reply.meta["quick_replies"]  # a person is offered
