"""Canned responses: editors manage them, agents search and render them."""

from __future__ import annotations

from typing import Any


def test_canned_responses_crud_search_and_render(client: Any, make: Any) -> None:
    from kefu.macros.service import render

    brand = make.brand()
    sup = make.token(make.agent("supervisor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    body = {
        "brand_id": brand.id,
        "locale": "zh-TW",
        "shortcut": "hello",
        "title": "問候",
        "body": "{customer_name} 您好，我是{agent_name}，工單 {ticket_number}。{unknown}",
    }
    assert client.post("/api/v1/canned-responses", json=body, headers=agent).status_code == 403
    r = client.post("/api/v1/canned-responses", json=body, headers=sup)
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/canned-responses", json=body, headers=sup).status_code == 409
    found = client.get("/api/v1/canned-responses", params={"brand_id": brand.id, "q": "hel"}, headers=agent).json()
    assert [c["shortcut"] for c in found] == ["hello"]
    assert client.get("/api/v1/canned-responses", params={"brand_id": brand.id, "q": "zzz"}, headers=agent).json() == []
    text = render(found[0]["body"], {"customer_name": "王小明", "agent_name": "林小美", "ticket_number": "KF-000007"})
    assert text == "王小明 您好，我是林小美，工單 KF-000007。{unknown}"
    # An anonymous chat visitor has no name: the greeting must not read " 您好" or "Hi , this is".
    assert render(found[0]["body"], {"customer_name": None, "agent_name": "林小美"}).startswith("您好，我是林小美")
    assert render("Hi {customer_name}, this is {agent_name}.", {"customer_name": "", "agent_name": "Sam"}) == (
        "Hi, this is Sam."
    )
    cid = r.json()["id"]
    assert (
        client.patch(f"/api/v1/canned-responses/{cid}", json={"title": "開場"}, headers=sup).json()["title"] == "開場"
    )
    assert client.delete(f"/api/v1/canned-responses/{cid}", headers=sup).status_code == 204


def test_other_brand_cannot_see_canned(client: Any, make: Any) -> None:
    a, b = make.brand(), make.brand()
    sup = make.token(make.agent("supervisor", [a]))
    other = make.token(make.agent("agent", [b]))
    client.post(
        "/api/v1/canned-responses",
        json={"brand_id": a.id, "locale": "en", "shortcut": "x", "title": "x", "body": "x"},
        headers=sup,
    )
    assert client.get("/api/v1/canned-responses", params={"brand_id": a.id}, headers=other).status_code == 404
