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


def test_conversation_offers_the_customers_version_of_each_canned_response(client: Any, make: Any, db: Any) -> None:
    """A zh-TW agent answering an English customer is offered the English version; else the agent's; else any."""
    from kefu.macros.models import CannedResponse
    from tests.web.test_workspace import _conv, _login

    brand = make.brand()
    agent = make.agent("agent", [brand])
    agent.locale = "zh-TW"
    versions = [
        ("hi", "zh-TW", "您好"),
        ("hi", "en", "Hello there"),
        ("fee", "zh-CN", "手续费说明"),
        ("fee", "zh-TW", "手續費說明"),
        ("bye", "zh-CN", "再见啦"),
    ]
    for shortcut, locale, body in versions:
        db.add(CannedResponse(brand_id=brand.id, locale=locale, shortcut=shortcut, title=shortcut, body=body))
    customer = make.customer(brand, name="Amy", locale="en")
    conv = _conv(db, brand, customer, "How do I get a refund?")
    h = _login(client, agent)
    page = client.get(f"/console/conversations/{conv.id}", headers=h).text
    options = page.split('id="canned"', 1)[1].split("</select>", 1)[0]
    assert "Hello there" in options and "您好" not in options  # the customer's locale
    assert "手續費說明" in options and "手续费说明" not in options  # no English version: the agent's
    assert "再见啦" in options  # only one version: offered as written
    assert options.count("data-shortcut=") == 3
