"""Bilingual demo data: a brand, teams, agents, customers, conversations, tickets and a knowledge base."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.models import Agent
from kefu.auth.service import create_agent, create_team, set_agent_brands
from kefu.bot.service import in_script
from kefu.brands.models import Brand
from kefu.brands.service import create_brand, create_inbox
from kefu.care.models import CareOpportunity, CareReason
from kefu.conversations.commands import CreateConversation
from kefu.conversations.service import add_message, create_conversation
from kefu.core.commands import build
from kefu.core.db import utcnow
from kefu.customers.service import add_identity, create_customer, create_organization
from kefu.demo.history import chat_thread, load_articles, load_history
from kefu.knowledge.commands import CreateFaq
from kefu.knowledge.service import create_faq
from kefu.macros.commands import CreateCanned
from kefu.macros.service import create as create_canned
from kefu.qa.service import sample_day
from kefu.tickets.service import create_ticket

# Stored in the brand's language; pages show them in the reader's (catalog seedteam_<slug>, kefu.auth.labels).
# Slugs are the keys the SLA seed policies and routing defaults name (kefu.sla.policy, kefu.routing.service).
TEAMS = [
    ("general", "一般客服", "first line"),
    ("security_center", "安全中心", "account anomalies (≤15 min)"),
    ("finance", "財務組", "payment failures, refunds (≤30 min)"),
    ("content_review", "內容審核", "complaints (≤2 h)"),
    ("ops", "運維中心", "system failures (≤5 min)"),
    ("b2b", "法人專責", "dedicated team for organizations"),
]
AGENTS = [
    ("admin@kefu.local", "系統管理員 Admin", "admin", "zh-TW"),
    ("lead@kefu.local", "陳組長 Team lead", "supervisor", "zh-TW"),
    ("mei@kefu.local", "林小美 Mei Lin", "agent", "zh-TW"),
    ("wei@kefu.local", "王伟 Wei Wang", "agent", "zh-CN"),
    ("sam@kefu.local", "Sam Carter", "agent", "en"),
    ("audit@kefu.local", "稽核 Auditor", "auditor", "zh-TW"),
]


def _kb() -> list[dict[str, Any]]:
    raw = resources.files("kefu.demo").joinpath("kb.json").read_text(encoding="utf-8")
    data: list[dict[str, Any]] = json.loads(raw)
    return data


def load_demo(session: Session, password: str) -> bool:
    """Create the demo dataset; returns False when it already exists."""
    if session.scalar(select(Brand.id).where(Brand.slug == "demo")) is not None:
        return False
    brand = create_brand(session, slug="demo", name="橘子商城 Orange Mall", default_locale="zh-TW", ticket_prefix="KF")
    brand.settings = {**(brand.settings or {}), "public_metrics": True}  # the help centre shows /portal/demo/metrics
    teams = {
        slug: create_team(session, brand_id=brand.id, slug=slug, name=name, description=desc, actor=None)
        for slug, name, desc in TEAMS
    }
    agents: dict[str, Agent] = {}
    for email, name, role, locale in AGENTS:
        existing = session.scalar(select(Agent).where(Agent.email == email))
        if existing is None:
            existing = create_agent(session, email=email, name=name, password=password, role=role, locale=locale)
        set_agent_brands(session, existing, [brand.id])
        agents[email] = existing
    from kefu.auth.service import set_team_members

    set_team_members(
        session,
        teams["general"],
        [
            (agents["lead@kefu.local"].id, True),
            (agents["mei@kefu.local"].id, False),
            (agents["wei@kefu.local"].id, False),
            (agents["sam@kefu.local"].id, False),
        ],
        _system(agents),
    )
    set_team_members(session, teams["finance"], [(agents["wei@kefu.local"].id, False)], _system(agents))
    set_team_members(session, teams["security_center"], [(agents["mei@kefu.local"].id, False)], _system(agents))
    # SLA calendars/policies, the bilingual category taxonomy and category → team routing (issue #5).
    from kefu.routing.service import install_default_routing
    from kefu.sla.service import install_defaults
    from kefu.tickets.service import install_default_categories

    install_defaults(session, brand.id, None)
    install_default_categories(session, brand.id, None)
    install_default_routing(session, brand.id, None)

    # Chat-like channels start with the bot; email, board and phone go straight to people.
    bot_first = {"initial_status": "bot"}
    inboxes = {
        kind: create_inbox(
            session,
            brand,
            kind=kind,
            name=name,
            config=dict(bot_first) if kind in ("web_chat", "line", "messenger") else {},
            actor=None,
        )
        for kind, name in [
            ("web_chat", "官網線上客服"),
            ("email", "service@orange.example"),
            ("line", "LINE 官方帳號"),
            ("messenger", "Facebook 粉絲專頁"),
            ("board", "官網留言板"),
            ("phone", "客服專線 0800"),
        ]
    }

    for item in _kb():
        zh = item["zh"]
        create_faq(
            session,
            None,
            build(
                CreateFaq,
                {
                    "brand_id": brand.id,
                    "locale": "zh-TW",
                    "external_id": item["intent"],
                    "category": item["category"],
                    "intent": item["intent"],
                    "questions": zh["q"],
                    "answer": zh["a"],
                    "is_published": True,
                },
            ),
        )
        create_faq(
            session,
            None,
            build(
                CreateFaq,
                {
                    "brand_id": brand.id,
                    "locale": "zh-CN",
                    "external_id": item["intent"],
                    "category": item["category"],
                    "intent": item["intent"],
                    "questions": [in_script(q, "zh-TW", "zh-CN") for q in zh["q"]],
                    "answer": in_script(zh["a"], "zh-TW", "zh-CN"),
                    "is_published": True,
                },
            ),
        )
        create_faq(
            session,
            None,
            build(
                CreateFaq,
                {
                    "brand_id": brand.id,
                    "locale": "en",
                    "external_id": item["intent"],
                    "category": item["category"],
                    "intent": item["intent"],
                    "questions": item["en"]["q"],
                    "answer": item["en"]["a"],
                    "is_published": True,
                },
            ),
        )
    load_articles(session, brand)

    admin = _system(agents)
    for locale, shortcut, title, body in [
        ("zh-TW", "hello", "開場問候", "{customer_name} 您好，我是{agent_name}，很高興為您服務。"),
        ("zh-TW", "refund", "退款時程", "您好，退款審核通過後，信用卡約 7–14 個工作天入帳，感謝您的耐心等候。"),
        ("zh-TW", "thanks", "結束語", "感謝您的來信，工單 {ticket_number} 如有任何問題，歡迎隨時回覆。"),
        ("zh-CN", "hello", "开场问候", "{customer_name} 您好，我是{agent_name}，很高兴为您服务。"),
        ("en", "hello", "Greeting", "Hi {customer_name}, this is {agent_name} — happy to help."),
        ("en", "thanks", "Closing", "Thanks for reaching out! Reply any time about ticket {ticket_number}."),
    ]:
        create_canned(
            session,
            admin,
            build(
                CreateCanned,
                {"brand_id": brand.id, "locale": locale, "shortcut": shortcut, "title": title, "body": body},
            ),
        )

    org = create_organization(
        session,
        brand_id=brand.id,
        name="晨光科技股份有限公司",
        domain="chenguang.example",
        dedicated_team_id=teams["b2b"].id,
        notes="法人客戶，專責窗口",
        actor=None,
    )
    amy = create_customer(
        session,
        brand_id=brand.id,
        actor=None,
        name="張雅婷",
        email="amy.chang@example.com",
        phone="0912-345-678",
        locale="zh-TW",
        cumulative_spend=Decimal("62000"),
        vip=True,
    )
    add_identity(session, amy, "line", "U4af4980629a1b2c3d4e5f60718293a4b", "雅婷")
    li = create_customer(
        session,
        brand_id=brand.id,
        actor=None,
        name="李强",
        email="li.qiang@example.cn",
        locale="zh-CN",
        cumulative_spend=Decimal("12500"),
    )
    john = create_customer(
        session,
        brand_id=brand.id,
        actor=None,
        name="John Smith",
        email="john@example.com",
        locale="en",
        cumulative_spend=Decimal("800"),
    )
    chou = create_customer(
        session,
        brand_id=brand.id,
        actor=None,
        name="周經理",
        email="chou@chenguang.example",
        organization_id=org.id,
        locale="zh-TW",
    )

    conv = create_conversation(
        session,
        build(
            CreateConversation,
            {
                "brand_id": brand.id,
                "customer_id": amy.id,
                "channel": "web_chat",
                "inbox_id": inboxes["web_chat"].id,
                "status": "open",
            },
        ),
        actor=None,
    )
    add_message(session, conv, sender_type="customer", body="你好，我的訂單付款失敗但是有扣款")
    add_message(
        session,
        conv,
        sender_type="bot",
        body="付款失敗多半是卡片額度或 3D 驗證逾時造成……需要幫您轉真人客服嗎？",
    )
    add_message(session, conv, sender_type="customer", body="要，麻煩真人")
    ticket = create_ticket(
        session,
        brand_id=brand.id,
        subject="付款失敗但已扣款",
        actor=None,
        customer_id=amy.id,
        priority="high",
        category="payment_failure",
        channel="web_chat",
        team_id=teams["finance"].id,
        conversation_id=conv.id,
        tags=["vip", "payment"],
    )
    line_conv = create_conversation(
        session,
        build(
            CreateConversation,
            {
                "brand_id": brand.id,
                "customer_id": amy.id,
                "channel": "line",
                "inbox_id": inboxes["line"].id,
                "external_thread_id": chat_thread(session, amy, "line"),
            },
        ),
        actor=None,
    )
    add_message(
        session,
        line_conv,
        sender_type="customer",
        body="請問退款大概多久會到？",
        provider_message_id="demo-line-1",
    )
    mail = create_conversation(
        session,
        build(
            CreateConversation,
            {
                "brand_id": brand.id,
                "customer_id": john.id,
                "channel": "email",
                "inbox_id": inboxes["email"].id,
                "subject": "Where is my package?",
            },
        ),
        actor=None,
    )
    add_message(
        session,
        mail,
        sender_type="customer",
        body="Hi, I ordered last week and haven't received anything yet.",
        provider_message_id="<demo-1@example.com>",
    )
    create_ticket(
        session,
        brand_id=brand.id,
        subject="Where is my package?",
        actor=None,
        customer_id=john.id,
        category="logistics",
        channel="email",
        team_id=teams["general"].id,
        conversation_id=mail.id,
    )
    create_ticket(
        session,
        brand_id=brand.id,
        subject="帐号异常登录",
        actor=None,
        customer_id=li.id,
        priority="urgent",
        category="account_anomaly",
        channel="phone",
        team_id=teams["security_center"].id,
    )
    del ticket
    customers = {"張雅婷": amy, "李強": li, "John Smith": john, "周經理": chou}
    load_history(session, brand, agents, teams, inboxes, customers)
    # The QA reviewers' 5 % sample of today's closed conversations, so the review queue has work on the demo's first
    # day (the hourly job samples yesterday's; it finds today's run already drawn when it gets to it).
    today = utcnow().astimezone(ZoneInfo(brand.timezone or "Asia/Taipei")).date()
    sample_day(session, brand, today, rng=random.Random(5))
    # One open care opportunity, so the care queue shows its forms (stored quietly: no alert to the demo agents).
    session.add(
        CareOpportunity(
            brand_id=brand.id,
            customer_id=john.id,
            reason=CareReason.TOPIC_REPEAT,
            evidence={"topic": "logistics", "count": 3, "conversation_ids": [mail.id], "ticket_ids": []},
        )
    )
    session.flush()
    return True


def _system(agents: dict[str, Agent]) -> Any:
    from kefu.auth.permissions import Principal, permissions_for

    admin = agents["admin@kefu.local"]
    return Principal(
        agent_id=admin.id,
        email=admin.email,
        name=admin.name,
        role="admin",
        permissions=permissions_for("admin"),
        brand_ids=None,
        via="system",
        credential_id=0,
    )
