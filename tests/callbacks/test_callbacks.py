"""Call-back appointments (#17, seed 003 「預約服務專線」「預約服務日曆」): booked, queued on time, missed flagged."""

from __future__ import annotations

from typing import Any

from tests.tickets.helpers import Clock, tw


def test_customer_books_a_slot_agent_gets_it_at_the_time_missed_ones_are_flagged_and_counted(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.callbacks import service
    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs

    load_jobs()
    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin")
    agent = make.agent("agent", [brand])
    lead = make.agent("supervisor", [brand])
    h = make.token(admin)
    ah = make.token(agent)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    contacts = {"brand_id": brand.id, "contacts": [{"level": "team_lead", "agent_id": lead.id}]}
    assert client.put("/api/v1/sla/escalation-contacts", json=contacts, headers=h).status_code == 200
    conf = {"settings": {"callbacks": {"capacity": 1, "days_ahead": 3}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=conf, headers=h).is_success
    bad = {"settings": {"callbacks": {"capacity": 0}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=h).status_code == 422
    clock.set(tw(2026, 3, 6, 16, 10))  # Friday afternoon in Taipei

    # Slots: business hours only, at least an hour ahead, three days, shown in the brand's timezone.
    r = client.get(f"/api/v1/public/brands/{brand.slug}/callback-slots")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timezone"] == "Asia/Taipei" and body["slot_minutes"] == 30
    local = [s["local"] for s in body["slots"]]
    assert local[0] == "2026-03-06 17:30" and "2026-03-07 10:00" not in local  # Saturday is closed
    assert "2026-03-09 09:00" in local and all(s["left"] == 1 for s in body["slots"])

    slot = next(s for s in body["slots"] if s["local"] == "2026-03-09 10:00")
    book = {"scheduled_at": slot["start"], "phone": "0912-345-678", "name": "林小姐", "topic": "退款進度"}
    r = client.post(f"/api/v1/public/brands/{brand.slug}/callbacks", json=book)
    assert r.status_code == 201, r.text
    assert r.json()["local"] == "2026-03-09 10:00" and r.json()["timezone"] == "Asia/Taipei"
    number = r.json()["ticket_number"]
    # The slot is full now (capacity 1); a time that was never offered is refused too.
    again = client.post(f"/api/v1/public/brands/{brand.slug}/callbacks", json={**book, "phone": "0922000111"})
    assert again.status_code == 409
    odd = client.post(
        f"/api/v1/public/brands/{brand.slug}/callbacks",
        json={**book, "phone": "0933000111", "scheduled_at": tw(2026, 3, 7, 3, 0).isoformat()},
    )
    assert odd.status_code == 409
    left = client.get(f"/api/v1/public/brands/{brand.slug}/callback-slots").json()["slots"]
    assert "2026-03-09 10:00" not in [s["local"] for s in left]

    # The case opened for it; the agent takes it.
    t = client.get("/api/v1/tickets", params={"brand_id": brand.id}, headers=h).json()["items"]
    case = next(x for x in t if x["number"] == number)
    assert case["channel"] == "phone"
    assert client.patch(f"/api/v1/tickets/{case['id']}", json={"assignee_id": agent.id}, headers=h).is_success
    # An agent books a second call-back on the phone, at a time agreed with the customer.
    agreed = tw(2026, 3, 9, 14, 5)
    r = client.post(
        "/api/v1/callbacks",
        json={"brand_id": brand.id, "scheduled_at": agreed.isoformat(), "phone": "0987654321", "source": "phone"},
        headers=ah,
    )
    assert r.status_code == 201, r.text
    assert r.json()["local"] == "2026-03-09 14:05" and r.json()["assignee_id"] in (None, agent.id)
    second = r.json()["id"]

    # Reminder 15 minutes before (to the case's assignee), in the queue at the time, missed after 30 minutes.
    clock.set(tw(2026, 3, 9, 9, 50))
    run_job("callbacks.sweep", {})
    run_job("callbacks.sweep", {})
    notes = client.get("/api/v1/notifications", headers=ah).json()["items"]
    assert [n["kind"] for n in notes if n["kind"].startswith("callback.")] == ["callback.reminder"]
    assert client.get("/api/v1/callbacks", params={"mine": True}, headers=ah).json()["items"] == []
    clock.set(tw(2026, 3, 9, 10, 0))
    assert service.sweep(db, clock()).queued == 1
    db.commit()
    q = client.get("/api/v1/callbacks", params={"mine": True}, headers=ah).json()["items"]
    assert [(i["status"], i["local"], i["timezone"]) for i in q] == [("due", "2026-03-09 10:00", "Asia/Taipei")]
    done = client.post(
        f"/api/v1/callbacks/{q[0]['id']}/done", json={"outcome": "reached", "note": "已說明"}, headers=ah
    )
    assert done.status_code == 200 and done.json()["status"] == "done", done.text
    assert (
        client.post(f"/api/v1/callbacks/{q[0]['id']}/done", json={"outcome": "reached"}, headers=ah).status_code == 409
    )

    clock.set(tw(2026, 3, 9, 14, 36))  # the agreed 14:05 call-back was never made
    res = service.sweep(db, clock())
    db.commit()
    assert (res.queued, res.missed) == (1, 1)
    lead_notes = client.get("/api/v1/notifications", headers=make.token(lead)).json()["items"]
    assert [n["data"]["callback_id"] for n in lead_notes if n["kind"] == "callback.missed"] == [second]
    missed = client.get("/api/v1/callbacks", params={"brand_id": brand.id}, headers=h).json()["items"]
    assert [(i["id"], i["status"]) for i in missed] == [(second, "missed")]

    start = tw(2026, 3, 1).isoformat()
    end = tw(2026, 4, 1).isoformat()
    s = client.get(
        "/api/v1/callbacks/stats", params={"brand_id": brand.id, "start": start, "end": end}, headers=h
    ).json()
    assert (s["booked"], s["on_time"], s["missed_open"], s["on_time_rate"]) == (2, 1, 1, 0.5)
    assert s["by_source"] == {"widget": 1, "phone": 1}
    other = make.token(make.agent("agent", [make.brand()]))
    assert client.get("/api/v1/callbacks", headers=other).json()["items"] == []
    assert client.post(f"/api/v1/callbacks/{second}/cancel", headers=other).status_code == 404


def test_portal_booking_page_and_console_queue_show_brand_local_times(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    import re

    from kefu.callbacks import service
    from tests.web.test_admin_pages import _login

    brand = make.brand(timezone="Asia/Taipei")
    agent = make.agent("agent", [brand])
    clock.set(tw(2026, 3, 9, 9, 0))  # Monday 09:00 Taipei
    home = client.get(f"/portal/{brand.slug}?lang=zh-TW")
    assert home.status_code == 200 and f"/portal/{brand.slug}/callback" in home.text
    page = client.get(f"/portal/{brand.slug}/callback?lang=zh-TW")
    assert page.status_code == 200 and "預約回電" in page.text and "台灣時間（UTC+8）" in page.text
    assert 'class="hc-top"' in page.text  # the help centre's own header, not the agent console's
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    first = re.search(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', page.text)
    local = "2026年3月9日 上午10:00"  # an hour's notice, local time, as CLDR writes it for zh-TW (kefu.core.l10n)
    assert first is not None and first.group(2) == local
    form = {"csrf_token": csrf.group(1), "slot": first.group(1), "phone": "0912345678", "name": "王先生"}
    booked = client.post(f"/portal/{brand.slug}/callback", data=form)
    assert booked.status_code == 200 and local in booked.text and "台灣時間（UTC+8）" in booked.text
    assert 'class="hc-top"' in booked.text
    twice = client.post(f"/portal/{brand.slug}/callback", data={**form, "phone": "0922333444"})
    assert twice.status_code in (200, 409)  # capacity 2 by default: the second fits, a third would not
    third = client.post(f"/portal/{brand.slug}/callback", data={**form, "phone": "0955666777"})
    assert third.status_code == 409 and "請改選其他時段" in third.text
    nocsrf = client.post(f"/portal/{brand.slug}/callback", data={**form, "csrf_token": "x"})
    assert nocsrf.status_code == 403

    clock.set(tw(2026, 3, 9, 10, 1))
    service.sweep(db, clock())
    db.commit()
    hdr = _login(client, agent)
    q = client.get("/console/callbacks")
    assert q.status_code == 200 and "上午10:00" in q.text and 'name="outcome"' in q.text
    cb_id = int(re.search(r'id="cb-(\d+)"', q.text).group(1))  # type: ignore[union-attr]
    row = client.post(f"/console/callbacks/{cb_id}/done", data={"outcome": "no_answer"}, headers=hdr)
    assert row.status_code == 200 and "無人接聽" in row.text
    bad = client.post(f"/console/callbacks/{cb_id}/done", data={"outcome": "no_answer"}, headers=hdr)
    assert bad.status_code == 422
    # The case page labels the call-back entries of its timeline.
    from kefu.callbacks.models import Callback

    cb = db.get(Callback, cb_id)
    case_page = client.get(f"/console/tickets/{cb.ticket_id}")
    assert case_page.status_code == 200 and "預約回電" in case_page.text and "已回電" in case_page.text
