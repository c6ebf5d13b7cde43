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
