"""B2B (#17): contacts at an organization's email domain join it and its dedicated team, with an audit entry."""

from __future__ import annotations

from typing import Any


def test_contacts_at_the_domain_join_the_organization_and_reach_its_dedicated_team(
    client: Any, make: Any, jobs: Any
) -> None:
    brand = make.brand()
    h = make.token(make.agent("admin"))
    team = client.post("/api/v1/teams", json={"brand_id": brand.id, "slug": "acme-desk", "name": "Acme"}, headers=h)
    before = client.post("/api/v1/customers", json={"brand_id": brand.id, "email": "wang@ACME.com.tw"}, headers=h)
    outsider = client.post("/api/v1/customers", json={"brand_id": brand.id, "email": "lee@notacme.com.tw"}, headers=h)
    org = client.post(
        "/api/v1/organizations",
        json={
            "brand_id": brand.id,
            "name": "Acme 股份有限公司",
            "domain": "@Acme.com.tw",
            "dedicated_team_id": team.json()["id"],
        },
        headers=h,
    )
    assert org.status_code == 201, org.text
    oid = org.json()["id"]
    assert org.json()["domain"] == "acme.com.tw"
    # An existing contact at the domain joins when the domain is set; a look-alike domain does not.
    assert client.get(f"/api/v1/customers/{before.json()['id']}", headers=h).json()["organization_id"] == oid
    assert client.get(f"/api/v1/customers/{outsider.json()['id']}", headers=h).json()["organization_id"] is None

    # A first contact from a subdomain (message board) joins too, and the case goes to the dedicated team.
    board = client.post(
        f"/api/v1/brands/{brand.id}/inboxes", json={"kind": "board", "name": "留言板"}, headers=h
    ).json()
    r = client.post(
        f"/api/v1/channels/board/{board['id']}",
        json={
            "name": "陳經理",
            "contact": "chen@sales.acme.com.tw",
            "message": "合約續約報價",
            "submission_id": "acme-0001",
        },
    )
    assert r.status_code == 201, r.text
    ticket = client.get(f"/api/v1/tickets/by-number/{r.json()['ticket_number']}", headers=h).json()
    assert ticket["organization_id"] == oid and ticket["team_id"] == team.json()["id"]

    audit = client.get("/api/v1/audit", params={"action": "customer.organization_join"}, headers=h).json()["items"]
    assert len(audit) == 2 and all(a["details"]["organization_id"] == oid for a in audit)
