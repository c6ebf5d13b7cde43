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


def test_gauge_target_tick_is_titled_in_the_page_language() -> None:
    from kefu.analytics.charts import gauge

    svg = str(gauge(0.5, "首次回應解決率", target=0.937, target_title="目標 93.7%"))
    assert "<title>目標 93.7%</title>" in svg and ">target<" not in svg


def test_case_category_placeholder_is_not_the_raw_key(client: Any, make: Any, db: Any) -> None:
    from kefu.tickets.service import create_ticket
    from kefu.tickets.taxonomy import DEFAULT_CATEGORIES, install_default_categories
    from tests.web.test_admin_pages import _login

    brand = make.brand()
    install_default_categories(db, brand.id, None)
    known = DEFAULT_CATEGORIES[0].key
    ticket = create_ticket(db, actor=None, brand_id=brand.id, subject="查詢", description="d", category=known)
    db.commit()
    _login(client, make.agent("admin", [brand]))
    page = client.get(f"/console/tickets/{ticket.id}", params={"lang": "zh-TW"}).text
    assert f'<option value="{known}" selected>' in page
    assert f'<option value="">{known}</option>' not in page


def test_bilingual_labels_follow_the_reader() -> None:
    from kefu.web.pages import bilingual_label

    assert bilingual_label("語音信箱處理", "Voicemail", "zh-CN") == "语音信箱处理"  # Simplified script, not Traditional
    assert bilingual_label("語音信箱處理", "Voicemail", "zh-TW") == "語音信箱處理"
    assert bilingual_label("語音信箱處理", "Voicemail", "en") == "Voicemail"
    assert bilingual_label("語音信箱處理", "", "en") == "語音信箱處理"  # no English written: the Chinese, not blank


def test_outage_form_categories_in_simplified_for_zh_cn(client: Any, make: Any, db: Any) -> None:
    from kefu.tickets.taxonomy import install_default_categories
    from tests.web.test_admin_pages import _login

    brand = make.brand()
    install_default_categories(db, brand.id, None)
    db.commit()
    _login(client, make.agent("admin", [brand]))
    page = client.get("/console/notices", params={"lang": "zh-CN"})
    assert page.status_code == 200
    assert "监管部门来函" in page.text and "政府機關來函" not in page.text  # written for mainland readers (cat_*)


@pytest.mark.parametrize(("lang", "title"), [("zh-TW", "連結無效"), ("zh-CN", "链接无效"), ("en", "Link not valid")])
def test_bad_verification_link_is_a_page_in_the_visitor_language(client: Any, lang: str, title: str) -> None:
    r = client.get("/api/v1/widget/verify", params={"token": "forged", "lang": lang})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert title in r.text and "content-security-policy" in r.headers
