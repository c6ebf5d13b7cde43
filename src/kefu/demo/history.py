# ruff: noqa: E501  (the demo cases read best one per line; CJK text counts double)
"""Several weeks of demo history: tickets across channels, replies, CSAT, bot-answered chats, complaints, regulator
letters and help-centre articles.

So a first `make run` shows a lived-in helpdesk: reports for last week and last month have numbers (the bot's
containment, complaint and regulator deadlines included), every queue has work in it and the help centre has topics
and articles in each language.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.models import Agent, Team
from kefu.bot import texts
from kefu.bot.models import BotState
from kefu.brands.models import Brand, Inbox
from kefu.complaints.service import create_regulator_case, register_for_ticket, reply_regulator_case
from kefu.conversations.commands import CreateConversation
from kefu.conversations.service import add_message, create_conversation
from kefu.core.commands import build
from kefu.core.db import utcnow
from kefu.customers.models import Customer, CustomerIdentity
from kefu.customers.service import add_identity, create_customer
from kefu.knowledge.commands import CreateArticle
from kefu.knowledge.models import FaqEntry
from kefu.knowledge.service import create_article
from kefu.tickets.models import Ticket
from kefu.tickets.service import create_ticket


@dataclass(frozen=True)
class Case:
    """One past or current support case: who asked, on which channel, what was said and how it ended."""

    days_ago: float
    customer: str
    channel: str
    category: str
    team: str
    agent: str
    subject: str
    ask: str
    reply: str
    status: str  # resolved | closed | open | pending | on_hold | new
    priority: str = "normal"
    reply_minutes: int = 12
    resolve_hours: float = 5
    rating: int | None = None
    comment: str = ""
    bot_handoff: bool = False  # a chat the bot took first and handed to a person (it needed an action on the order)


CASES: tuple[Case, ...] = (
    Case(34, "李強", "email", "refund", "finance", "wei", "退款还没到账", "退货已经寄回一周了，退款什么时候到？",
         "您好，仓库已签收退货，退款已提交银行，预计 3–5 个工作日到账。", "closed", rating=5, comment="很快，谢谢"),
    Case(31, "John Smith", "web_chat", "logistics", "general", "sam", "Parcel stuck in transit",
         "Tracking hasn't moved for four days.", "I've opened a trace with the courier; it will be delivered tomorrow.",
         "closed", rating=4),
    Case(29, "張雅婷", "line", "membership", "general", "mei", "金卡優惠怎麼用", "金卡的免運券在哪裡領？",
         "您好，免運券已自動放入「我的優惠券」，結帳時勾選即可使用。", "closed", rating=5, comment="客服很親切"),
    Case(27, "陳志明", "phone", "payment_failure", "finance", "wei", "刷卡被拒但有扣款", "刷卡失敗但銀行有扣款通知",
         "已確認為銀行預授權，未成立訂單的款項會在 7 天內自動退回。", "closed", priority="high", rating=3),
    Case(24, "Emily Chen", "email", "account", "general", "sam", "Can't change my email address",
         "The settings page says my new email is already in use.", "That address had an old guest account; "
         "I merged it and you can change your email now.", "closed", rating=5, comment="Sorted in minutes!"),
    Case(22, "王芳", "web_chat", "order", "general", "wei", "订单能改地址吗", "刚下单，地址写错了，还能改吗？",
         "已为您修改收货地址，订单尚未出库，不影响配送时间。", "closed", rating=5, bot_handoff=True),
    Case(20, "林怡君", "messenger", "promotion", "general", "mei", "折扣碼不能用", "週年慶折扣碼顯示無效",
         "這組折扣碼限會員使用，已幫您補發一組可用的折扣碼。", "resolved", rating=4, bot_handoff=True),
    Case(18, "黃建宏", "email", "complaint", "content_review", "lead", "商品與描述不符", "收到的顏色和網頁上差很多，很失望。",
         "非常抱歉造成困擾，已安排免費換貨並附上回郵單。", "closed", priority="high", rating=2,
         comment="處理可以，但等太久"),
    Case(15, "David Lee", "web_chat", "billing", "finance", "sam", "Need a company invoice",
         "Can I get an invoice with my company's tax ID?", "Done — the e-invoice with your tax ID is in your inbox.",
         "closed", rating=5),
    Case(13, "張雅婷", "web_chat", "refund", "finance", "mei", "部分退款", "只退其中一件可以嗎？",
         "可以，已為您建立單件退貨，退款金額 690 元。", "closed", rating=5, bot_handoff=True),
    Case(11, "周經理", "email", "order", "b2b", "lead", "大量採購報價", "公司想採購 200 個保溫杯，請提供報價。",
         "已附上企業採購報價單，200 個以上享 85 折並可印製公司 LOGO。", "resolved", reply_minutes=40,
         resolve_hours=30, rating=5),
    Case(9, "李強", "web_chat", "account_anomaly", "security_center", "mei", "账号在陌生设备登录", "收到通知说账号在别的城市登录了",
         "已强制下线所有设备并重置密码，建议开启两步验证。", "closed", priority="urgent", reply_minutes=4,
         resolve_hours=1, rating=5, comment="响应很及时", bot_handoff=True),
    Case(8, "Emily Chen", "email", "logistics", "general", "sam", "Wrong item delivered", "I got a candle instead of a mug.",
         "Sorry about that! The mug ships today and the courier collects the candle on Friday.", "closed", rating=4),
    Case(6, "林怡君", "line", "membership", "general", "mei", "點數快到期", "我的點數月底到期，可以延長嗎？",
         "已為您延長點數效期 30 天，月底前都能折抵。", "resolved", rating=5),
    Case(5, "王芳", "email", "privacy", "general", "wei", "删除我的个人资料", "我不再使用了，请删除我的账号和资料。",
         "已受理您的删除申请，30 天内完成并以邮件通知。", "resolved", resolve_hours=20),
    Case(4, "陳志明", "web_chat", "system_failure", "ops", "lead", "結帳頁一直轉圈", "結帳頁面卡住，按了沒反應",
         "付款服務短暫異常已修復，請重新整理後再試一次。", "closed", priority="urgent", reply_minutes=3,
         resolve_hours=0.5, rating=3, bot_handoff=True),
    Case(3, "David Lee", "messenger", "refund", "finance", "sam", "Refund for a cancelled order",
         "I cancelled within an hour, when is my money back?", "", "pending", reply_minutes=25),
    Case(2, "黃建宏", "phone", "complaint", "content_review", "lead", "客服態度不佳", "上次電話客服口氣很差",
         "", "open", priority="high"),
    Case(1.5, "張雅婷", "email", "billing", "finance", "wei", "發票抬頭錯誤", "發票抬頭打錯了，可以重開嗎？", "", "on_hold"),
    Case(1, "John Smith", "web_chat", "order", "general", "", "Change shoe size", "Can I swap to a size 10?", "", "new"),
    Case(0.4, "王芳", "web_chat", "logistics", "general", "", "什么时候发货", "预购商品什么时候发货？", "", "new"),
    Case(0.2, "林怡君", "line", "payment_failure", "finance", "", "LINE Pay 付款失敗", "用 LINE Pay 一直顯示交易失敗", "",
         "new", priority="high"),
)  # fmt: skip

# Chats the bot answered from the demo KB on its own: (days ago, customer, channel, FAQ intent, question, thanks).
# No human, no ticket and no return within 72 h, so they are what the dashboard's bot containment counts; each
# customer's chats are days apart.
BOT_CHATS: tuple[tuple[float, str, str, str, str, str], ...] = (
    (29.5, "吳佩珊", "line", "shipping_status", "請問我的包裹到哪了？", "好，謝謝"),
    (28, "Kevin Wu", "web_chat", "refund", "How long does a refund take?", "Thanks!"),
    (26, "蔡宗翰", "web_chat", "membership_tiers", "金卡會員要消費多少？", "了解，謝謝"),
    (25, "赵磊", "web_chat", "invoice", "电子发票在哪里查？", "好的，谢谢"),
    (23, "吳佩珊", "line", "coupon", "生日禮金什麼時候發？", "謝謝！"),
    (21, "Grace Lin", "messenger", "cancel_order", "Can I cancel an order before it ships?", "Great, thank you"),
    (19, "孫麗華", "messenger", "service_hours", "假日有真人客服嗎？", "好的謝謝"),
    (17, "蔡宗翰", "web_chat", "password_reset", "忘記密碼怎麼重設", "可以了，謝謝"),
    (16, "Kevin Wu", "web_chat", "shipping_status", "When will my order ship?", "ok thanks"),
    (14, "赵磊", "web_chat", "return_item", "七天内可以退货吗？", "明白了，谢谢"),
    (12, "吳佩珊", "line", "refund", "退款多久會到帳？", "好喔，謝謝"),
    (10, "Grace Lin", "messenger", "coupon", "My promo code doesn't work", "Got it, thanks"),
    (8, "孫麗華", "messenger", "invoice", "我要開統編發票", "謝謝"),
    (6, "蔡宗翰", "web_chat", "privacy_data", "怎麼匯出我的資料？", "謝謝你"),
    (4, "赵磊", "web_chat", "membership_tiers", "银卡会员的条件是什么", "谢谢"),
    (2.5, "Kevin Wu", "web_chat", "cancel_order", "I don't want the order anymore, how do I cancel?", "Thanks"),
    (1.2, "吳佩珊", "line", "service_hours", "客服電話幾點到幾點", "謝謝～"),
)
BOT_CUSTOMERS = (
    ("吳佩珊", "wu.peishan@example.com", "zh-TW"),
    ("蔡宗翰", "tsai.th@example.com", "zh-TW"),
    ("孫麗華", "sun.lh@example.com", "zh-TW"),
    ("赵磊", "zhaolei@example.cn", "zh-CN"),
    ("Kevin Wu", "kevin.wu@example.com", "en"),
    ("Grace Lin", "grace.lin@example.com", "en"),
)
# Letters from the authorities (the seed's 15-day reply deadline): (days ago, agency, reference, subject, summary,
# days to the reply or None while it is still open).
REGULATOR_LETTERS: tuple[tuple[float, str, str, str, str, float | None], ...] = (
    (26, "行政院消費者保護處", "院臺消保字第1150012345號", "消費者陳情：退貨運費爭議",
     "消費者主張瑕疵品退貨之運費應由業者負擔，請於 15 日內查明並回復。", 9),
    (3, "臺北市政府法務局", "北市法消字第1150067890號", "消費爭議申訴：預購商品延遲出貨",
     "消費者申訴預購商品逾期未出貨且無法取消，請業者於 15 日內以書面說明處理情形。", None),
)  # fmt: skip

# The default ticket taxonomy (kefu.tickets); other topics are help-centre categories only.
TICKET_CATEGORIES = frozenset(
    {"account_anomaly", "complaint", "general", "logistics", "payment_failure", "refund", "system_failure"}
)
EXTRA_CUSTOMERS = (
    ("陳志明", "chen.zm@example.com", "zh-TW", "18000"),
    ("Emily Chen", "emily@example.com", "en", "4200"),
    ("王芳", "wangfang@example.cn", "zh-CN", "9300"),
    ("林怡君", "lin.yijun@example.com", "zh-TW", "51000"),
    ("黃建宏", "huang.jh@example.com", "zh-TW", "2600"),
    ("David Lee", "david.lee@example.com", "en", "7600"),
)


# The thread a chat channel files a user's conversation under (kefu.channels.line / messenger adapters' thread_key).
_THREADS = {"line": "user:{}", "messenger": "psid:{}"}


def chat_thread(session: Session, customer: Customer, channel: str) -> str | None:
    """The thread key of `customer`'s chat on `channel`, with the identity the channel makes at a first message
    (a LINE user id, a Messenger PSID), so a demo agent's reply there takes the real path (adapter → outbox)."""
    if channel not in _THREADS:
        return None
    known = session.scalar(
        select(CustomerIdentity.external_id)
        .where(CustomerIdentity.customer_id == customer.id, CustomerIdentity.kind == channel)
        .order_by(CustomerIdentity.id)
        .limit(1)
    )
    if known is None:  # stable per brand and person, shaped as the provider's ids are
        digest = hashlib.sha256(f"{customer.brand_id}:{channel}:{customer.email or customer.name}".encode()).hexdigest()
        known = f"U{digest[:32]}" if channel == "line" else str(int(digest[:13], 16)).rjust(16, "1")
        add_identity(session, customer, channel, known, customer.name or None)
    return _THREADS[channel].format(known)


