"""What the customer reads: bot texts written per locale, a fallback that names topics (never category keys),
emotion shown in the reader's language, greeting-only chats filed as general inquiries (issue #14)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kefu.bot import texts
from kefu.bot.engine import IndexRegistry
from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq
from kefu.tickets.commands import CreateCategory
from tests.llm.conftest import OverlapRetriever

HAN = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture
def registry() -> Iterator[IndexRegistry]:
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime

    reg = IndexRegistry(factory=OverlapRetriever, check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


@pytest.fixture
def live_registry() -> Iterator[IndexRegistry]:
    """The real ranker (with its small-talk classes), for what greetings do."""
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime

    reg = IndexRegistry(check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


# ---------------------------------------------------------------- the strings themselves


@pytest.mark.parametrize("key", sorted(texts.keys()))
def test_every_bot_string_is_written_for_its_locale(key: str) -> None:
    from kefu.bot.nlu.text import script_of

    tw, cn, en = (texts.t(loc, key) for loc in ("zh-TW", "zh-CN", "en"))
    if HAN.search(tw):
        assert script_of("".join(HAN.findall(tw))) != "zh-Hans", tw
    assert "“" not in tw and "”" not in tw, tw
    if HAN.search(cn):
        assert script_of("".join(HAN.findall(cn))) != "zh-Hant", cn
    # Mainland wording and punctuation, not Taiwanese words in simplified characters.
    for taiwanese in ("「", "」", "真人", "案件", "身分", "登入", "帐号", "号码", "讯息", "网路", "点选", "资料"):
        assert taiwanese not in cn, (taiwanese, cn)
    for mainland in ("人工", "身份", "登录", "信息", "网络"):
        assert mainland not in tw or key == "qr_human_text", (mainland, tw)
    assert not HAN.search(en), en
    assert not re.search(r"[.!?][A-Z]", en), en  # sentences are separated by a space


def test_handoff_messages_read_naturally_in_each_locale() -> None:
    assert texts.handoff("en", "requested", "KF-000005") == (
        "Sure, I'm connecting you to a human agent now. Your ticket number is KF-000005."
    )
    assert texts.handoff("zh-CN", "requested", "KF-000005") == (
        "好的，正在为您转接人工客服，请稍候。您的工单编号是 KF-000005。"
    )
    assert texts.handoff("zh-TW", "unresolved", "KF-000005").endswith("您的案件編號為 KF-000005。")
    assert texts.quick_replies("zh-CN", [], human=True) == [{"label": "人工客服", "text": "人工"}]
    assert "“人工”" in texts.fallback("zh-CN", []) and "「真人」" in texts.fallback("zh-TW", [])


def test_fallback_lists_topics_as_a_sentence() -> None:
    assert texts.fallback("en", ["refunds", "account problems", "delivery"]).startswith(
        "Sorry, I can't answer that yet. I can help with common questions about refunds, account problems and "
        "delivery. You can"
    )
    assert "我可以解答退款、物流配送等常见问题。" in texts.fallback("zh-CN", ["退款", "物流配送"])
    assert 'questions like "How do I reset my password?" or "Where is my order?"' in texts.fallback(
        "en", [], ["How do I reset my password?", "Where is my order?"]
    )
    assert "像“忘记密码怎么办”、“怎么退款”这类问题" in texts.fallback("zh-CN", [], ["忘记密码怎么办", "怎么退款"])


# ---------------------------------------------------------------- through the bot


def _brand(db: Any, make: Any, faqs: list[tuple[str, str, list[str], str]], **bot: Any) -> Any:
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    brand.settings = {"bot": {"answer_threshold": 0.6, "clarify_threshold": 0.5, **bot}}
    for category, locale, questions, answer in faqs:
        create_faq(
            db,
            None,
            CreateFaq(
                brand_id=brand.id,
                locale=locale,
                questions=questions,
                answer=answer,
                category=category,
                intent=f"{category}-{questions[0][:20]}",
                is_published=True,
            ),
        )
    db.commit()
    return brand


def _conv(db: Any, make: Any, brand: Any, locale: str) -> Any:
    from kefu.conversations.service import create_conversation

    cust = make.customer(brand, locale=locale)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="api", status="bot"), actor=None
    )
    db.commit()
    return conv


def _say(db: Any, conv: Any, text: str, registry: IndexRegistry) -> tuple[Any, Any]:
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


SLUGGED = [
    ("refund", "zh-TW", ["退款多久到帳"], "約 7 天。"),
    ("refund", "zh-TW", ["怎麼申請退款"], "到訂單頁申請。"),
    ("account", "zh-TW", ["忘記密碼怎麼辦"], "請點選「忘記密碼」。"),
    ("account_anomaly", "zh-TW", ["帳號被盜了"], "請立即改密碼。"),
    ("general", "zh-TW", ["營業時間"], "9-18 點。"),
    ("logistics", "zh-TW", ["包裹到哪了"], "請查物流。"),
]
SLUGS = ("account_anomaly", "general")


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        ("zh-TW", "股票開戶手續費", "我可以回答退款、帳號異常、物流配送等常見問題。"),
        ("zh-CN", "股票开户手续费", "我可以解答退款、账号异常、物流配送等常见问题。"),
        ("en", "stock trading fee", "I can help with common questions about refund, account anomaly and logistics."),
    ],
)
def test_fallback_names_topics_by_their_labels_never_their_keys(
    db: Any, make: Any, registry: IndexRegistry, locale: str, text: str, expected: str
) -> None:
    brand = _brand(db, make, SLUGGED, answer_threshold=0.9999, clarify_threshold=0.9999)
    d, reply = _say(db, _conv(db, make, brand, locale), text, registry)
    assert d.action == "fallback"
    assert expected in reply.body, reply.body
    assert "_" not in reply.body and not any(re.search(rf"\b{slug}\b", reply.body) for slug in SLUGS), reply.body


def test_fallback_uses_the_brands_own_category_labels(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.tickets.service import create_category

    brand = _brand(db, make, SLUGGED, answer_threshold=0.9999, clarify_threshold=0.9999)
    create_category(
        db,
        CreateCategory(brand_id=brand.id, key="refund", label_zh="退貨退款", label_en="Returns and refunds"),
        actor=None,
    )
    db.commit()
    _, reply = _say(db, _conv(db, make, brand, "en"), "stock trading fee", registry)
    assert "about returns and refunds, account anomaly and logistics." in reply.body
    _, reply = _say(db, _conv(db, make, brand, "zh-CN"), "股票开户手续费", registry)
    assert "退货退款、" in reply.body


def test_fallback_without_named_topics_quotes_faq_questions(db: Any, make: Any, registry: IndexRegistry) -> None:
    brand = _brand(
        db,
        make,
        [
            ("card_fee", "zh-TW", ["信用卡年費多少"], "免年費。"),
            ("loan_rate", "zh-TW", ["房貸利率多少"], "1.9%。"),
            ("card_fee", "en", ["What is the card's annual fee?"], "No annual fee."),
        ],
        answer_threshold=0.9999,
        clarify_threshold=0.9999,
    )
    _, reply = _say(db, _conv(db, make, brand, "zh-CN"), "股票开户手续费", registry)
    assert "像“信用卡年费多少”、“房贷利率多少”这类问题" in reply.body, reply.body
    assert "card_fee" not in reply.body and "loan_rate" not in reply.body
    _, reply = _say(db, _conv(db, make, brand, "en"), "stock trading fee", registry)
    assert 'I can answer questions like "What is the card\'s annual fee?".' in reply.body, reply.body


def test_converted_answers_use_mainland_quotes(db: Any, make: Any, registry: IndexRegistry) -> None:
    brand = _brand(db, make, [("account", "zh-TW", ["忘記密碼怎麼辦", "忘记密码怎么办"], "請點選「忘記密碼」。")])
    d, reply = _say(db, _conv(db, make, brand, "zh-CN"), "忘记密码怎么办", registry)
    assert d.action == "answer" and "“忘记密码”" in reply.body and "「" not in reply.body


def test_handoff_summary_shows_the_emotion_in_the_readers_language(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.bot.service import summarize
    from kefu.conversations.models import Message

    brand = _brand(db, make, SLUGGED)
    conv = _conv(db, make, brand, "zh-TW")
    d, _ = _say(db, conv, "你們這什麼爛服務！！！我要投訴到消保官", registry)
    assert d.action == "handoff" and d.reason == "anger"
    note = db.scalar(select(Message).where(Message.conversation_id == conv.id, Message.is_note.is_(True)))
    assert "情緒：憤怒" in note.body and "anger" not in note.body, note.body
    assert "情绪：愤怒" in summarize(db, conv, "zh-CN")
    assert "mood: angry" in summarize(db, conv, "en")


def test_handoff_summary_names_the_intent_by_its_question(db: Any, make: Any, registry: IndexRegistry) -> None:
    from kefu.bot.service import summarize

    brand = _brand(db, make, SLUGGED)
    conv = _conv(db, make, brand, "zh-TW")
    _say(db, conv, "忘記密碼怎麼辦", registry)
    # Not the intent key ("account-忘記密碼怎麼辦"): the FAQ's question, in the reader's script.
    assert "意圖：忘記密碼怎麼辦｜" in summarize(db, conv, "zh-TW")
    assert "意图：忘记密码怎么办｜" in summarize(db, conv, "zh-CN")
    assert "account-" not in summarize(db, conv, "en")


def test_handoff_summary_names_the_intent_as_the_served_index_does(db: Any, make: Any) -> None:
    """One place phrases an FAQ for a reader: the summary reads the served index (as clarify and assist do), the KB
    rows only when the brand has none; another brand's index is never read."""
    from kefu.bot.engine import FaqDoc, Index
    from kefu.bot.service import intent_question

    brand = _brand(db, make, [("account", "zh-TW", ["忘記密碼怎麼辦"], "請點選「忘記密碼」。")])
    key = "account-忘記密碼怎麼辦"
    tw = FaqDoc(id=-1, locale="zh-TW", questions=("密碼忘了「怎麼辦」",), answer="a", intent=key, category=None)
    en = FaqDoc(id=-2, locale="en", questions=("Forgot my password",), answer="a", intent=key, category=None)
    served = Index(brand.id, "fp", {d.id: d for d in (tw, en)}, OverlapRetriever([tw, en]), 0.0)
    assert intent_question(db, brand.id, key, "en", served) == "Forgot my password"
    assert intent_question(db, brand.id, key, "zh-CN", served) == "密码忘了“怎么办”"  # question_in's script rule
    assert intent_question(db, brand.id, key, "zh-TW", None) == "忘記密碼怎麼辦"  # no index: the rows
    foreign = Index(brand.id + 1, "fp", {d.id: d for d in (tw, en)}, OverlapRetriever([tw, en]), 0.0)
    assert intent_question(db, brand.id, key, "en", foreign) == "忘記密碼怎麼辦"


