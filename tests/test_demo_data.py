"""The demo looks lived-in: weeks of tickets in every status, replies, CSAT answers, articles in three languages."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select


def test_demo_has_history_across_statuses_channels_and_locales(db: Any) -> None:
    import kefu.channels.phone.adapter  # noqa: F401 - its rule (no written replies on phone) must hold for the demo
    from kefu.core.db import utcnow
    from kefu.demo import load_demo
    from kefu.knowledge.models import Article, FaqEntry
    from kefu.surveys.models import CsatSurvey
    from kefu.tickets.models import Ticket

    assert load_demo(db, "kefu-demo-pass") is True
    db.commit()
    tickets = list(db.scalars(select(Ticket)))
    statuses = Counter(str(t.status) for t in tickets)
    assert len(tickets) >= 20
    assert {"new", "open", "pending", "on_hold", "resolved", "closed"} <= set(statuses)
    assert len({str(t.channel) for t in tickets}) >= 5
    now = utcnow()
    created = [t.created_at.replace(tzinfo=None) for t in tickets]
    naive_now = now.replace(tzinfo=None)
    assert sum(naive_now - timedelta(days=7) <= c for c in created) >= 5  # last week has numbers
    assert sum(naive_now - timedelta(days=35) <= c < naive_now - timedelta(days=7) for c in created) >= 8
    resolved = [t for t in tickets if t.resolved_at is not None]
    assert len(resolved) >= 12 and all(t.first_response_at is not None for t in resolved)
    answered = db.scalar(select(func.count(CsatSurvey.id)).where(CsatSurvey.rating.is_not(None)))
    assert answered >= 10
    per_locale = Counter(a.locale for a in db.scalars(select(Article).where(Article.is_published.is_(True))))
    assert all(per_locale[loc] >= 4 for loc in ("zh-TW", "zh-CN", "en"))
    # FAQ locale copies share an id, so the help centre and the editor treat them as one question.
    groups = Counter(db.scalars(select(FaqEntry.external_id)))
    assert groups and all(n == 3 for n in groups.values())


def test_demo_teams_are_the_seed_policies_teams(db: Any) -> None:
    """The SLA and routing seeds name teams by key; the demo's teams carry exactly those keys (no alias needed)."""
    from kefu.auth.models import Team
    from kefu.brands.models import Brand
    from kefu.demo import TEAMS, load_demo
    from kefu.routing.service import DEFAULT_CATEGORY_TEAMS
    from kefu.sla.policy import DEFAULT_POLICIES
    from kefu.tickets.service import create_ticket

    slugs = {slug for slug, _, _ in TEAMS}
    assert {p.team for p in DEFAULT_POLICIES if p.team} <= slugs
    assert {choices[0] for choices in DEFAULT_CATEGORY_TEAMS.values()} <= slugs
    assert load_demo(db, "kefu-demo-pass") is True
    db.commit()
    brand = db.scalar(select(Brand).where(Brand.slug == "demo"))
    slug_of = {t.id: t.slug for t in db.scalars(select(Team).where(Team.brand_id == brand.id))}
    for policy in DEFAULT_POLICIES:
        category = policy.conditions.get("category")
        if policy.team and isinstance(category, str):
            ticket = create_ticket(db, actor=None, brand_id=brand.id, subject="s", description="d", category=category)
            assert slug_of.get(ticket.team_id) == policy.team, (category, policy.team)


