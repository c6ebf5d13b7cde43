"""The bot with LLM assist against a real chat-completions server on 127.0.0.1: grounded phrasing, refusal,
hallucination rejection, masking, timeout / 5xx fallback, SSRF guard, hand-off summary, and off by default."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import event, select

from kefu.bot.engine import IndexRegistry
from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq
from tests.llm.server import ChatServer, Received, Reply

FAQ_ANSWER = "退款約 7 個工作天，可在 https://shop.example.com/refund 查詢進度。"
PHONE = "0912345678"
TW_ID = "A123456789"


def _setup(db: Any, make: Any) -> dict[str, Any]:
    from kefu.conversations.service import create_conversation
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    brand.settings = {"bot": {"answer_threshold": 0.6, "margin": 0.1}}
    faqs = {}
    for intent, questions, answer in [
        ("password", ["忘記密碼怎麼辦", "密碼重設"], "請點選登入頁的「忘記密碼」。"),
        ("refund", ["退款多久到帳", "申請退款"], FAQ_ANSWER),
    ]:
        faqs[intent] = create_faq(
            db,
            None,
            CreateFaq(
                brand_id=brand.id,
                locale="zh-TW",
                questions=questions,
                answer=answer,
                category=intent,
                intent=intent,
                is_published=True,
            ),
        )
    cust = make.customer(brand, name="王小明", locale="zh-TW")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat", status="bot"), actor=None
    )
    db.commit()
    return {"brand": brand, "conv": conv, "faqs": faqs}


def _say(db: Any, conv: Any, text: str, registry: IndexRegistry) -> Any:
    """The customer's message is committed, then the bot's turn runs as the job runs it (``respond``)."""
    from sqlalchemy.orm import Session

    from kefu.bot.service import respond
    from kefu.conversations.service import add_message

    msg, _ = add_message(db, conv, sender_type="customer", body=text)
    db.commit()
    connection = db.get_bind()

    def factory() -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    decision = respond(factory, conv.id, msg.id, registry)
    return decision


def _last_bot(db: Any, conv: Any) -> Any:
    from kefu.conversations.models import Message

    return db.scalar(
        select(Message)
        .where(Message.conversation_id == conv.id, Message.sender_type == "bot")
        .order_by(Message.id.desc())
        .limit(1)
    )


def _audits(db: Any, action: str) -> list[dict[str, Any]]:
    from kefu.audit.models import AuditLog

    return [a.details for a in db.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))]


def test_off_by_default_makes_no_calls_and_no_queries(
    db: Any, make: Any, registry: IndexRegistry, chat_server: ChatServer
) -> None:
    from kefu.core.config import Settings, get_settings
    from kefu.llm import service as llm

    assert not llm.enabled(Settings())  # nothing configured → off
    s = _setup(db, make)
    d = _say(db, s["conv"], "退款多久到帳", registry)
    assert d.action == "answer"
    msg = _last_bot(db, s["conv"])
    assert msg.body == FAQ_ANSWER and "llm" not in msg.meta
    assert chat_server.received == []
    assert _audits(db, "llm.phrase_answer") == []
    # The hook costs nothing while off: no SQL, no HTTP.
    statements: list[str] = []
    bind = db.connection()
    event.listen(bind, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert llm.phrase_answer(db, s["conv"], "退款多久到帳", s["faqs"]["refund"].id, FAQ_ANSWER, "zh-TW") is None
    assert llm.handoff_summary(db, s["conv"], "zh-TW") is None
    assert statements == [] and not llm.enabled(get_settings())


def test_grounded_answer_is_phrased_and_cites_the_faq(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.llm import service as llm

    phrased = "您好！退款大約需要 7 個工作天，進度可以到 https://shop.example.com/refund 查詢喔。"
    llm_on.script = lambda r: Reply(phrased)
    s = _setup(db, make)
    _say(db, s["conv"], "請問退款多久到帳", registry)
    msg = _last_bot(db, s["conv"])
    assert msg.body == phrased
    assert msg.meta["faq_id"] == s["faqs"]["refund"].id and msg.meta["llm"] is True
    (req,) = llm_on.received
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test-key"
    assert req.body["model"] == "qwen2.5:7b-instruct" and req.body["stream"] is False
    assert FAQ_ANSWER in req.raw and "退款多久到帳" in req.raw  # grounded in the matched FAQ only
    assert "忘記密碼" not in req.raw
    (audit,) = _audits(db, "llm.phrase_answer")
    assert audit["outcome"] == "ok" and audit["faq_id"] == s["faqs"]["refund"].id
    assert audit["latency_ms"] >= 0 and audit["prompt_tokens"] == 42
    assert not any(v in (phrased, FAQ_ANSWER) for v in audit.values())  # no content in the audit trail
    # The hook's SQL while on: at most the FAQ's question (usually already in the session).
    statements: list[str] = []
    event.listen(db.connection(), "before_cursor_execute", lambda *a: statements.append(a[2]))
    faq = s["faqs"]["refund"]
    assert llm.phrase_answer(db, s["conv"], "請問退款多久到帳", faq.id, FAQ_ANSWER, "zh-TW") == phrased
    assert len(statements) <= 1, statements


def test_nothing_matched_means_no_call_and_the_usual_fallback(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.llm import service as llm

    s = _setup(db, make)
    d = _say(db, s["conv"], "xyz", registry)
    assert d.action in ("fallback", "handoff")
    assert llm_on.received == []  # the phrasing hook never runs without a matched FAQ
    assert llm.phrase_answer(db, s["conv"], "xyz", None, "", "zh-TW") is None
    assert llm_on.received == []


def test_model_refusal_keeps_the_faq_verbatim(llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry) -> None:
    llm_on.script = lambda r: Reply("NO_ANSWER")
    s = _setup(db, make)
    _say(db, s["conv"], "退款多久到帳", registry)
    msg = _last_bot(db, s["conv"])
    assert msg.body == FAQ_ANSWER and "llm" not in msg.meta and msg.meta["faq_id"] == s["faqs"]["refund"].id
    assert [a["outcome"] for a in _audits(db, "llm.phrase_answer")] == ["refused"]


@pytest.mark.parametrize(
    "hallucination",
    [
        "退款約 30 個工作天，可在 https://shop.example.com/refund 查詢進度。",  # changed number
        "退款約十四天，可在 https://shop.example.com/refund 查詢進度。",  # changed number, in Chinese numerals
        "退款約 7 個工作天，詳情請洽 0800-000-123。",  # invented hotline
        "退款約 7 個工作天，請到 https://evil.example.net/refund 查詢。",  # invented link
    ],
)
def test_hallucinated_fact_is_rejected_for_the_verbatim_faq(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry, hallucination: str
) -> None:
    llm_on.script = lambda r: Reply(hallucination)
    s = _setup(db, make)
    _say(db, s["conv"], "退款多久到帳", registry)
    msg = _last_bot(db, s["conv"])
    assert msg.body == FAQ_ANSWER and "llm" not in msg.meta
    (audit,) = _audits(db, "llm.phrase_answer")
    assert audit["outcome"] == "rejected" and audit["reason"] == "ungrounded"


def test_personal_data_is_masked_before_it_leaves(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.llm import service as llm

    leaks: list[str] = []

    def script(r: Received) -> Reply:
        # The server itself checks what it was sent.
        leaks.extend(v for v in (PHONE, "0912-345-678", TW_ID, "ming@example.org") if v in r.raw)
        return Reply("NO_ANSWER")

    llm_on.script = script
    s = _setup(db, make)
    pii_text = f"退款多久到帳？我的手機 {PHONE}，身分證 {TW_ID}，ming@example.org"
    _say(db, s["conv"], pii_text, registry)
    _say(db, s["conv"], "我要找真人客服，電話 0912-345-678", registry)  # hand-off: the summary sees the transcript
    faq = s["faqs"]["refund"]
    assert llm.phrase_answer(db, s["conv"], pii_text, faq.id, faq.answer, "zh-TW") is None  # refused → verbatim
    assert [r.body["messages"][0]["content"].split()[0] for r in llm_on.received] == ["Summarize", "You"]
    assert leaks == []
    for req in llm_on.received:
        assert "0912***678" in req.raw and "A12****789" in req.raw  # masked, still recognisable


@pytest.mark.parametrize(
    "reply",
    [Reply("退款約 7 個工作天。", delay=3.0), Reply("退款約 7 個工作天。", drip=0.05)],
    ids=["silent", "dripping"],
)
def test_timeout_falls_back_within_the_configured_time(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry, monkeypatch: pytest.MonkeyPatch, reply: Reply
) -> None:
    from kefu.core.config import get_settings

    s = _setup(db, make)
    llm_on.script = lambda r: Reply(status=500)
    # Warm-up turn at llm_on's timeout (a 0.5 s one could lapse before a loaded machine answers the 500): the timed
    # turn measures the LLM wait only.
    _say(db, s["conv"], "退款多久到帳", registry)
    monkeypatch.setenv("KEFU_LLM_TIMEOUT", "0.5")
    get_settings.cache_clear()
    # A silent server, or one that drips a byte every 50 ms (each read stays under any per-read timeout).
    llm_on.script = lambda r: reply
    started = time.monotonic()
    _say(db, s["conv"], "退款多久到帳", registry)
    elapsed = time.monotonic() - started
    assert _last_bot(db, s["conv"]).body == FAQ_ANSWER
    assert elapsed < 2.5, elapsed  # the 0.5 s timeout plus the bot's own work on a loaded machine, never the 3 s wait
    assert [a["outcome"] for a in _audits(db, "llm.phrase_answer")] == ["error", "timeout"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_error_falls_back(llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry, status: int) -> None:
    llm_on.script = lambda r: Reply(status=status)
    s = _setup(db, make)
    _say(db, s["conv"], "退款多久到帳", registry)
    assert _last_bot(db, s["conv"]).body == FAQ_ANSWER
    (audit,) = _audits(db, "llm.phrase_answer")
    assert audit["outcome"] == "error" and audit["error"] == f"HTTP {status}"


def test_loopback_endpoint_needs_the_explicit_allow_list(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kefu.core.config import get_settings

    monkeypatch.delenv("KEFU_LLM_ALLOW_NETWORKS")
    get_settings.cache_clear()
    llm_on.script = lambda r: Reply("退款約 7 個工作天。")
    s = _setup(db, make)
    _say(db, s["conv"], "退款多久到帳", registry)
    assert _last_bot(db, s["conv"]).body == FAQ_ANSWER
    assert llm_on.received == []  # the SSRF guard refused 127.0.0.1 before connecting
    (audit,) = _audits(db, "llm.phrase_answer")
    assert audit["outcome"] == "blocked"


def test_handoff_summary_from_the_llm_with_extractive_fallback(
    llm_on: ChatServer, db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.conversations.service import create_conversation
    from kefu.tickets.models import Ticket

    summary = "客戶詢問退款進度，機器人已說明約 7 個工作天；客戶要求轉真人，語氣平和。"

    def script(r: Received) -> Reply:
        return Reply("NO_ANSWER") if "FAQ answer" in r.raw else Reply(f"<think>the user wants…</think>{summary}")

    llm_on.script = script
    s = _setup(db, make)
    _say(db, s["conv"], "退款多久到帳", registry)
    _say(db, s["conv"], "我要找真人客服", registry)
    db.expire_all()
    conv = s["conv"]
    ticket = db.get(Ticket, db.get(type(conv), conv.id).ticket_id)
    assert ticket.custom_fields["bot"]["summary"] == summary
    sent = llm_on.received[-1].raw
    assert "customer: 退款多久到帳" in sent and f"bot: {FAQ_ANSWER}" in sent
    assert [a["outcome"] for a in _audits(db, "llm.handoff_summary")] == ["ok"]

    # An ungrounded summary (a number nobody said) is replaced by the extractive one.
    llm_on.script = lambda r: Reply("NO_ANSWER") if "FAQ answer" in r.raw else Reply("客戶已等了 45 天。")
    conv2 = create_conversation(
        db,
        CreateConversation(
            brand_id=s["brand"].id, customer_id=make.customer(s["brand"]).id, channel="web_chat", status="bot"
        ),
        actor=None,
    )
    db.commit()
    _say(db, conv2, "我要找真人客服", registry)
    db.expire_all()
    ticket2 = db.get(Ticket, db.get(type(conv), conv2.id).ticket_id)
    assert "45" not in ticket2.custom_fields["bot"]["summary"]
    assert ticket2.custom_fields["bot"]["summary"]
    assert [a["outcome"] for a in _audits(db, "llm.handoff_summary")][-1] == "rejected"


def test_a_brand_can_opt_out(llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make)
    s["brand"].settings = {**s["brand"].settings, "llm": {"enabled": False}}
    db.commit()
    _say(db, s["conv"], "退款多久到帳", registry)
    _say(db, s["conv"], "我要找真人客服", registry)
    assert _last_bot(db, s["conv"]).meta.get("handoff") and llm_on.received == []
    agent = make.agent("agent", [s["brand"]])
    r = client.post(f"/api/v1/conversations/{s['conv'].id}/llm/draft", json={}, headers=make.token(agent))
    assert r.status_code == 409 and "brand" in r.json()["detail"]
    assert llm_on.received == [] and _audits(db, "llm.phrase_answer") == []