@pytest.mark.parametrize(
    ("locale", "chat", "subject"),
    [
        ("zh-TW", ["你好", "謝謝", "留言"], "機器人轉接"),
        ("zh-CN", ["早上好", "谢谢", "转人工"], "机器人转人工"),
        ("en", ["hi", "thanks", "agent"], "Handed off by the bot"),
    ],
)
def test_greeting_only_chats_are_general_inquiries_not_complaints(
    db: Any, make: Any, live_registry: IndexRegistry, locale: str, chat: list[str], subject: str
) -> None:
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import install_default_categories

    brand = _brand(
        db,
        make,
        [
            *SLUGGED,
            ("complaint", "zh-TW", ["我要投訴", "你好爛", "謝謝你喔很爛"], "很抱歉。"),
            ("complaint", "en", ["I want to complain", "hi this is terrible"], "We're sorry."),
        ],
    )
    install_default_categories(db, brand.id, None)
    conv = _conv(db, make, brand, locale)
    for text in chat:
        d, _ = _say(db, conv, text, live_registry)
    assert d.action == "handoff"
    ticket = db.get(Ticket, conv.ticket_id)
    assert ticket.category == "general" and ticket.subject == subject


def test_ticket_is_titled_by_the_real_question_not_the_greeting(
    db: Any, make: Any, live_registry: IndexRegistry
) -> None:
    from kefu.tickets.models import Ticket

    brand = _brand(db, make, SLUGGED)
    conv = _conv(db, make, brand, "zh-TW")
    for text in ("你好", "我的發票開錯了要重開", "真人"):
        d, _ = _say(db, conv, text, live_registry)
    assert d.action == "handoff"
    ticket = db.get(Ticket, conv.ticket_id)
    assert ticket.subject == "我的發票開錯了要重開" and ticket.category != "complaint"
    assert "客戶問題：我的發票開錯了要重開；最後訊息：真人" in ticket.description