def load_history(
    session: Session,
    brand: Brand,
    agents: dict[str, Agent],
    teams: dict[str, Team],
    inboxes: dict[str, Inbox],
    customers: dict[str, Customer],
) -> int:
    """Create the cases above (backdated); returns how many tickets were added."""
    from decimal import Decimal

    from kefu.surveys.service import answer_csat, send_csat

    for name, email, locale, spend in EXTRA_CUSTOMERS:
        customers[name] = create_customer(
            session,
            brand_id=brand.id,
            actor=None,
            name=name,
            email=email,
            locale=locale,
            cumulative_spend=Decimal(spend),
        )
    by_short = {email.split("@")[0]: a for email, a in agents.items()}
    now = utcnow()
    for case in CASES:
        opened = now - timedelta(days=case.days_ago)
        customer = customers[case.customer]
        agent = by_short.get(case.agent)
        conv = create_conversation(
            session,
            build(
                CreateConversation,
                {
                    "brand_id": brand.id,
                    "customer_id": customer.id,
                    "channel": case.channel,
                    "inbox_id": inboxes[case.channel].id,
                    "subject": case.subject if case.channel == "email" else None,
                    "status": "open",
                    "external_thread_id": chat_thread(session, customer, case.channel),
                },
            ),
            actor=None,
        )
        add_message(session, conv, sender_type="customer", body=case.ask, created_at=opened)
        ticket = create_ticket(
            session,
            brand_id=brand.id,
            subject=case.subject,
            actor=None,
            customer_id=customer.id,
            priority=case.priority,
            category=case.category if case.category in TICKET_CATEGORIES else "general",
            channel=case.channel,
            team_id=teams[case.team].id,
            conversation_id=conv.id,
            assignee_id=agent.id if agent and case.status != "new" else None,
        )
        replied = opened + timedelta(minutes=case.reply_minutes)
        if case.bot_handoff:
            # As the dialogue engine hands off (kefu.bot.service): its message names the new ticket.
            handed = opened + timedelta(seconds=20)
            add_message(
                session,
                conv,
                sender_type="bot",
                body=texts.handoff(customer.locale or "zh-TW", "requested", ticket.number),
                meta={"handoff": "requested", "ticket_id": ticket.id},
                created_at=handed,
            )
            session.add(BotState(conversation_id=conv.id, handed_off_at=handed, handoff_reason="requested"))
        if case.reply and agent is not None:
            # A hotline reply is a logged call (phone conversations take no written replies).
            kind = "call" if case.channel == "phone" else "text"
            add_message(
                session,
                conv,
                sender_type="agent",
                agent_id=agent.id,
                body=case.reply,
                content_type=kind,
                created_at=replied,
            )
            ticket.first_response_at = replied
        _backdate(ticket, conv, opened, replied if case.reply else opened)
        # A complaint on any channel gets its complaint record (acknowledge and reply deadlines), as intake does.
        complaint = register_for_ticket(session, ticket, None) if ticket.category == "complaint" else None
        ticket.status = case.status  # type: ignore[assignment]
        if complaint is not None and case.reply:
            complaint.acknowledged_at, complaint.status = replied, "acknowledged"
        if case.status in ("resolved", "closed"):
            ticket.resolved_at = opened + timedelta(hours=case.resolve_hours)
            ticket.updated_at = ticket.resolved_at
            conv.status = "closed"
            if case.status == "closed":
                # A complaint closes when its outcome is confirmed; other tickets close 3 days after resolution.
                ticket.closed_at = ticket.resolved_at + timedelta(days=0 if complaint is not None else 3)
            if complaint is not None:
                complaint.replied_at, complaint.status = ticket.resolved_at, "replied"
                if ticket.closed_at is not None:
                    complaint.closed_at, complaint.status, complaint.outcome = ticket.closed_at, "closed", case.reply
            session.flush()
            if case.rating is not None and case.channel != "phone":  # surveys go out in writing
                survey = send_csat(session, ticket, now=ticket.resolved_at)
                if survey is not None:
                    answer_csat(session, survey, case.rating, case.comment, now=ticket.resolved_at + timedelta(hours=2))
    session.flush()
    _load_bot_chats(session, brand, inboxes, now)
    _load_regulator_letters(session, brand, teams, by_short["lead"], now)
    return len(CASES) + len(REGULATOR_LETTERS)


