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


def test_renaming_an_organization_to_a_taken_name_is_a_conflict(client: Any, make: Any) -> None:
    """Names are unique per brand: a rename onto another organization's name is the 409 a create gets (was a 500
    from the unique index); keeping its own name, or a name taken in another brand, is fine."""
    brand, other = make.brand(), make.brand()
    h = make.token(make.agent("admin"))
    ids = [
        client.post("/api/v1/organizations", json={"brand_id": b.id, "name": n}, headers=h).json()["id"]
        for b, n in ((brand, "甲公司"), (brand, "乙公司"), (other, "丙公司"))
    ]
    r = client.patch(f"/api/v1/organizations/{ids[1]}", json={"name": "甲公司"}, headers=h)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert client.patch(f"/api/v1/organizations/{ids[1]}", json={"name": "乙公司"}, headers=h).status_code == 200
    assert client.patch(f"/api/v1/organizations/{ids[0]}", json={"name": "丙公司"}, headers=h).status_code == 200
