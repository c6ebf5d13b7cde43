"""Complaint SOP and regulator letters worked from the console (#14, #15, #17): forms on the complaints board and the
case page, not only API calls; the deadlines' ✓ and the on-time figures come from these clicks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tickets.helpers import Clock, tw


@pytest.fixture
def page_clock(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The case page and the complaints board see the services' clock too."""
    from kefu.tickets import listing
    from kefu.workspace import pages

    monkeypatch.setattr(listing, "utcnow", clock)
    monkeypatch.setattr(pages, "utcnow", clock)
    return clock


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_an_agent_registers_a_regulator_letter_on_the_board_and_answers_it_on_the_case_page(
    client: Any, db: Any, make: Any, page_clock: Clock
) -> None:
    from sqlalchemy import select

    from kefu.complaints.models import RegulatorCase
    from kefu.complaints.service import regulator_stats
    from kefu.tickets.models import Ticket

    brand = make.brand(timezone="Asia/Taipei")
    agent = make.agent("agent", [brand])
    make.agent("agent", [make.brand()])  # another brand: not offered
    page_clock.set(tw(2026, 3, 2, 9, 0))
    h = _login(client, agent)
    board = client.get("/console/complaints?lang=zh-TW")
    assert board.status_code == 200 and "登記主管機關／消保機構來函" in board.text and 'name="agency"' in board.text
    form = {"brand_id": str(brand.id), "agency": "", "subject": "消費爭議", "received_at": "2026-02-27T10:00"}
    bad = client.post("/console/complaints/regulator", data=form, headers=h)
    assert bad.status_code == 200 and 'id="rg-agency-e"' in bad.text and "aria-invalid" in bad.text
    future = {**form, "agency": "臺北市消保官", "received_at": "2026-03-05T10:00"}
    assert "收文時間不能晚於現在" in client.post("/console/complaints/regulator", data=future, headers=h).text
    ok = {**form, "agency": "臺北市消保官", "reference_no": "北市消字第7號"}
    r = client.post("/console/complaints/regulator", data=ok, headers=h)
    assert r.status_code == 204, r.text
    case = db.scalar(select(RegulatorCase).where(RegulatorCase.brand_id == brand.id))
    assert r.headers["HX-Redirect"] == f"/console/tickets/{case.ticket_id}"
    # Received 27 Feb 10:00 Taipei → due 14 March 10:00 (15 calendar days), shown with the time left.
    assert case.due_at == tw(2026, 3, 14, 10, 0)
    page = client.get(f"/console/tickets/{case.ticket_id}?lang=zh-TW").text
    card = page.split('id="reg-h"')[1].split("</section>")[0]
    assert "北市消字第7號" in card and "2026/3/14" in card and "sla-ok" in card and "記錄已回覆機關" in card
    number = db.get(Ticket, case.ticket_id).number
    assert f">{number}</a>" in client.get("/console/complaints").text  # on the deadline board

    page_clock.set(tw(2026, 3, 10, 15, 0))
    empty = client.post(f"/console/tickets/{case.ticket_id}/regulator/reply", data={"message": " "}, headers=h)
    assert "請填寫內容" in empty.text
    r = client.post(
        f"/console/tickets/{case.ticket_id}/regulator/reply", data={"message": "已函覆並附協調紀錄"}, headers=h
    )
    card = r.text.split('id="reg-h"')[1].split("</section>")[0]
    assert r.status_code == 200 and "✓" in card and 'data-step="close"' in card
    _, total = regulator_stats(db, brand.id, None, year=2026)
    assert (total.received, total.on_time, total.on_time_rate) == (1, 1, 1.0)
    r = client.post(f"/console/tickets/{case.ticket_id}/regulator/close", headers=h)
    db.expire_all()
    assert r.status_code == 200 and db.get(RegulatorCase, case.id).status == "closed"
    assert "regulator-step" not in r.text


def test_an_agent_registers_a_case_as_a_complaint_and_walks_acknowledge_reply_close(
    client: Any, db: Any, make: Any, page_clock: Clock
) -> None:
    from sqlalchemy import select

    from kefu.complaints.models import Complaint
    from kefu.tickets.models import Ticket

    brand = make.brand(timezone="Asia/Taipei")
    agent = make.agent("agent", [brand])
    api = make.token(agent)
    page_clock.set(tw(2026, 3, 2, 9, 0))  # Monday
    t = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "退款一直沒下來"}, headers=api).json()
    client.headers.pop("Authorization", None)
    h = _login(client, agent)
    page = client.get(f"/console/tickets/{t['id']}?lang=zh-TW").text
    assert "登記為客訴" in page and 'id="cmp-h"' not in page
    r = client.post(f"/console/tickets/{t['id']}/complaint/register", headers=h)
    card = r.text.split('id="cmp-h"')[1].split("</section>")[0]
    assert (
        r.status_code == 200 and 'data-step="acknowledge"' in card and "2026/3/2\u2009下午6:00" in card
    )  # one business day
    complaint = db.scalar(select(Complaint).where(Complaint.ticket_id == t["id"]))
    assert complaint is not None and complaint.acknowledged_at is None

    page_clock.advance(hours=2)
    r = client.post(
        f"/console/tickets/{t['id']}/complaint/acknowledge", data={"message": "已收到您的申訴，專人處理中"}, headers=h
    )
    assert 'data-step="reply"' in r.text.split('id="cmp-h"')[1]
    page_clock.advance(days=1)
    r = client.post(f"/console/tickets/{t['id']}/complaint/reply", data={"message": "已全額退款"}, headers=h)
    assert 'data-step="close"' in r.text.split('id="cmp-h"')[1]
    r = client.post(f"/console/tickets/{t['id']}/complaint/close", data={"message": "客戶接受"}, headers=h)
    db.expire_all()
    c = db.get(Complaint, complaint.id)
    assert (c.status, c.outcome) == ("closed", "客戶接受") and c.acknowledged_at and c.replied_at
    assert c.replied_at <= c.reply_due_at and db.get(Ticket, t["id"]).status == "closed"
    assert "complaint-step" not in r.text
    # A step on a case that is not a complaint is said on the page, and unknown steps are 404.
    other = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "發票"}, headers=make.token(agent))
    r = client.post(f"/console/tickets/{other.json()['id']}/complaint/reply", data={"message": "x"}, headers=h)
    assert "不是客訴" in r.text
    assert client.post(f"/console/tickets/{t['id']}/complaint/delete", headers=h).status_code == 404