def _load_bot_chats(session: Session, brand: Brand, inboxes: dict[str, Inbox], now: datetime) -> None:
    """Past chats the bot answered from the KB: the answer in the customer's language, their thanks, the bot's reply."""
    faqs = {(f.intent, f.locale): f for f in session.scalars(select(FaqEntry).where(FaqEntry.brand_id == brand.id))}
    people = {
        name: create_customer(session, brand_id=brand.id, actor=None, name=name, email=email, locale=locale)
        for name, email, locale in BOT_CUSTOMERS
    }
    for i, (days_ago, name, channel, intent, question, thanks) in enumerate(BOT_CHATS):
        customer = people[name]
        locale = customer.locale or "zh-TW"
        faq = faqs[(intent, locale)]
        asked = now - timedelta(days=days_ago)
        conv = create_conversation(
            session,
            build(
                CreateConversation,
                {
                    "brand_id": brand.id,
                    "customer_id": customer.id,
                    "channel": channel,
                    "inbox_id": inboxes[channel].id,
                    "external_thread_id": chat_thread(session, customer, channel),
                },
            ),
            actor=None,
        )
        at = [asked + timedelta(seconds=s) for s in (0, 2, 40, 41)]
        add_message(session, conv, sender_type="customer", body=question, created_at=at[0])
        # The meta the dialogue engine writes with an FAQ answer (kefu.bot.service), so feedback and review work.
        meta = {
            "faq_id": faq.id,
            "confidence": round(0.86 + (i % 5) * 0.03, 2),
            "intent": intent,
            "answer_format": faq.answer_format,
            "ask_feedback": True,
        }
        add_message(session, conv, sender_type="bot", body=faq.answer, meta=meta, created_at=at[1])
        add_message(session, conv, sender_type="customer", body=thanks, created_at=at[2])
        reply = texts.smalltalk(locale, "thanks")
        add_message(session, conv, sender_type="bot", body=reply, meta={"smalltalk": "thanks"}, created_at=at[3])
        conv.status = "closed"
        conv.created_at, conv.last_message_at = at[0], at[3]
    session.flush()