# ---------------------------------------------------------------- policy and isolation


def _cand(faq_id: int, score: float) -> Any:
    from kefu.bot.engine import Candidate, FaqDoc

    doc = FaqDoc(faq_id, "zh-TW", (f"問題{faq_id}",), "答", f"i{faq_id}", None)
    return Candidate(doc.group, doc, score, doc.questions[0])


@pytest.mark.parametrize("top", [0.79, 0.5, 0.21])
def test_a_plausible_candidate_is_always_offered_never_a_bare_rephrase(top: float) -> None:
    from kefu.bot.emotion import analyze
    from kefu.bot.policy import BotSettings, Memory, Turn, decide

    turn = Turn(
        text="問題",
        candidates=(_cand(1, top), _cand(2, top - 0.01), _cand(3, 0.05), _cand(4, 0.01)),
        emotion=analyze("問題"),
        wants_human=False,
        vip=False,
        memory=Memory(),
        answer_threshold=0.8,
        clarify_threshold=0.2,
    )
    d = decide(turn, BotSettings())
    assert d.action == "clarify" and d.options[:2] == (1, 2) and 2 <= len(d.options) <= 3


def test_below_every_threshold_the_fallback_says_what_the_bot_can_do_and_offers_a_person() -> None:
    for locale in ("zh-TW", "zh-CN", "en"):
        text = texts.fallback(locale, ["A", "B"])
        assert texts.t(locale, "qr_human_text") in text and ("A" in text and "B" in text)


