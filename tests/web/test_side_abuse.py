"""Abuse cases on unauthenticated and customer-facing routes found by the side-path hunt, each fixed."""

from __future__ import annotations

from typing import Any

import pytest

from kefu.web.pages import safe_next


@pytest.mark.parametrize(
    "value",
    [
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/console",
        "javascript:alert(1)",
        "/console\r\nSet-Cookie: x=1",
        "/portal/demo",  # not an agent page: the console is where a signed-in agent goes
        "/consolex",
        "",
        None,
    ],
)
def test_next_refuses_anything_but_an_agent_page(value: str | None) -> None:
    assert safe_next(value) is None


def test_next_keeps_agent_pages() -> None:
    assert safe_next("/console/tickets/12") == "/console/tickets/12"
    assert safe_next("/admin?tab=sla&brand_id=3") == "/admin?tab=sla&brand_id=3"


def test_sign_in_returns_to_the_page_that_asked(client: Any, make: Any) -> None:
    from tests.security.test_brand_walk import PASSWORD

    agent = make.agent("agent", [make.brand()])
    sent = client.get("/console/tickets?view=mine", follow_redirects=False)
    assert sent.status_code == 303
    login = sent.headers["location"]
    assert login == "/login?next=%2Fconsole%2Ftickets%3Fview%3Dmine"
    page = client.get(login)
    assert 'name="next" value="/console/tickets?view=mine"' in page.text
    form = {"email": agent.email, "password": PASSWORD, "next": "/console/tickets?view=mine"}
    r = client.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/tickets?view=mine"
    bad = client.get("/login", params={"next": "//evil.example/"})
    assert 'name="next"' not in bad.text  # the language links keep the query; the form drops it