def _load_regulator_letters(session: Session, brand: Brand, teams: dict[str, Team], lead: Agent, now: datetime) -> None:
    """Letters from the authorities, due 15 days after receipt: one answered in time, one still open."""
    for days_ago, agency, reference, subject, summary, answered_after in REGULATOR_LETTERS:
        received = now - timedelta(days=days_ago)
        case = create_regulator_case(
            session,
            brand_id=brand.id,
            actor=None,
            agency=agency,
            subject=subject,
            received_at=received,
            reference_no=reference,
            summary=summary,
        )
        ticket = session.get(Ticket, case.ticket_id)
        assert ticket is not None
        ticket.team_id, ticket.assignee_id = teams["content_review"].id, lead.id
        ticket.first_response_at = received + timedelta(hours=20)  # receipt confirmed to the agency the next day
        if answered_after is not None:
            reply_regulator_case(
                session, case, None, "已查明並以書面回復主管機關。", at=received + timedelta(days=answered_after)
            )
    session.flush()


def _backdate(ticket: Ticket, conv: Any, opened: datetime, last: datetime) -> None:
    ticket.created_at = opened
    ticket.updated_at = last
    conv.created_at = opened
    conv.last_message_at = last


def load_articles(session: Session, brand: Brand) -> int:
    """Help-centre articles in zh-TW, zh-CN and en (each written for its readers)."""
    raw = resources.files("kefu.demo").joinpath("articles.json").read_text(encoding="utf-8")
    items: list[dict[str, Any]] = json.loads(raw)
    for item in items:
        create_article(
            session,
            None,
            build(
                CreateArticle,
                {
                    "brand_id": brand.id,
                    "locale": item["locale"],
                    "category": item["category"],
                    "title": item["title"],
                    "body": item["body"],
                },
            ),
        )
    return len(items)
