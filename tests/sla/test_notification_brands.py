"""A brand's notifications reach only agents who may read that brand: the rule is in `build`, and only there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.tickets.helpers import Clock, tw

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"


def _world(make: Any, db: Any) -> dict[str, Any]:
    from kefu.auth.service import set_agent_brands

    a, b = make.brand(), make.brand()
    stays = make.agent("agent", [b])
    moved = make.agent("agent", [a, b])
    set_agent_brands(db, moved, [a.id])  # taken off brand B
    db.commit()
    other, admin = make.agent("agent", [a]), make.agent("admin")
    return {"a": a, "b": b, "stays": stays, "moved": moved, "other": other, "admin": admin}


@pytest.mark.parametrize(
    ("kind", "title"),
    [("mention", "Amy @ #7"), ("ticket.assigned", None), ("sla.breach", None)],
    ids=["mentioned", "assigned", "watching"],
)
def test_a_brands_notice_skips_agents_who_cannot_read_it(
    db: Any, make: Any, events: list[Any], kind: str, title: str | None
) -> None:
    from sqlalchemy import select

    from kefu.sla.models import Notification
    from kefu.sla.notifications import localized, notify

    w = _world(make, db)
    recipients = [w["moved"].id, w["other"].id, w["stays"].id, w["admin"].id]
    heading = title or localized("notif_ticket_assigned", number="T-9")
    rows = notify(db, recipients, kind, heading, brand_id=w["b"].id, body="付款被扣款兩次", ticket_id=None)
    db.commit()
    assert [n.agent_id for n in rows] == [w["stays"].id, w["admin"].id]
    stored = db.scalars(select(Notification.agent_id).where(Notification.brand_id == w["b"].id)).all()
    assert sorted(stored) == sorted([w["stays"].id, w["admin"].id])
    toasted = [e.topics for e in events if e.type == "notification.created"]
    assert sorted(toasted) == sorted([(f"agent:{w['stays'].id}",), (f"agent:{w['admin'].id}",)])


def test_a_notice_of_no_brand_reaches_everyone_it_names(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.sla.notifications import notify

    w = _world(make, db)
    rows = notify(db, [w["moved"].id, w["stays"].id], "security.freeze_failed", "凍結失敗", brand_id=None)
    assert [n.agent_id for n in rows] == [w["moved"].id, w["stays"].id]


def test_the_brand_check_is_one_query_for_the_batch(db: Any, make: Any, count_queries: Any) -> None:
    from kefu.sla.notifications import build, localized

    w = _world(make, db)
    many = [make.agent("agent", [w["b"]]).id for _ in range(5)] + [w["moved"].id]
    with count_queries() as q:
        rows = build(db, many, "sla.breach", localized("notif_ticket_assigned", number="T-1"), brand_id=w["b"].id)
    assert len(rows) == 5
    assert q.count == 1, q.statements  # readers and their locales together, not one per recipient


def test_an_assignee_taken_off_the_brand_gets_no_overdue_toast(
    client: Any, make: Any, db: Any, clock: Clock, events: list[Any]
) -> None:
    """The progress sweep still names the ticket's assignee; the agent has since been moved to another brand."""
    from sqlalchemy import select

    from kefu.auth.service import set_agent_brands
    from kefu.sla import updates
    from kefu.sla.models import Notification

    brand, other = make.brand(), make.brand()
    admin = make.agent("admin")
    agent = make.agent("agent", [brand, other])
    lead = make.agent("supervisor", [brand])
    h = make.token(admin)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    contacts = {"brand_id": brand.id, "contacts": [{"level": "team_lead", "agent_id": lead.id}]}
    assert client.put("/api/v1/sla/escalation-contacts", json=contacts, headers=h).status_code == 200
    clock.set(tw(2026, 3, 2, 9, 0))
    body = {"brand_id": brand.id, "subject": "付款被扣款兩次", "priority": "urgent", "assignee_id": agent.id}
    ticket = client.post("/api/v1/tickets", json=body, headers=h)
    assert ticket.status_code == 201, ticket.text
    set_agent_brands(db, agent, [other.id])
    db.commit()
    events.clear()

    clock.advance(minutes=31)
    assert updates.sweep(db, clock()).lapsed == 1
    db.commit()
    got = db.scalars(select(Notification.agent_id).where(Notification.kind == "progress.overdue")).all()
    assert list(got) == [lead.id]
    assert [e.topics for e in events if e.type == "notification.created"] == [(f"agent:{lead.id}",)]


def test_notifications_are_made_only_by_build() -> None:
    """Another module writing `Notification(...)` or inserting into its table would skip the brand check."""
    found = []
    pattern = re.compile(r"\bNotification\(|insert\(\s*Notification\b|INSERT INTO notifications")
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in ("sla/notifications.py", "sla/models.py") or "migrations" in rel:
            continue
        found += [f"{rel}: {m.group(0)}" for m in pattern.finditer(path.read_text(encoding="utf-8"))]
    assert found == []
    own = (SRC / "sla" / "notifications.py").read_text(encoding="utf-8")
    # Inside the module, too, one constructor: the loop in build() that follows the brand check.
    assert own.count("Notification(") == 1 and own.index("= _readers(session") < own.index("Notification(")
