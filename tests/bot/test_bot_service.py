"""Bot dialogue: answer, clarify, fallback → handoff, human request, anger, ticket status, learning loop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from kefu.bot.engine import FaqDoc, IndexRegistry
from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq


class OverlapRetriever:
    """Deterministic stand-in for the NLU: character-overlap scores, so policy outcomes are exact."""

    def __init__(self, docs: Sequence[FaqDoc]) -> None:
        self.rows = [(d.id, q) for d in docs for q in d.questions]

    def search(self, text: str, k: int) -> list[tuple[int, float, str]]:
        t = set(text.lower())
        scored = []
        for faq_id, q in self.rows:
            qs = set(q.lower())
            score = len(t & qs) / max(len(t | qs), 1)
            scored.append((faq_id, score, q))
        scored.sort(key=lambda r: -r[1])
        return scored[:k]


@pytest.fixture
def registry() -> Iterator[IndexRegistry]:
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime

    reg = IndexRegistry(factory=OverlapRetriever, check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


@pytest.fixture(autouse=True)
def _locale(monkeypatch: pytest.MonkeyPatch) -> None:
    import kefu.bot.service as svc

    def detect(text: str, fallback: str) -> str:
        if any("a" <= ch.lower() <= "z" for ch in text) and not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return "en"
        return fallback

    monkeypatch.setattr(svc, "detect_locale", detect)


def _setup(db: Any, make: Any, vip: bool = False, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    from kefu.conversations.service import create_conversation
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    if settings:
        brand.settings = {"bot": settings}
    faqs = {}
    for intent, q, a in [
        ("password", ["忘記密碼怎麼辦", "密碼重設"], "請點選忘記密碼。"),
        ("refund", ["退款多久到帳", "申請退款"], "退款約 7 個工作天。"),
        ("refund_card", ["信用卡退款多久到帳"], "信用卡退款約 14 天。"),
    ]:
        faqs[intent] = create_faq(
            db,
            None,
            CreateFaq(
                brand_id=brand.id,
                locale="zh-TW",
                questions=q,
                answer=a,
                category=intent,
                intent=intent,
                is_published=True,
            ),
        )
    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="en",
            questions=["forgot password"],
            answer="Use Forgot password.",
            category="password",
            intent="password",
            is_published=True,
        ),
    )
    cust = make.customer(brand, name="王小明", vip=vip, locale="zh-TW")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat", status="bot"), actor=None
    )
    db.commit()
    return {"brand": brand, "conv": conv, "faqs": faqs, "customer": cust}


def _say(db: Any, conv: Any, text: str, registry: IndexRegistry) -> Any:
    from kefu.bot.service import handle_customer_message
    from kefu.conversations.service import add_message

    msg, _ = add_message(db, conv, sender_type="customer", body=text)
    decision = handle_customer_message(db, conv.id, msg.id, registry)
    db.commit()
    return decision


def _bot_lines(db: Any, conv: Any) -> list[str]:
    from sqlalchemy import select

    from kefu.conversations.models import Message

    return list(
        db.scalars(
            select(Message.body)
            .where(Message.conversation_id == conv.id, Message.sender_type == "bot")
            .order_by(Message.id)
        )
    )


def test_confident_answer(db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make, settings={"answer_threshold": 0.6, "margin": 0.1})
    d = _say(db, s["conv"], "忘記密碼怎麼辦", registry)
    assert d.action == "answer" and d.faq_id == s["faqs"]["password"].id
    assert _bot_lines(db, s["conv"]) == ["請點選忘記密碼。"]


def test_answer_in_customer_locale_uses_sibling_faq(db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make, settings={"answer_threshold": 0.5, "margin": 0.05})
    d = _say(db, s["conv"], "forgot password", registry)
    assert d.action == "answer"
    assert _bot_lines(db, s["conv"]) == ["Use Forgot password."]


def test_close_call_asks_which_one_then_answers_choice(db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make, settings={"answer_threshold": 0.9, "clarify_threshold": 0.3, "margin": 0.3})
    d = _say(db, s["conv"], "退款到帳", registry)
    assert d.action == "clarify" and len(d.options) >= 2
    first = _bot_lines(db, s["conv"])[-1]
    assert first.startswith("請問您想詢問的是：") and "1. " in first and "2. " in first
    d2 = _say(db, s["conv"], "2", registry)
    assert d2.action == "answer" and d2.faq_id == d.options[1]


def test_repeated_failure_hands_off_with_ticket_and_review(
    db: Any, make: Any, registry: IndexRegistry, events: list[Any]
) -> None:
    from sqlalchemy import select

    from kefu.bot.models import BotReviewItem
    from kefu.conversations.models import Message
    from kefu.tickets.models import Ticket

    s = _setup(db, make)
    assert _say(db, s["conv"], "你們週末營業嗎", registry).action == "fallback"
    d = _say(db, s["conv"], "那門市在哪裡", registry)
    assert d.action == "handoff" and d.reason == "unresolved"
    db.refresh(s["conv"])
    assert s["conv"].status == "open" and s["conv"].ticket_id is not None
    ticket = db.get(Ticket, s["conv"].ticket_id)
    assert "bot-handoff" in ticket.tags and ticket.subject == "你們週末營業嗎"
    assert "【轉接摘要】" in ticket.description and "那門市在哪裡" in ticket.description
    assert ticket.custom_fields["bot"]["reason"] == "unresolved"
    note = db.scalar(select(Message).where(Message.conversation_id == s["conv"].id, Message.is_note.is_(True)))
    assert note is not None and note.sender_type == "system"
    assert [r.reason for r in db.scalars(select(BotReviewItem))] == ["out_of_scope", "out_of_scope"]
    assert any(e.type == "bot.handoff" for e in events)
    # Once humans own the conversation the bot stays quiet.
    assert _say(db, s["conv"], "忘記密碼怎麼辦", registry) is None


def test_customer_asks_for_human(db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make)
    d = _say(db, s["conv"], "我要找真人客服", registry)
    assert d.action == "handoff" and d.reason == "requested"
    assert "轉接真人客服" in _bot_lines(db, s["conv"])[-1]


def test_anger_hands_off_urgently_and_alerts(db: Any, make: Any, registry: IndexRegistry, events: list[Any]) -> None:
    from kefu.tickets.models import Ticket

    s = _setup(db, make)
    d = _say(db, s["conv"], "你們這什麼爛服務！！！我要投訴到消保官", registry)
    assert d.action == "handoff" and d.reason == "anger"
    db.refresh(s["conv"])
    assert db.get(Ticket, s["conv"].ticket_id).priority == "urgent"
    assert any(e.type == "alert.anger" for e in events)


def test_anger_alert_reaches_the_brand_leads_once_in_their_language(
    db: Any, make: Any, registry: IndexRegistry
) -> None:
    """The alert was only a bus event no screen listened to: no supervisor saw it (found walking the widget)."""
    from sqlalchemy import select

    from kefu.auth.service import create_team, set_team_members
    from kefu.sla.models import Notification
    from kefu.sla.notifications import title_in

    s = _setup(db, make)
    lead, member = make.agent("supervisor", [s["brand"]]), make.agent("agent", [s["brand"]])
    team = create_team(db, brand_id=s["brand"].id, slug="care", name="客服", description="", actor=None)
    set_team_members(db, team, [(lead.id, True), (member.id, False)], None)
    db.commit()
    _say(db, s["conv"], "你們這什麼爛服務！！！我要投訴到消保官", registry)
    _say(db, s["conv"], "氣死了！！！還不快處理！！！", registry)
    alerts = list(db.scalars(select(Notification).where(Notification.kind == "alert.anger")))
    assert [n.agent_id for n in alerts] == [lead.id]  # the lead, once for the conversation (not the plain member)
    assert alerts[0].data["conversation_id"] == s["conv"].id
    assert title_in(alerts[0], "zh-TW").startswith("憤怒預警：客戶情緒激動（憤怒 ")
    assert title_in(alerts[0], "en").startswith("Anger alert: an upset customer (anger ")


def test_vip_rule(db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make, vip=True, settings={"vip_handoff": True})
    d = _say(db, s["conv"], "忘記密碼怎麼辦", registry)
    assert d.action == "handoff" and d.reason == "vip"
    from kefu.tickets.models import Ticket

    db.refresh(s["conv"])
    assert db.get(Ticket, s["conv"].ticket_id).priority == "high"


def test_ticket_status_only_for_owner(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.tickets.service import create_ticket

    s = _setup(db, make)
    mine = create_ticket(db, brand_id=s["brand"].id, subject="x", actor=None, customer_id=s["customer"].id)
    other_cust = make.customer(s["brand"], name="別人")
    theirs = create_ticket(db, brand_id=s["brand"].id, subject="y", actor=None, customer_id=other_cust.id)
    db.commit()
    assert _say(db, s["conv"], f"請問 {mine.number.lower()} 進度", registry).action == "ticket_status"
    assert f"案件 {mine.number} 目前狀態：已受理" in _bot_lines(db, s["conv"])[-1]
    _say(db, s["conv"], f"{theirs.number} 呢", registry)
    assert "查無案件" in _bot_lines(db, s["conv"])[-1]


def test_review_attach_teaches_the_bot(client: Any, db: Any, make: Any, registry: IndexRegistry) -> None:
    s = _setup(db, make, settings={"answer_threshold": 0.99, "clarify_threshold": 0.99})
    sup = make.token(make.agent("supervisor", [s["brand"]]))
    _say(db, s["conv"], "密碼不見了要怎麼辦", registry)
    items = client.get("/api/v1/bot/review", params={"brand_id": s["brand"].id}, headers=sup).json()["items"]
    assert [i["text"] for i in items] == ["密碼不見了要怎麼辦"]
    r = client.post(
        f"/api/v1/bot/review/{items[0]['id']}/attach", json={"faq_id": s["faqs"]["password"].id}, headers=sup
    )
    assert r.status_code == 200 and r.json()["status"] == "attached"
    faq = client.get(f"/api/v1/kb/faqs/{s['faqs']['password'].id}", headers=sup).json()
    assert "密碼不見了要怎麼辦" in faq["questions"]
    # The live index notices the edit (fingerprint changed) and now answers that phrasing.
    db.expire_all()  # the API wrote through another session on this connection
    s2 = _setup_conv(db, s)
    d = _say(db, s2, "密碼不見了要怎麼辦", registry)
    assert d.action in ("answer", "clarify")
    assert client.post(f"/api/v1/bot/review/{items[0]['id']}/dismiss", headers=sup).status_code == 409


def _setup_conv(db: Any, s: dict[str, Any]) -> Any:
    from kefu.conversations.service import create_conversation

    conv = create_conversation(
        db,
        CreateConversation(brand_id=s["brand"].id, customer_id=s["customer"].id, channel="line", status="bot"),
        actor=None,
    )
    db.commit()
    return conv


def test_feedback_and_assist(client: Any, db: Any, make: Any, registry: IndexRegistry) -> None:
    from sqlalchemy import select

    from kefu.bot.models import BotReviewItem
    from kefu.conversations.models import Message

    s = _setup(db, make, settings={"answer_threshold": 0.6, "margin": 0.1})
    agent = make.token(make.agent("agent", [s["brand"]]))
    _say(db, s["conv"], "忘記密碼怎麼辦", registry)
    answer = db.scalar(select(Message).where(Message.conversation_id == s["conv"].id, Message.sender_type == "bot"))
    assert (
        client.post("/api/v1/bot/feedback", json={"message_id": answer.id, "helpful": False}, headers=agent).status_code
        == 204
    )
    assert db.scalar(select(BotReviewItem.reason)) == "unhelpful"
    r = client.get(f"/api/v1/conversations/{s['conv'].id}/assist", headers=agent).json()
    assert r["suggestions"][0]["faq_id"] == s["faqs"]["password"].id
    assert "【轉接摘要】" in r["summary"] and "忘記密碼怎麼辦" in r["summary"]


def test_replayed_message_is_handled_once(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.bot.service import handle_customer_message
    from kefu.conversations.service import add_message

    s = _setup(db, make, settings={"answer_threshold": 0.6, "margin": 0.1})
    msg, _ = add_message(db, s["conv"], sender_type="customer", body="忘記密碼怎麼辦")
    assert handle_customer_message(db, s["conv"].id, msg.id, registry) is not None
    assert handle_customer_message(db, s["conv"].id, msg.id, registry) is None
    db.commit()
    assert len(_bot_lines(db, s["conv"])) == 1
