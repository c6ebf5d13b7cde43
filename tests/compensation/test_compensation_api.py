"""The compensation ledger (#17, seed 003 补偿机制) over the API: a breached SLA target proposes twice the overrun,
an outage notice proposes its length per affected customer, both once; leads approve, grant or reject; brands stay
apart and scopes hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.tickets.helpers import Clock, tw


def _case(db: Any, make: Any, brand: Any, name: str = "王小明") -> tuple[Any, Any]:
    from kefu.tickets.service import create_ticket

    customer = make.customer(brand, name=name)
    ticket = create_ticket(db, brand_id=brand.id, subject="退款未到帳", actor=None, customer_id=customer.id)
    db.commit()
    return customer, ticket


def _target(db: Any, ticket: Any, key: str, due: Any, met: Any, breached: bool = True) -> None:
    from kefu.sla.models import TicketSlaTarget

    db.add(
        TicketSlaTarget(
            ticket_id=ticket.id,
            brand_id=ticket.brand_id,
            key=key,
            kind=key,
            label=None,
            started_at=due - timedelta(hours=4),
            due_at=due,
            met_at=met,
            status="breached" if breached else ("met" if met else "running"),
            breached_at=due if breached else None,
        )
    )
    db.flush()


def test_breached_sla_target_proposes_twice_the_overrun_once(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from kefu.compensation.service import propose_for_sla_breaches

    brand = make.brand()
    customer, ticket = _case(db, make, brand)
    due = tw(2026, 3, 2, 12, 0)
    _target(db, ticket, "resolution", due, due + timedelta(minutes=90))  # 90 min late
    _target(db, ticket, "first_response", due, due - timedelta(minutes=5), breached=False)  # met in time
    _target(db, ticket, "csat_survey", due, due + timedelta(hours=3))  # a late survey costs the customer nothing
    _, open_case = _case(db, make, brand, "林小姐")
    _target(db, open_case, "resolution", due, None)  # breached, still open: the overrun is not known yet
    made = propose_for_sla_breaches(db)
    assert [(r.reason, r.basis_minutes, r.amount, r.unit, r.status) for r in made] == [
        ("sla_breach", 90, 180, "minutes", "proposed")
    ]
    assert made[0].customer_id == customer.id and made[0].ticket_id == ticket.id
    assert propose_for_sla_breaches(db) == []  # idempotent: one per case and target
    db.commit()

    admin = make.token(make.agent("admin"))
    listed = client.get("/api/v1/compensations", params={"ticket_id": ticket.id}, headers=admin).json()
    assert [(i["reason"], i["amount"], i["factor"]) for i in listed["items"]] == [("sla_breach", 180, 2.0)]

    # The brand may credit in hours (rounded up for the customer) and change the factor; bad settings are refused.
    for bad in ({"unit": "weeks"}, {"sla_factor": 0}, {"outage_factor": "2"}, {"bonus": 1}):
        r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"compensation": bad}}, headers=admin)
        assert r.status_code == 422, bad
    good = {"settings": {"compensation": {"unit": "hours", "sla_factor": 2}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=good, headers=admin).status_code == 200
    db.expire_all()
    _target(db, open_case, "first_response", due, due + timedelta(minutes=61))
    (hours,) = propose_for_sla_breaches(db)
    assert (hours.basis_minutes, hours.amount, hours.unit) == (61, 3, "hours")  # 122 min → 3 h
    assert hours.note == "首次回覆"  # the target's name in the brand's language, not its internal key


def test_outage_notice_proposes_its_length_for_each_affected_customer(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.notices.broadcasts import Audience, broadcast_outage

    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 2, 10, 0))
    a, ta = _case(db, make, brand, "吳先生")
    b, tb = _case(db, make, brand, "鄭小姐")
    for t in (ta, tb):
        t.tags = ["pay-outage"]
    window = Audience(tag="pay-outage", since=tw(2026, 3, 2, 9, 0), until=tw(2026, 3, 2, 11, 30))
    row = broadcast_outage(db, brand.id, None, title="付款服務暫停", body="信用卡付款暫時失敗。", audience=window)
    db.commit()
    sup = make.agent("supervisor", [brand])
    h = make.token(sup)
    url = f"/api/v1/notices/outages/{row.id}/compensations"
    r = client.post(url, json={}, headers=h)
    assert r.status_code == 200, r.text
    got = sorted((i["customer_id"], i["reason"], i["basis_minutes"], i["amount"]) for i in r.json())
    assert got == sorted([(a.id, "outage", 150, 150), (b.id, "outage", 150, 150)])
    assert client.post(url, json={}, headers=h).json() == []  # idempotent per customer and outage
    assert client.post(url, json={"outage_minutes": 0}, headers=h).status_code == 422
    assert client.post(url, json={"outage_minutes": 45, "x": 1}, headers=h).status_code == 422
    other = make.agent("supervisor", [make.brand()])
    assert client.post(url, json={}, headers=make.token(other)).status_code == 404


def test_lead_approves_grants_and_rejects_with_audit_and_totals(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from kefu.audit.models import AuditLog

    brand = make.brand()
    customer, ticket = _case(db, make, brand)
    other_customer, _ = _case(db, make, brand, "陳先生")
    lead = make.agent("supervisor", [brand])
    h = make.token(lead)
    body = {"customer_id": customer.id, "ticket_id": ticket.id, "basis_minutes": 30, "note": "回覆了錯誤的退款金額"}
    r = client.post("/api/v1/compensations", json=body, headers=h)
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["reason"], first["amount"], first["status"], first["created_by"]) == (
        "handling_error",
        60,
        "proposed",
        lead.id,
    )
    for bad in (
        {**body, "basis_minutes": 0},
        {**body, "note": ""},
        {**body, "customer_id": other_customer.id},  # the case is someone else's
        {**body, "amount": 999},
    ):
        assert client.post("/api/v1/compensations", json=bad, headers=h).status_code == 422, bad
    second = client.post("/api/v1/compensations", json={**body, "basis_minutes": 10}, headers=h).json()

    cid = first["id"]
    assert client.post(f"/api/v1/compensations/{cid}/grant", json={}, headers=h).status_code == 409
    approved = client.post(f"/api/v1/compensations/{cid}/approve", json={}, headers=h).json()
    assert (approved["status"], approved["approved_by"]) == ("approved", lead.id)
    granted = client.post(f"/api/v1/compensations/{cid}/grant", json={"note": "已加值會員時長"}, headers=h).json()
    assert granted["status"] == "granted" and granted["decided_at"]
    assert client.post(f"/api/v1/compensations/{cid}/reject", json={"note": "x"}, headers=h).status_code == 409
    sid = second["id"]
    assert client.post(f"/api/v1/compensations/{sid}/reject", json={}, headers=h).status_code == 422  # no reason
    assert client.post(f"/api/v1/compensations/{sid}/bogus", json={}, headers=h).status_code == 422
    rejected = client.post(f"/api/v1/compensations/{sid}/reject", json={"note": "重複申請"}, headers=h).json()
    assert (rejected["status"], rejected["decision_note"]) == ("rejected", "重複申請")

    totals = client.get("/api/v1/compensations/totals", params={"brand_id": brand.id}, headers=h).json()
    assert totals == [
        {"status": "granted", "unit": "minutes", "entries": 1, "amount": 60},
        {"status": "rejected", "unit": "minutes", "entries": 1, "amount": 20},
    ]
    actions = db.query(AuditLog.action).filter(AuditLog.target_type == "compensation").all()
    assert sorted(a for (a,) in actions) == sorted(
        ["compensation.propose"] * 2 + ["compensation.approve", "compensation.grant", "compensation.reject"]
    )


def test_brands_stay_apart_scopes_hold_and_lists_page(client: Any, make: Any, db: Any, clock: Clock) -> None:
    brand, elsewhere = make.brand(), make.brand()
    customer, _ = _case(db, make, brand)
    foreign = make.customer(elsewhere, name="外部客戶")
    lead = make.agent("supervisor", [brand])
    h = make.token(lead)
    ids = []
    for minutes in (5, 6, 7):
        body = {"customer_id": customer.id, "basis_minutes": minutes, "note": "漏回覆"}
        ids.append(client.post("/api/v1/compensations", json=body, headers=h).json()["id"])
    away = {"customer_id": foreign.id, "basis_minutes": 5, "note": "漏回覆"}
    assert client.post("/api/v1/compensations", json=away, headers=h).status_code == 404  # another brand's customer
    foreign_lead = make.token(make.agent("supervisor", [elsewhere]))
    assert client.get(f"/api/v1/compensations/{ids[0]}", headers=foreign_lead).status_code == 404
    assert client.post(f"/api/v1/compensations/{ids[0]}/approve", json={}, headers=foreign_lead).status_code == 404
    assert client.get("/api/v1/compensations", headers=foreign_lead).json()["items"] == []
    assert client.get("/api/v1/compensations", params={"brand_id": brand.id}, headers=foreign_lead).status_code == 404

    agent = make.token(make.agent("agent", [brand]))  # agents see the ledger but do not decide
    assert client.get(f"/api/v1/compensations/{ids[0]}", headers=agent).status_code == 200
    assert client.post(f"/api/v1/compensations/{ids[0]}/approve", json={}, headers=agent).status_code == 403
    reader = make.token(make.agent("admin"), scopes=["customers:read"])
    assert client.get("/api/v1/compensations", headers=reader).status_code == 200
    assert client.post(f"/api/v1/compensations/{ids[0]}/approve", json={}, headers=reader).status_code == 403

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/compensations", params=params, headers=h).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    assert client.get("/api/v1/compensations", params={"cursor": "@@"}, headers=h).status_code == 422
    assert client.get("/api/v1/compensations", params={"status": "paid"}, headers=h).status_code == 422