def test_demo_dashboard_measures_the_bot_complaints_and_regulator_letters(db: Any) -> None:
    """The last 30 days show the promises measured: bot containment, complaint closure, regulator replies on time."""
    from kefu.analytics import service
    from kefu.brands.models import Brand
    from kefu.complaints.models import Complaint, RegulatorCase
    from kefu.core.db import utcnow
    from kefu.demo import load_demo

    assert load_demo(db, "kefu-demo-pass") is True
    db.commit()
    brand = db.scalar(select(Brand).where(Brand.slug == "demo"))
    now = utcnow()
    f = service.resolve_filters(db, None, start=now - timedelta(days=30), end=now, now=now, brand_id=brand.id)
    d = service.dashboard(db, f)
    bot = d["bot_containment"]
    # About the seed's "AI handles 70–80 % of routine queries"; survey invites do not count as bot replies.
    assert bot["handled"] >= 20 and 0.65 <= bot["rate"] <= 0.85, bot
    assert d["complaints"]["received"] == 2 and d["complaints"]["closed_24h"] == 1, d["complaints"]
    assert d["regulator_on_time"] == {"received": 2, "decided": 1, "on_time": 1, "rate": 1.0}
    # Every complaint ticket has its complaint record with deadlines; one regulator letter is still open.
    assert db.scalar(select(func.count(Complaint.id))) == 2
    open_letters = list(db.scalars(select(RegulatorCase).where(RegulatorCase.replied_at.is_(None))))
    assert len(open_letters) == 1 and open_letters[0].due_at.replace(tzinfo=None) > now.replace(tzinfo=None)


def test_demo_line_and_messenger_chats_have_the_identity_their_channel_would_have_made(db: Any) -> None:
    """Every demo LINE/Messenger conversation's customer has that channel's identity (and LINE its `user:` thread),
    so an agent's reply on one goes the real way: the adapter names a recipient and the outbox queues the send."""
    import kefu.channels.line.adapter
    import kefu.channels.messenger.adapter  # noqa: F401 - registers the adapters the outbox looks up
    from kefu.brands.models import Brand, Inbox
    from kefu.channels.base import get_adapter
    from kefu.channels.outbox import queue_reply
    from kefu.conversations.models import Conversation
    from kefu.conversations.service import add_message
    from kefu.customers.models import CustomerIdentity
    from kefu.demo import load_demo

    assert load_demo(db, "kefu-demo-pass") is True
    db.commit()
    brand = db.scalar(select(Brand).where(Brand.slug == "demo"))
    convs = db.scalars(
        select(Conversation).where(Conversation.brand_id == brand.id, Conversation.channel.in_(["line", "messenger"]))
    ).all()
    assert {str(c.channel) for c in convs} == {"line", "messenger"} and len(convs) >= 8
    for conv in convs:
        kind = str(conv.channel)
        idents = db.scalars(
            select(CustomerIdentity.external_id).where(
                CustomerIdentity.customer_id == conv.customer_id, CustomerIdentity.kind == kind
            )
        ).all()
        assert len(idents) == 1, (conv.id, kind)
        if kind == "line":  # a LINE user id, and the thread the LINE channel files a user's chat under
            assert len(idents[0]) == 33 and idents[0].startswith("U") and conv.external_thread_id == f"user:{idents[0]}"
        adapter = get_adapter(kind)
        assert adapter is not None and adapter.recipient(db, db.get(Inbox, conv.inbox_id), conv) == idents[0]
    line = next(c for c in convs if str(c.channel) == "line")
    reply, _ = add_message(db, line, sender_type="agent", body="您好，已為您查詢。")
    queued = queue_reply(db, line, reply)
    assert queued is not None and queued.recipient.startswith("U")


def test_demo_queues_a_5_percent_qa_sample(db: Any) -> None:
    """The QA queue was empty on the demo's first day (the daily job samples yesterday, and the demo closes today)."""
    from kefu.demo import load_demo
    from kefu.qa.models import QaReview, QaSampleRun

    assert load_demo(db, "kefu-demo-pass") is True
    db.commit()
    run = db.scalar(select(QaSampleRun))
    assert run is not None and run.rate == 0.05 and run.population >= 20
    assert run.sampled == -(-run.population // 20) >= 1  # ceil(5 % of the day's closed conversations)
    assert db.scalar(select(func.count(QaReview.id))) == run.sampled
