"""Every htmx form outside admin answers an invalid value with the inline-error fragment (kefu.web.errors.form_error):
marked X-Kefu-Form-Error, a headline per status and a message per bad field, in the language the page was shown in.
Plain (non-htmx) requests to the same routes keep the friendly error page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.test_workspace import _conv, _login


@pytest.fixture
def forms(make: Any, db: Any) -> dict[str, Any]:
    brand = make.brand(timezone="Asia/Taipei")
    ming = make.customer(brand, name="王小明", email="ming@example.com")
    conv = _conv(db, brand, ming, "我要申請退款", ticket_subject="申請退款")
    admin = make.agent("admin", [brand])
    return {"brand": brand, "ming": ming, "conv": conv, "ticket_id": conv.ticket_id, "admin": admin}


def _fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p data-field="([^"]+)">([^<]*)</p>', html))


def _headline(html: str) -> str:
    found = re.search(r'data-headline="([^"]*)"', html)
    assert found, html
    return found.group(1)


# (route, form data, field expected to carry the message or None for a reason-only error, zh-TW message, en message)
def _cases(f: dict[str, Any]) -> list[tuple[str, dict[str, Any], str | None, str, str]]:
    conv, ticket, ming = f["conv"].id, f["ticket_id"], f["ming"].id
    return [
        (f"/console/conversations/{conv}/messages", {"body": "", "mode": "reply"}, "body", "必填", "required"),
        (f"/console/conversations/{conv}/messages", {"body": "hi", "mode": "shout"}, "mode", "選擇", "Choose"),
        (f"/console/conversations/{conv}/assign", {"assignee_id": "abc"}, None, "原因", "Reason"),
        (
            f"/console/tickets/{ticket}",
            {"status": "open", "priority": "normal", "conversation_id": "x"},
            "conversation_id",
            "整數",
            "whole number",
        ),
        ("/console/tickets/views", {"name": "x" * 101}, "name", "最多 100 個字", "at most 100"),
        ("/console/tickets/bulk", {"action": "assign"}, "ticket_ids", "必填", "required"),
        ("/console/tickets/bulk", {"action": "explode", "ticket_ids": str(ticket)}, "action", "選擇", "Choose"),
        (f"/console/tickets/{ticket}/fields", {"status": "open"}, "priority", "必填", "required"),
        (f"/console/tickets/{ticket}/fields", {"status": "open", "priority": "x" * 17}, "priority", "最多", "at most"),
        (f"/console/customers/{ming}/notes", {"body": "x" * 4001}, "body", "最多 4000 個字", "at most 4000"),
        (f"/console/customers/{ming}/merge", {"source_id": "abc"}, "source_id", "整數", "whole number"),
        ("/console/privacy-requests", {"customer_id": str(ming), "kind": "steal"}, "kind", "選擇", "Choose"),
        ("/console/privacy-requests", {"customer_id": str(ming), "reason": "x" * 501}, "reason", "最多", "at most"),
        ("/console/privacy-requests/1/verify", {"note": "x" * 501}, "note", "最多 500 個字", "at most 500"),
        ("/console/privacy-requests/1/execute", {"fmt": "docx"}, "fmt", "選擇", "Choose"),
        ("/console/follow-ups/999999/outcome", {"outcome": "reached"}, None, "找不到", "find"),
        ("/console/callbacks/999999/done", {"outcome": "reached"}, None, "找不到", "find"),
        ("/console/qa/999999/score", {"comment": "x"}, None, "找不到", "find"),
    ]


@pytest.mark.parametrize("locale", ["zh-TW", "en"])
def test_every_console_form_answers_invalid_input_inline(client: Any, forms: dict[str, Any], locale: str) -> None:
    h = _login(client, forms["admin"]) | {"X-Kefu-Locale": locale}
    for path, data, field, tw, en in _cases(forms):
        r = client.post(path, data=data, headers=h)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert r.headers.get("x-kefu-form-error") == "1", (path, r.status_code, r.text[:300])
        html = r.text
        assert _headline(html), path
        want = tw if locale == "zh-TW" else en
        if field:
            assert want in _fields(html).get(field, ""), (path, html)
        else:
            assert want in html, (path, html)
        assert "<html" not in html  # a fragment, not a page


def test_zh_cn_messages_are_simplified(client: Any, forms: dict[str, Any]) -> None:
    h = _login(client, forms["admin"]) | {"X-Kefu-Locale": "zh-CN"}
    r = client.post(f"/console/conversations/{forms['conv'].id}/messages", data={"body": ""}, headers=h)
    assert _fields(r.text) == {"body": "此项为必填。"}
    assert _headline(r.text) == "有字段格式不正确，请检查后再提交。"


def test_plain_requests_keep_the_error_page(client: Any, forms: dict[str, Any]) -> None:
    h = _login(client, forms["admin"])
    h.pop("HX-Request")
    r = client.post(f"/console/customers/{forms['ming'].id}/merge", data={"source_id": "abc"}, headers=h)
    assert r.status_code == 422
    assert "x-kefu-form-error" not in r.headers
    assert "<html" in r.text


def test_api_errors_stay_problem_json(client: Any, forms: dict[str, Any]) -> None:
    h = _login(client, forms["admin"])
    r = client.get("/api/v1/tickets/999999", headers=h)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
