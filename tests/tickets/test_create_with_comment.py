"""POST /api/v1/tickets with `comment`: ticket + first message in one request, the same as create then comment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

POLICY = {
    "name": "standard",
    "conditions": {},
    "targets": [
        {"kind": "first_response", "amount": 30, "unit": "minutes"},
        {"kind": "resolution", "amount": 8, "unit": "hours"},
    ],
    "calendar": "24x7",
}


def _setup(client: Any, make: Any) -> tuple[Any, dict[str, str]]:
    brand = make.brand()
    h = make.token(make.agent("admin", [brand]))
    r = client.post("/api/v1/sla/policies", json={"brand_id": brand.id, "policy": POLICY}, headers=h)
    assert r.status_code == 201, r.text
    return brand, h


def _sla(client: Any, ticket_id: int, h: dict[str, str]) -> dict[str, tuple[str, bool]]:
    r = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=h)
    assert r.status_code == 200, r.text
    return {t["kind"]: (t["status"], t["met_at"] is not None) for t in r.json()["targets"]}


def test_a_public_comment_on_create_equals_create_then_comment(
    client: Any, make: Any, db: Any, events: list[Any]
) -> None:
    from kefu.audit.chain import verify_chain
    from kefu.audit.models import AuditLog

    brand, h = _setup(client, make)
    body = {"brand_id": brand.id, "subject": "訂單沒到", "description": "三天了"}
    two = client.post("/api/v1/tickets", json=body, headers=h).json()
    reply = {"body": "已收到，處理中。", "public": True}
    r = client.post(f"/api/v1/tickets/{two['id']}/activities", json=reply, headers=h)
    assert r.status_code == 201, r.text
    events.clear()
    r = client.post("/api/v1/tickets", json={**body, "comment": {"body": "已收到，處理中。"}}, headers=h)
    assert r.status_code == 201, r.text
    one = r.json()
    assert one["first_response_at"] is not None and one["status"] == "new"
    assert [e.type for e in events] == ["ticket.created", "ticket.comment"]
    comment = events[1]
    assert comment.data["public"] is True and comment.data["body"] == "已收到，處理中。"
    assert f"ticket:{one['id']}:public" in comment.topics
    timeline = client.get(f"/api/v1/tickets/{one['id']}/activities", headers=h).json()
    comments = [a for a in timeline if a["kind"] == "comment"]
    expected = [("已收到，處理中。", True, comment.data["activity_id"])]
    assert [(a["body"], a["public"], a["id"]) for a in comments] == expected
    assert _sla(client, one["id"], h) == _sla(client, two["id"], h)  # first response met at once on both paths
    assert _sla(client, one["id"], h)["first_response"][1] is True
    actions = db.scalars(
        select(AuditLog.action).where(AuditLog.target_type == "ticket", AuditLog.target_id == str(one["id"]))
    ).all()
    assert sorted(actions) == ["ticket.comment", "ticket.create"]
    assert verify_chain(db).ok


def test_an_internal_note_on_create_is_no_first_response(client: Any, make: Any) -> None:
    brand, h = _setup(client, make)
    r = client.post(
        "/api/v1/tickets",
        json={"brand_id": brand.id, "subject": "發票", "comment": {"body": "客戶來電", "public": False}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["first_response_at"] is None
    assert _sla(client, r.json()["id"], h)["first_response"] == ("running", False)
    public = client.get(f"/api/v1/tickets/{r.json()['id']}/activities", headers=h).json()
    assert [(a["kind"], a["public"]) for a in public if a["kind"] == "comment"] == [("comment", False)]


def test_a_bad_comment_is_refused_and_nothing_is_written(client: Any, make: Any, db: Any) -> None:
    from kefu.tickets.models import Ticket

    brand, h = _setup(client, make)
    for comment in ({"body": ""}, {"body": "x" * 20_001}, {"text": "hi"}):
        r = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "s", "comment": comment}, headers=h)
        assert r.status_code == 422, (comment, r.text)
    assert db.scalar(select(Ticket.id).where(Ticket.brand_id == brand.id)) is None


def test_the_first_message_opens_the_timeline_before_routing(db: Any, make: Any) -> None:
    """The create's comment is the timeline's first entry (ids follow time), before the route entry a rule adds."""
    from kefu.routing.commands import CreateRoutingRule
    from kefu.routing.service import create_rule
    from kefu.tickets.models import TicketActivity
    from kefu.tickets.service import create_ticket
    from tests.tickets.helpers import admin_principal

    brand = make.brand()
    p = admin_principal(make.agent("admin"))
    create_rule(db, CreateRoutingRule(brand_id=brand.id, name="urgent", conditions={}, set_priority="high"), actor=p)
    ticket = create_ticket(db, brand_id=brand.id, subject="訂單沒到", actor=p, comment={"body": "三天了"})
    db.commit()
    rows = db.execute(
        select(TicketActivity.kind, TicketActivity.ticket_id, TicketActivity.created_at)
        .where(TicketActivity.ticket_id == ticket.id)
        .order_by(TicketActivity.id)
    ).all()
    assert [kind for kind, _, _ in rows][:2] == ["comment", "route"], rows
    assert all(ticket_id == ticket.id for _, ticket_id, _ in rows)
    times = [at for _, _, at in rows]
    assert times == sorted(times), rows
    assert ticket.priority == "high" and ticket.number.startswith(brand.ticket_prefix)
