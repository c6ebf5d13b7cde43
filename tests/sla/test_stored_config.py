"""A stored SLA policy or calendar that does not parse (an older version's row, a hand edit) takes nothing down."""

from __future__ import annotations

from typing import Any

from tests.tickets.helpers import Clock


def test_a_stored_policy_that_does_not_parse_is_skipped_and_named(
    client: Any, db: Any, make: Any, clock: Clock
) -> None:
    """Tickets still save (matched by the valid policies), the API and the admin SLA tab say which row is bad."""
    from kefu.sla.models import SlaCalendar, SlaPolicyRecord

    brand = make.brand()
    sup = make.agent("supervisor", [brand])
    hs = make.token(sup)
    good = {
        "brand_id": brand.id,
        "position": 20,
        "policy": {"name": "all", "targets": [{"kind": "first_response", "amount": 10, "unit": "minutes"}]},
    }
    assert client.post("/api/v1/sla/policies", json=good, headers=hs).status_code == 201
    # Stored directly, as a row from before a rule or edited in the database would be: no targets, first in order.
    db.add(SlaPolicyRecord(brand_id=brand.id, name="broken", position=1, is_active=True, definition={}))
    db.add(SlaCalendar(brand_id=brand.id, team_id=None, name="24x7", config={"weekly": "nonsense"}))
    db.commit()
    customer = make.customer(brand)
    r = client.post(
        "/api/v1/tickets", json={"brand_id": brand.id, "subject": "s", "customer_id": customer.id}, headers=hs
    )
    assert r.status_code == 201, r.text
    state = client.get(f"/api/v1/tickets/{r.json()['id']}/sla", headers=hs).json()
    assert state["policy_name"] == "all"
    rerouted = client.post(f"/api/v1/routing/tickets/{r.json()['id']}/reroute", json={}, headers=hs)
    assert rerouted.status_code < 500, rerouted.text
    listed = client.get("/api/v1/sla/policies", params={"brand_id": brand.id}, headers=hs).json()
    listed = {p["name"]: p for p in listed}
    assert listed["all"]["problem"] is None
    assert listed["broken"]["problem"] == "targets: Field required"
    from tests.security.test_brand_walk import _login

    _login(client, sup)
    page = client.get(f"/admin?tab=sla&brand_id={brand.id}")
    assert page.status_code == 200
    assert "這條已存的政策內容無效" in page.text and "targets: Field required" in page.text


def test_a_ticket_whose_sla_snapshot_does_not_parse_still_saves(client: Any, db: Any, make: Any, clock: Clock) -> None:
    """A ticket's own copy of its policy, older than a rule: its clock is not evaluated, the ticket and its SLA
    answer still work (the PATCH, the state, the sweep)."""
    from kefu.sla.models import TicketSla

    brand = make.brand()
    sup = make.agent("supervisor", [brand])
    admin = make.token(make.agent("admin"))
    hs = make.token(sup)
    good = {
        "brand_id": brand.id,
        "policy": {"name": "all", "targets": [{"kind": "first_response", "amount": 10, "unit": "minutes"}]},
    }
    assert client.post("/api/v1/sla/policies", json=good, headers=hs).status_code == 201
    customer = make.customer(brand)
    ticket = client.post(
        "/api/v1/tickets", json={"brand_id": brand.id, "subject": "s", "customer_id": customer.id}, headers=hs
    ).json()
    state = db.get(TicketSla, ticket["id"])
    state.policy = {"targets": "not a list", "escalation": {"levels": []}}
    db.commit()
    assert client.post("/api/v1/sla/sweep", headers=admin).status_code == 200
    sla = client.get(f"/api/v1/tickets/{ticket['id']}/sla", headers=hs)
    assert sla.status_code == 200, sla.text
    r = client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "pending"}, headers=hs)
    assert r.status_code == 200, r.text
