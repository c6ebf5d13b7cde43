"""An exact metrics fixture: tickets, conversations, SLA targets, surveys, complaints and QA with known times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)


@dataclass
class World:
    """Handles to what `build` created."""

    brand: Any
    other: Any
    org: Any
    agent_x: Any
    agent_y: Any
    tickets: dict[str, Any] = field(default_factory=dict)
    convs: dict[str, Any] = field(default_factory=dict)


def _ticket(db: Any, brand: Any, **kw: Any) -> Any:
    from kefu.tickets.models import Ticket

    kw.setdefault("subject", "s")
    kw.setdefault("status", "resolved" if kw.get("resolved_at") else "open")
    t = Ticket(brand_id=brand.id, number=f"T-{uuid.uuid4().hex[:10]}", updated_at=kw["created_at"], **kw)
    db.add(t)
    db.flush()
    return t


def _conv(db: Any, brand: Any, customer: Any, created: datetime, last: datetime, **kw: Any) -> Any:
    from kefu.conversations.models import Conversation

    kw.setdefault("channel", "web_chat")
    kw.setdefault("status", "closed")
    c = Conversation(
        brand_id=brand.id, customer_id=customer.id, created_at=created, last_message_at=last, updated_at=last, **kw
    )
    db.add(c)
    db.flush()
    return c


def _msg(db: Any, conv: Any, sender: str, at: datetime, *, note: bool = False, meta: Any = None) -> Any:
    from kefu.conversations.models import Message

    m = Message(
        brand_id=conv.brand_id,
        conversation_id=conv.id,
        channel=conv.channel,
        sender_type=sender,
        is_note=note,
        body="x",
        meta=meta or {},
        created_at=at,
    )
    db.add(m)
    db.flush()
    return m


def build(db: Any, make: Any) -> World:
    """Period [T0, T0+7d); now = T0+7d."""
    from kefu.bot.models import BotState
    from kefu.complaints.models import Complaint, RegulatorCase
    from kefu.customers.models import Organization
    from kefu.qa.models import QaReview
    from kefu.sla.models import TicketSlaTarget
    from kefu.surveys.models import CsatSurvey
    from kefu.tickets.models import TicketActivity, TicketCategory

    brand, other = make.brand(), make.brand()
    org = Organization(brand_id=brand.id, name="大客戶股份有限公司")
    db.add(org)
    x, y = make.agent("agent", [brand]), make.agent("agent", [brand])
    w = World(brand=brand, other=other, org=org, agent_x=x, agent_y=y)
    db.add_all(
        [
            TicketCategory(brand_id=brand.id, key="refund", label_zh="退款", label_en="Refund"),
            TicketCategory(brand_id=brand.id, key="logistics", label_zh="物流", label_en="Logistics"),
        ]
    )
    db.flush()
    cust = make.customer(brand, name="王小明")
    t = w.tickets
    c1 = T0 + H
    t["t1"] = _ticket(
        db,
        brand,
        channel="web_chat",
        created_at=c1,
        first_response_at=c1 + 10 * M,
        resolved_at=c1 + 30 * M,
        assignee_id=x.id,
        category="refund",
        customer_id=cust.id,
    )
    c2 = T0 + 2 * H
    t["t2"] = _ticket(
        db,
        brand,
        channel="email",
        created_at=c2,
        first_response_at=c2 + 20 * M,
        resolved_at=c2 + 2 * H,
        assignee_id=x.id,
        category="refund",
        organization_id=org.id,
        customer_id=cust.id,
    )
    c3 = T0 + 3 * H
    t["t3"] = _ticket(
        db,
        brand,
        channel="email",
        created_at=c3,
        first_response_at=c3 + 30 * M,
        resolved_at=c3 + 26 * H,
        assignee_id=y.id,
        category="logistics",
        reopen_count=1,
    )
    c4 = T0 - 10 * D
    t["t4"] = _ticket(
        db,
        brand,
        channel="line",
        created_at=c4,
        first_response_at=c4 + H,
        resolved_at=T0 + 5 * H,
        assignee_id=y.id,
        reopen_count=1,
    )
    t["t5"] = _ticket(db, brand, channel="web_chat", created_at=T0 + 5 * H, category="logistics", status="open")
    t["t6"] = _ticket(db, brand, channel="phone", created_at=T0 + 6 * H, category="refund", status="new")
    t["t7"] = _ticket(db, brand, channel="web_chat", created_at=T0 + 8 * D, status="open")  # after the period
    t["b1"] = _ticket(db, other, channel="email", created_at=T0 + 2 * H, status="open")  # other brand

    # Agent replies: t1 one message (+ a note and a bot message that do not count), t2 two, t4 one public update.
    cv1 = _conv(db, brand, cust, c1, c1 + 20 * M, ticket_id=t["t1"].id)
    _msg(db, cv1, "customer", c1)
    _msg(db, cv1, "agent", c1 + 10 * M)
    _msg(db, cv1, "agent", c1 + 11 * M, note=True)
    _msg(db, cv1, "bot", c1 + 1 * M)
    cv2 = _conv(db, brand, cust, c2, c2 + 30 * M, ticket_id=t["t2"].id, channel="email")
    _msg(db, cv2, "agent", c2 + 20 * M)
    _msg(db, cv2, "agent", c2 + 25 * M)
    db.add(
        TicketActivity(
            brand_id=brand.id,
            ticket_id=t["t4"].id,
            kind="comment",
            public=True,
            agent_id=y.id,
            body="ok",
            created_at=c4 + H,
        )
    )
    # t3: resolved, reopened a day later (within 7 days) -> not FCR.
    for at, frm, to in (
        (c3 + H, "open", "resolved"),
        (c3 + 25 * H, "resolved", "open"),
        (c3 + 26 * H, "open", "resolved"),
    ):
        db.add(
            TicketActivity(
                brand_id=brand.id, ticket_id=t["t3"].id, kind="status", data={"from": frm, "to": to}, created_at=at
            )
        )
    # t4: resolved, reopened 9 days later (outside 7 days) -> still FCR.
    for at, frm, to in (
        (c4 + D, "open", "resolved"),
        (c4 + 10 * D, "resolved", "open"),
        (T0 + 5 * H, "open", "resolved"),
    ):
        db.add(
            TicketActivity(
                brand_id=brand.id, ticket_id=t["t4"].id, kind="status", data={"from": frm, "to": to}, created_at=at
            )
        )

    # SLA targets (deadline in the period unless noted).
    def target(tk: Any, key: str, kind: str, due: datetime, met: datetime | None, status: str) -> None:
        db.add(
            TicketSlaTarget(
                ticket_id=tk.id,
                brand_id=tk.brand_id,
                key=key,
                kind=kind,
                started_at=tk.created_at,
                due_at=due,
                met_at=met,
                status=status,
            )
        )

    target(t["t1"], "fr", "first_response", c1 + 15 * M, c1 + 10 * M, "met")
    target(t["t2"], "fr", "first_response", c2 + 15 * M, c2 + 20 * M, "missed")
    target(t["t5"], "fr", "first_response", T0 + 5 * H + 15 * M, None, "breached")
    target(t["t1"], "res", "resolution", c1 + 4 * H, c1 + 30 * M, "met")
    target(t["t6"], "res", "resolution", T0 + 30 * D, None, "running")  # deadline after the period
    target(t["t6"], "fr", "first_response", T0 + 6 * H + 15 * M, None, "paused")  # paused: excluded

    # CSAT: t1 5★, t2 3★ (organization), t3 unanswered, t4 4★.
    def survey(tk: Any, rating: int | None, agent: Any) -> None:
        db.add(
            CsatSurvey(
                brand_id=tk.brand_id,
                ticket_id=tk.id,
                channel=tk.channel,
                resolved_at=tk.resolved_at,
                sent_at=tk.resolved_at + H,
                expires_at=tk.resolved_at + 30 * D,
                rating=rating,
                answered_at=tk.resolved_at + 2 * H if rating else None,
                agent_id=agent.id,
                organization_id=tk.organization_id,
            )
        )

    survey(t["t1"], 5, x)
    survey(t["t2"], 3, x)
    survey(t["t3"], None, y)
    survey(t["t4"], 4, y)

    # Complaints: one closed after 10 h, one after 30 h, one received before the period.
    def complaint(tk: Any, received: datetime, closed: datetime | None) -> None:
        db.add(
            Complaint(
                brand_id=tk.brand_id,
                ticket_id=tk.id,
                complainant_name="王",
                channel=tk.channel,
                description="d",
                received_at=received,
                acknowledge_due_at=received + D,
                reply_due_at=received + 3 * D,
                closed_at=closed,
                status="closed" if closed else "received",
            )
        )

    complaint(t["t1"], T0 + 2 * H, T0 + 12 * H)
    complaint(t["t2"], T0 + 3 * H, T0 + 33 * H)
    complaint(t["t4"], T0 - 3 * D, T0 - 2 * D)

    # Regulator cases: on time, late, not yet due (excluded from the rate).
    def case(tk: Any, received: datetime, replied: datetime | None) -> None:
        db.add(
            RegulatorCase(
                brand_id=tk.brand_id,
                ticket_id=tk.id,
                agency="消保官",
                subject="來函",
                received_at=received,
                due_at=received + 15 * D,
                replied_at=replied,
            )
        )

    case(t["t3"], T0 - 20 * D + 5 * D + H, None)  # received before the period: excluded
    case(t["t5"], T0 + H, T0 + 10 * D)
    case(t["t6"], T0 + 2 * H, T0 + 17 * D)
    case(t["t7"], T0 + 3 * H, None)  # due T0+15d > now (T0+7d): undecided

    # Bot conversations.
    def customer() -> Any:
        return make.customer(brand)

    p, q, r, s, u = customer(), customer(), customer(), customer(), customer()
    w.convs["c1"] = cv = _conv(db, brand, p, T0 + H, T0 + H + 10 * M, status="closed")
    _msg(db, cv, "customer", T0 + H)
    _msg(db, cv, "bot", T0 + H + M)
    w.convs["c2"] = cv = _conv(db, brand, q, T0 + 2 * H, T0 + 2 * H + 5 * M, status="open")
    _msg(db, cv, "bot", T0 + 2 * H + M)
    db.add(BotState(conversation_id=cv.id, handed_off_at=T0 + 2 * H + 5 * M, handoff_reason="request"))
    w.convs["c3"] = cv = _conv(db, brand, r, T0 + 3 * H, T0 + 4 * H, status="closed")
    _msg(db, cv, "bot", T0 + 3 * H + M)
    w.convs["c4"] = _conv(db, brand, r, T0 + 14 * H, T0 + 14 * H, status="open")  # re-contact 10 h later
    w.convs["c5"] = cv = _conv(db, brand, s, T0 + 5 * H, T0 + 5 * H, status="open")
    _msg(db, cv, "customer", T0 + 5 * H)
    w.convs["c6"] = cv = _conv(db, brand, u, T0, T0 + 2 * H, status="bot")
    _msg(db, cv, "bot", T0 + M)
    w.convs["c7"] = _conv(db, brand, u, T0 + 82 * H, T0 + 82 * H, status="open")  # 80 h later: not a re-contact
    # Announcements the system sends as the bot (a CSAT invite, a campaign survey, an outage notice) are not bot
    # replies: such conversations are neither handled nor contained by the bot.
    for i, meta in enumerate(
        (
            {"survey": {"kind": "csat", "id": 1, "url": "u"}},
            {"survey": {"kind": "campaign", "campaign_id": 1, "recipient_id": 1, "url": "u"}},
            {"notice": "outage"},
        )
    ):
        cv = _conv(db, brand, customer(), T0 + (20 + i) * H, T0 + (20 + i) * H, status="closed")
        _msg(db, cv, "customer", T0 + (20 + i) * H)
        _msg(db, cv, "bot", T0 + (20 + i) * H + M, meta=meta)

    # QA reviews done in the period (accuracy pass, pass): (T, T), (T, F), (F, F); one pending.
    reviewed = make.customer(brand)
    for i, (acc, ok) in enumerate(((True, True), (True, False), (False, False))):
        cv = _conv(db, brand, reviewed, T0 + i * H, T0 + i * H)
        db.add(
            QaReview(
                brand_id=brand.id,
                conversation_id=cv.id,
                status="done",
                accuracy_passed=acc,
                passed=ok,
                total=[90.0, 70.0, 50.0][i],
                reviewed_at=T0 + D,
                scores={},
            )
        )
    cv = _conv(db, brand, reviewed, T0, T0)
    db.add(QaReview(brand_id=brand.id, conversation_id=cv.id, status="pending", scores={}))
    db.commit()
    return w
