"""Data-subject requests as a queue: logged pending, identity checked with a note, executed through the privacy
service, due by the PDPA Art. 13 deadline (15 days export, 30 days correction/erasure), audited, and listed in the
console as pending / overdue / done."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kefu.core.db import utcnow


def _login(client: Any, agent: Any) -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    brand = make.brand(timezone="Asia/Taipei")
    other = make.brand(ticket_prefix="OT")
    return {
        "brand": brand,
        "other": other,
        "ming": make.customer(brand, name="王小明", email="ming@example.com", phone="0912-345-678"),
        "stranger": make.customer(other, name="李四", phone="0922-000-111"),
        "lead": make.agent("supervisor", [brand]),
        "agent": make.agent("agent", [brand]),
        "auditor": make.agent("auditor", [brand]),
    }


def _actions(db: Any, request_id: int) -> list[str]:
    from kefu.audit.models import AuditLog

    rows = db.scalars(
        select(AuditLog.action).where(AuditLog.target_type == "privacy_request", AuditLog.target_id == str(request_id))
    )
    return sorted(rows)


def test_export_request_pending_then_verified_then_executed_with_due_date(
    client: Any, db: Any, make: Any, world: dict[str, Any]
) -> None:
    tok = make.token(world["lead"])
    before = utcnow()
    r = client.post(
        "/api/v1/privacy/requests",
        json={"customer_id": world["ming"].id, "kind": "export", "reason": "本人來信申請", "channel": "email"},
        headers=tok,
    )
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending" and req["channel"] == "email" and req["overdue"] is False
    due = req["due_at"]
    assert due[:10] == (before + timedelta(days=15)).isoformat()[:10]
    rid = req["id"]
    # Executing before the identity check is refused, with a problem document.
    r = client.post(f"/api/v1/privacy/requests/{rid}/execute", json={}, headers=tok)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post(f"/api/v1/privacy/requests/{rid}/verify", json={"note": "回撥 0912-345-678 核對生日"}, headers=tok)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "verified" and body["verified_by"] == world["lead"].id
    assert "0912-345-678" not in body["verification_note"]  # PII in the note is masked before it is stored
    r = client.post(f"/api/v1/privacy/requests/{rid}/verify", json={"note": "again"}, headers=tok)
    assert r.status_code == 409
    r = client.post(f"/api/v1/privacy/requests/{rid}/execute", json={"format": "json"}, headers=tok)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["content-disposition"]
    assert r.json()["customer"]["id"] == world["ming"].id
    got = client.get(f"/api/v1/privacy/requests/{rid}", headers=tok).json()
    assert got["status"] == "completed" and got["completed_at"] and got["details"]["format"] == "json"
    # One row for the request (executing did not log a second one), and each step is in the audit log.
    rows = client.get("/api/v1/privacy/requests", params={"customer_id": world["ming"].id}, headers=tok).json()
    assert [x["id"] for x in rows["items"]] == [rid]
    assert _actions(db, rid) == ["privacy.request.execute", "privacy.request.open", "privacy.request.verify"]


def test_erasure_and_correction_run_through_the_services(
    client: Any, db: Any, make: Any, world: dict[str, Any]
) -> None:
    from kefu.customers.models import Customer
    from kefu.privacy.models import DeletionLedger

    tok = make.token(world["lead"])
    ming = world["ming"]
    r = client.post(
        "/api/v1/privacy/requests",
        json={
            "customer_id": ming.id,
            "kind": "correction",
            "reason": "電話換號",
            "channel": "phone",
            "changes": {"phone": "+886 933 444 555"},
        },
        headers=tok,
    )
    assert r.status_code == 201, r.text
    corr = r.json()
    assert corr["details"]["changes"] == ["phone"]  # the new value itself is not echoed in lists
    assert corr["due_at"][:10] == (utcnow() + timedelta(days=30)).isoformat()[:10]
    client.post(f"/api/v1/privacy/requests/{corr['id']}/verify", json={"note": "臨櫃核對證件"}, headers=tok)
    r = client.post(f"/api/v1/privacy/requests/{corr['id']}/execute", json={}, headers=tok)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert r.json()["details"] == {"fields": ["phone"]}  # the corrected value is not kept on the request
    db.expire_all()
    c = db.get(Customer, ming.id)
    assert c.phone == "+886 933 444 555" and c.phone_key == "0933444555"

    r = client.post(
        "/api/v1/privacy/requests",
        json={"customer_id": ming.id, "kind": "erase", "reason": "本人要求刪除", "channel": "letter"},
        headers=tok,
    )
    er = r.json()
    client.post(f"/api/v1/privacy/requests/{er['id']}/verify", json={"note": "書面申請附身分證影本"}, headers=tok)
    r = client.post(f"/api/v1/privacy/requests/{er['id']}/execute", json={}, headers=tok)
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    db.expire_all()
    assert db.get(Customer, ming.id).name == ""
    ledger = db.scalar(select(DeletionLedger).where(DeletionLedger.customer_id == ming.id))
    assert ledger is not None and ledger.request_id == er["id"]
    ids = [x["id"] for x in client.get("/api/v1/privacy/requests", headers=tok).json()["items"]]
    assert sorted(ids) == sorted([corr["id"], er["id"]])  # no extra completed row from the erasure itself


def test_scopes_brands_and_bad_input(client: Any, make: Any, world: dict[str, Any]) -> None:
    lead = make.token(world["lead"])
    r = client.post(
        "/api/v1/privacy/requests",
        json={"customer_id": world["stranger"].id, "kind": "export", "reason": "其他品牌"},
        headers=lead,
    )
    assert r.status_code == 404  # a customer of another brand
    r = client.post(
        "/api/v1/privacy/requests",
        json={"customer_id": world["ming"].id, "kind": "correction", "reason": "改名"},
        headers=lead,
    )
    assert r.status_code == 422  # a correction without corrected values
    r = client.post(
        "/api/v1/privacy/requests",
        json={"customer_id": world["ming"].id, "kind": "erase", "reason": "本人要求"},
        headers=lead,
    )
    rid = r.json()["id"]
    agent = make.token(world["agent"])  # may log requests but not see personal data: cannot verify or execute
    r = client.post(f"/api/v1/privacy/requests/{rid}/verify", json={"note": "核對"}, headers=agent)
    assert r.status_code == 403
    read_only = make.token(world["lead"], scopes=["audit:read"])
    assert client.get("/api/v1/privacy/requests", headers=read_only).status_code == 200
    r = client.post(f"/api/v1/privacy/requests/{rid}/execute", json={}, headers=read_only)
    assert r.status_code == 403
    other_lead = make.token(make.agent("supervisor", [world["other"]]))
    assert client.get(f"/api/v1/privacy/requests/{rid}", headers=other_lead).status_code == 404
    r = client.post(f"/api/v1/privacy/requests/{rid}/reject", json={"note": "身分無法核對"}, headers=lead)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert client.post(f"/api/v1/privacy/requests/{rid}/execute", json={}, headers=lead).status_code == 409


def test_console_queue_lists_pending_overdue_done_and_acts(
    client: Any, db: Any, world: dict[str, Any], count_queries: Any
) -> None:
    from kefu.auth.service import principal_for
    from kefu.privacy import requests

    lead = world["lead"]
    p = principal_for(db, lead, "session", 0, None)
    late = requests.open_request(
        db, p, world["ming"].id, kind="export", reason="三週前來信", channel="email", now=utcnow() - timedelta(days=20)
    )
    fresh = requests.open_request(db, p, world["ming"].id, kind="erase", reason="本人要求刪除", channel="phone")
    db.commit()
    h = _login(client, lead)
    with count_queries() as q:
        r = client.get("/console/privacy-requests", params={"state": "overdue"}, headers=h)
    assert r.status_code == 200
    assert f'id="dsr-{late.id}"' in r.text and f'id="dsr-{fresh.id}"' not in r.text
    assert "已逾期" in r.text
    assert q.count <= 12, str(q)
    r = client.get("/console/privacy-requests", params={"state": "pending"}, headers=h)
    assert f'id="dsr-{fresh.id}"' in r.text and f'id="dsr-{late.id}"' not in r.text
    # Verify through the page, then carry out the erasure; it moves to "done".
    r = client.post(f"/console/privacy-requests/{fresh.id}/verify", data={"note": ""}, headers=h)
    assert r.status_code == 422 and "至少 3 個字" in r.text  # bad input is a 4xx (htmx swaps the redisplayed page)
    r = client.post(f"/console/privacy-requests/{fresh.id}/verify", data={"note": "回撥核對"}, headers=h)
    assert r.status_code == 204
    r = client.post(f"/console/privacy-requests/{fresh.id}/execute", data={}, headers=h)
    assert r.status_code == 204 and "state=done" in r.headers["HX-Redirect"]
    r = client.get("/console/privacy-requests", params={"state": "done"}, headers=h)
    assert f'id="dsr-{fresh.id}"' in r.text and "回撥核對" in r.text
    # At 390 px each cell is a flex row beside its label: a cell's parts are one item (they were spread into columns
    # 系統管理員 · | 時間 | 備註), and a done request's actions cell is empty, so its card hides the label.
    row = r.text.split(f'id="dsr-{fresh.id}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'<td data-label="身分核對"><span>[^<]*· <time', row) and '<td data-label="原因"><span>' in row
    assert '<td data-label="操作"></td>' in row
    # An export carried out from the page answers with the file.
    client.post(f"/console/privacy-requests/{late.id}/verify", data={"note": "email 回信核對"}, headers=h)
    r = client.post(f"/console/privacy-requests/{late.id}/execute", data={"fmt": "pdf"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    # Logging a new request from the page.
    r = client.post(
        "/console/privacy-requests",
        data={"customer_id": f"#{world['ming'].id}", "kind": "correction", "reason": "改 email", "email": "m@x.tw"},
        headers=h,
    )
    assert r.status_code == 204
    r = client.get("/console/privacy-requests", params={"state": "pending", "kind": "correction"}, headers=h)
    assert "資料更正" in r.text and "m@x.tw" not in r.text
    # A number that is not one comes back with the form open and everything typed still in it (it collapsed, empty).
    typed = {"customer_id": "abc", "kind": "erase", "channel": "letter", "reason": "本人來信要求刪除", "phone": "0912"}
    r = client.post("/console/privacy-requests", data=typed, headers=h)
    assert r.status_code == 422 and "請填寫客戶編號與原因" in r.text
    assert '<details class="stack" open>' in r.text and 'value="abc"' in r.text and 'value="本人來信要求刪除"' in r.text
    assert '<option value="erase" selected>' in r.text and '<option value="letter" selected>' in r.text
    assert 'id="dsr-phone" name="phone" maxlength="64" value="0912"' in r.text
    counts = re.findall(r'<span class="badge[^"]*">(\d+)</span>', r.text)
    assert counts == ["1", "0", "2"]  # pending, overdue, done


def test_auditor_sees_the_queue_without_action_buttons(client: Any, db: Any, world: dict[str, Any]) -> None:
    from kefu.auth.service import principal_for
    from kefu.privacy import requests

    req = requests.open_request(
        db,
        principal_for(db, world["lead"], "session", 0, None),
        world["ming"].id,
        kind="export",
        reason="本人申請",
        channel="portal",
    )
    db.commit()
    h = _login(client, world["auditor"])
    r = client.get("/console/privacy-requests", headers=h)
    assert r.status_code == 200 and f'id="dsr-{req.id}"' in r.text
    assert "/verify" not in r.text and "/execute" not in r.text
    r = client.post(f"/console/privacy-requests/{req.id}/verify", data={"note": "核對"}, headers=h)
    assert r.status_code == 403


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_queue_page_renders_in_each_locale(client: Any, world: dict[str, Any], locale: str) -> None:
    h = _login(client, world["lead"])
    r = client.get("/console/privacy-requests", params={"lang": locale}, headers=h)
    assert r.status_code == 200
    assert {"zh-TW": "登記新請求", "zh-CN": "登记新请求", "en": "Log a new request"}[locale] in r.text


def test_a_correction_to_a_number_too_long_is_refused_when_recorded_not_when_executed(
    client: Any, make: Any, world: dict[str, Any]
) -> None:
    """The phone rule (kefu.customers.phones.check_phone) applies when the request is recorded, weeks before it runs."""
    body = {
        "customer_id": world["ming"].id,
        "kind": "correction",
        "reason": "電話換號",
        "channel": "phone",
        "changes": {"phone": "0912" + "3" * 36},
    }
    r = client.post(
        "/api/v1/privacy/requests", json=body, headers=make.token(world["lead"]) | {"Accept-Language": "zh-TW"}
    )
    assert r.status_code == 422, r.text
    assert "電話號碼太長" in r.json()["detail"]