def test_admin_sets_the_complaint_and_regulator_deadlines_within_the_promise_and_new_cases_follow(
    client: Any, db: Any, make: Any, page_clock: Clock
) -> None:
    from sqlalchemy import select

    from kefu.brands.models import Brand
    from kefu.complaints.models import RegulatorCase

    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin")
    api = make.token(admin)
    # Looser than the seed (reply in 3–5 business days, agencies within 15 calendar days) is refused.
    for bad in ({"complaint_reply_days": 7}, {"complaint_reply_days": 2}, {"regulator_deadline_days": 20}):
        r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": bad}, headers=api)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), bad
    client.headers.pop("Authorization", None)
    h = _login(client, admin)
    page = client.get("/admin?tab=brands&lang=zh-TW").text
    assert "機關來函回覆期限（日曆天，1–15，預設 15）" in page and 'name="complaint_reply_days"' in page
    form = {
        "name": brand.name,
        "default_locale": "zh-TW",
        "timezone": "Asia/Taipei",
        "tier_level_0": "1",
        "tier_name_0": "一般",
        "tier_min_0": "0",
        "complaint_reply_days": "6",
        "regulator_deadline_days": "16",
    }
    r = client.post(f"/admin/brands/{brand.id}", data=form, headers=h)
    assert r.status_code == 422 and "請填 3 到 5 之間的整數" in r.text and "請填 1 到 15 之間的整數" in r.text
    form.update(complaint_reply_days="3", regulator_deadline_days="10")
    assert client.post(f"/admin/brands/{brand.id}", data=form, headers=h).status_code == 200
    db.expire_all()
    settings = db.get(Brand, brand.id).settings
    assert (settings["complaint_reply_days"], settings["regulator_deadline_days"]) == (3, 10)

    page_clock.set(tw(2026, 3, 2, 9, 0))
    ok = {"brand_id": str(brand.id), "agency": "行政院消保處", "subject": "退費", "received_at": "2026-03-02T08:00"}
    assert client.post("/console/complaints/regulator", data=ok, headers=h).status_code == 204
    case = db.scalar(select(RegulatorCase).where(RegulatorCase.brand_id == brand.id))
    assert case.due_at == tw(2026, 3, 12, 8, 0)


def test_a_lead_forms_a_major_complaints_task_force_on_the_case_page_and_its_24h_target_is_met(
    client: Any, db: Any, make: Any, page_clock: Clock
) -> None:
    from kefu.complaints.models import Complaint
    from kefu.sla.service import ticket_sla

    brand = make.brand(timezone="Asia/Taipei")
    lead = make.agent("supervisor", [brand])
    amy = make.agent("agent", [brand])
    api = make.token(make.agent("admin"))
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=api).status_code == 200
    page_clock.set(tw(2026, 3, 2, 9, 0))
    body = {"brand_id": brand.id, "level": "major", "complainant_name": "林先生", "channel": "phone"}
    c = client.post("/api/v1/complaints", json={**body, "description": "多人帳號被盜"}, headers=api).json()
    client.headers.pop("Authorization", None)
    h = _login(client, lead)
    card = client.get(f"/console/tickets/{c['ticket_id']}?lang=zh-TW").text.split('id="cmp-h"')[1]
    assert "重大客訴須於 24 小時內成立" in card and 'data-step="task_force"' in card
    r = client.post(f"/console/tickets/{c['ticket_id']}/complaint/task_force", headers=h)
    assert "請選擇小組成員" in r.text
    page_clock.advance(hours=3)
    r = client.post(
        f"/console/tickets/{c['ticket_id']}/complaint/task_force", data={"members": [lead.id, amy.id]}, headers=h
    )
    card = r.text.split('id="cmp-h"')[1].split("</section>")[0]
    assert 'data-step="task_force"' not in card and "✓" in card
    db.expire_all()
    assert db.get(Complaint, c["id"]).task_force_formed_at == tw(2026, 3, 2, 12, 0)
    assert {t.key: t.status for t in ticket_sla(db, c["ticket_id"])[1]}["task_force"] == "met"
