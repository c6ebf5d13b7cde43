"""Brand isolation of the audit log, the agent directory and assignment (one rule each, in kefu.auth.service)."""

from __future__ import annotations

from typing import Any

from kefu.conversations.commands import CreateConversation


def _brands(make: Any) -> tuple[Any, Any]:
    return make.brand(ticket_prefix="BRA"), make.brand(ticket_prefix="BRB")


def _ticket(db: Any, make: Any, brand: Any) -> Any:
    from kefu.tickets.service import create_ticket

    t = create_ticket(db, actor=None, brand_id=brand.id, subject="訂單問題", description="機密內容", customer_id=None)
    db.commit()
    return t


def test_audit_log_is_brand_scoped(client: Any, make: Any, db: Any) -> None:
    a, b = _brands(make)
    ta, tb = _ticket(db, make, a), _ticket(db, make, b)
    for role in ("supervisor", "auditor"):
        h = make.token(make.agent(role, [b]))
        items = client.get("/api/v1/audit", params={"limit": 200}, headers=h).json()["items"]
        assert items and {e["brand_id"] for e in items} == {b.id}, role
        assert str(ta.id) not in {e["target_id"] for e in items if e["target_type"] == "ticket"}
        assert str(tb.id) in {e["target_id"] for e in items if e["target_type"] == "ticket"}
    admin = client.get("/api/v1/audit", params={"limit": 200}, headers=make.token(make.agent("admin"))).json()
    assert {a.id, b.id} <= {e["brand_id"] for e in admin["items"]}


def test_agent_directory_is_brand_scoped(client: Any, make: Any) -> None:
    a, b = _brands(make)
    in_a, in_b, admin = make.agent("agent", [a]), make.agent("agent", [b]), make.agent("admin")
    h = make.token(make.agent("supervisor", [b]))
    ids = {x["id"] for x in client.get("/api/v1/agents", params={"limit": 200}, headers=h).json()["items"]}
    assert in_b.id in ids and admin.id in ids and in_a.id not in ids
    assert client.get(f"/api/v1/agents/{in_a.id}", headers=h).status_code == 404


def test_assignment_checks_brand_and_reply_permission(client: Any, make: Any, db: Any, events: Any) -> None:
    from kefu.conversations.service import create_conversation

    a, b = _brands(make)
    agent_a, agent_b, auditor_b = make.agent("agent", [a]), make.agent("agent", [b]), make.agent("auditor", [b])
    tb = _ticket(db, make, b)
    h = make.token(make.agent("supervisor", [b]))
    url = f"/api/v1/tickets/{tb.id}"
    for wrong in (agent_a.id, auditor_b.id):
        r = client.patch(url, json={"assignee_id": wrong}, headers=h)
        assert r.status_code == 422, r.text
    assert not any("機密內容" in str(e.data) for e in events)  # nobody outside the brand was told anything
    assert client.patch(url, json={"assignee_id": agent_b.id}, headers=h).status_code == 200
    conv = create_conversation(
        db, CreateConversation(brand_id=b.id, customer_id=make.customer(b, name="c").id, channel="web_chat"), actor=None
    )
    db.commit()
    r = client.patch(f"/api/v1/conversations/{conv.id}", json={"assignee_id": agent_a.id}, headers=h)
    assert r.status_code == 422


def test_console_assignee_list_and_form(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import create_conversation

    a, b = _brands(make)
    agent_a, auditor_b, agent_b = make.agent("agent", [a]), make.agent("auditor", [b]), make.agent("agent", [b])
    sup = make.agent("supervisor", [b])
    conv = create_conversation(
        db, CreateConversation(brand_id=b.id, customer_id=make.customer(b, name="c").id, channel="web_chat"), actor=None
    )
    db.commit()
    r = client.post("/api/v1/auth/login", json={"email": sup.email, "password": "correct horse 1"})
    csrf = r.json()["csrf_token"]
    page = client.get(f"/console/conversations/{conv.id}").text
    assert (
        f'value="{agent_b.id}"' in page
        and f'value="{agent_a.id}"' not in page
        and f'value="{auditor_b.id}"' not in page
    )
    h = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    r = client.post(f"/console/conversations/{conv.id}/assign", data={"assignee_id": str(agent_a.id)}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    r = client.post(f"/console/conversations/{conv.id}/assign", data={"assignee_id": "abc"}, headers=h)
    assert r.status_code == 422


def test_portal_progress_lookup_stays_in_its_brand(client: Any, make: Any, db: Any) -> None:
    from kefu.tickets.service import create_ticket

    a, b = _brands(make)
    cust = make.customer(a, name="王小明", email="ming@example.com")
    t = create_ticket(db, actor=None, brand_id=a.id, subject="s", description="d", customer_id=cust.id)
    db.commit()
    for brand, code in ((b, 404), (a, 200)):
        client.get(f"/portal/{brand.slug}/track")
        form = {"number": t.number, "contact": "ming@example.com", "csrf_token": client.cookies.get("kefu_portal_csrf")}
        r = client.post(f"/portal/{brand.slug}/track", data=form)
        assert r.status_code == code, (brand.slug, r.status_code)


def test_teams_and_routing_stay_in_the_brand(client: Any, make: Any, db: Any) -> None:
    from kefu.auth.service import create_team
    from kefu.routing.service import candidates

    a, b = _brands(make)
    agent_a, agent_b, auditor_b = make.agent("agent", [a]), make.agent("agent", [b]), make.agent("auditor", [b])
    team = create_team(db, brand_id=b.id, slug="desk", name="Desk", description="", actor=None)
    db.commit()
    h = make.token(make.agent("supervisor", [b]))
    url = f"/api/v1/teams/{team.id}/members"
    bad = client.put(url, json={"members": [{"agent_id": agent_a.id}]}, headers=h)
    assert bad.status_code == 422
    ok = client.put(url, json={"members": [{"agent_id": agent_b.id}, {"agent_id": auditor_b.id}]}, headers=h)
    assert ok.status_code == 204
    for ag in (agent_b, auditor_b):
        ag.availability = "online"
    db.commit()
    assert [x.id for x, _ in candidates(db, team.id)] == [agent_b.id]  # auditors are never routed work