def test_handoff_category_comes_from_the_customers_own_brand(db: Any, make: Any, registry: IndexRegistry) -> None:
    """Two brands share an intent name; brand A's ticket takes A's category, never B's."""
    from kefu.knowledge.service import create_faq
    from kefu.tickets.models import Ticket

    a, b = make.brand(), make.brand()
    for brand, category in ((b, "complaint"), (a, "refund")):  # B's row first: an unscoped lookup would find it
        brand.settings = {"bot": {"answer_threshold": 0.6, "clarify_threshold": 0.5}}
        create_faq(
            db,
            None,
            CreateFaq(
                brand_id=brand.id,
                locale="zh-TW",
                questions=["退款多久到帳"],
                answer=f"{category} answer",
                category=category,
                intent="refund_time",
            ),
        )
    db.commit()
    conv = _conv(db, make, a, "zh-TW")
    d, reply = _say(db, conv, "退款多久到帳", registry)
    assert d.action == "answer" and reply.body == "refund answer"
    d, _ = _say(db, conv, "我要找真人客服", registry)
    assert d.action == "handoff"
    assert db.get(Ticket, conv.ticket_id).category == "refund"


def test_handoff_summary_counts_bot_replies_not_survey_invites_or_notices(
    db: Any, make: Any, registry: IndexRegistry
) -> None:
    """A CSAT invite or a service notice sent as the bot is not one of the bot's replies in the agent's summary."""
    from kefu.bot.service import summarize
    from kefu.conversations.service import add_message

    brand = _brand(db, make, SLUGGED)
    conv = _conv(db, make, brand, "en")
    add_message(db, conv, sender_type="bot", body="Rate us", meta={"survey": {"kind": "csat", "id": 1, "url": "u"}})
    add_message(db, conv, sender_type="bot", body="Maintenance tonight", meta={"notice": "maintenance"})
    assert "bot replies: 0," in summarize(db, conv, "en")
    _say(db, conv, "hello", registry)
    assert "bot replies: 1," in summarize(db, conv, "en")
