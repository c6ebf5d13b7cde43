"""Account-security incident ladder (#17, seed 003 §3.2 「賬號安全事件處置」): 10/15/30/60-minute steps, freeze webhook,
7-day follow-up, on-time figures — through the HTTP API and the console."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.tickets.helpers import Clock, tw


def _world(client: Any, make: Any) -> dict[str, Any]:
    brand = make.brand()
    admin = make.agent("admin")
    agent = make.agent("agent", [brand])
    h, ah = make.token(admin), make.token(agent)
    assert client.post("/api/v1/sla/defaults", json={"brand_id": brand.id}, headers=h).status_code == 200
    return {"brand": brand, "admin": admin, "agent": agent, "h": h, "ah": ah}


def _case(client: Any, w: dict[str, Any], category: str = "account_anomaly") -> dict[str, Any]:
    body = {"brand_id": w["brand"].id, "subject": "帳號被盜，裝備被轉走", "category": category}
    r = client.post("/api/v1/tickets", json={**body, "assignee_id": w["agent"].id}, headers=w["h"])
    assert r.status_code == 201, r.text
    return dict(r.json())


def _step(client: Any, w: dict[str, Any], tid: int, step: str, **kw: Any) -> Any:
    return client.post(f"/api/v1/tickets/{tid}/security-steps", json={"step": step, **kw}, headers=w["ah"])


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()[:16]


def test_full_ladder_on_time_stops_each_clock_and_plans_three_follow_ups_within_7_days(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from tests.web.test_admin_pages import _login

    w = _world(client, make)
    start = clock.set(tw(2026, 3, 2, 23, 50))  # late on a Monday night: the ladder runs 24x7
    t = _case(client, w)
    ladder = client.get(f"/api/v1/tickets/{t['id']}/security-steps", headers=w["ah"])
    assert ladder.status_code == 200, ladder.text
    steps = ladder.json()["steps"]
    assert [s["step"] for s in steps] == ["intervene", "freeze", "identity_verified", "repaired"]
    assert [s["due_at"][:16] for s in steps] == [_utc(start + timedelta(minutes=m)) for m in (10, 15, 30, 60)]
    assert all(s["recorded"] is None for s in steps)

    clock.advance(minutes=6)
    reply = {"body": "安全中心已接手，正在處理您的帳號。", "public": True}  # the 15-minute first response
    assert client.post(f"/api/v1/tickets/{t['id']}/activities", json=reply, headers=w["ah"]).status_code == 201
    first = _step(client, w, t["id"], "intervene", note="安全中心已接手")
    assert first.status_code == 201, first.text
    clock.advance(minutes=2)
    again = _step(client, w, t["id"], "intervene", note="重複點擊")
    assert again.status_code == 200 and again.json() == first.json()  # idempotent: the first record answers
    for minutes, step in ((5, "freeze"), (12, "identity_verified"), (25, "repaired")):
        clock.advance(minutes=minutes)
        r = _step(client, w, t["id"], step, note=f"{step} ok")
        assert r.status_code == 201, r.text
        assert r.json()["agent_id"] == w["agent"].id and r.json()["source"] == "agent"
        update = {"body": f"進度更新：{step}", "public": True}  # the 30-minute status updates go on meanwhile
        assert client.post(f"/api/v1/tickets/{t['id']}/activities", json=update, headers=w["ah"]).status_code == 201

    sla = client.get(f"/api/v1/tickets/{t['id']}/sla", headers=w["ah"]).json()
    by_key = {x["key"]: x for x in sla["targets"]}
    assert {k: by_key[k]["status"] for k in ("intervene", "freeze", "identity_verified", "repaired")} == dict.fromkeys(
        ("intervene", "freeze", "identity_verified", "repaired"), "met"
    )
    assert sla["policy_name"] == "security.account_anomaly" and not sla["breached"]

    # 後續跟進: 3 proactive contacts within 7 days of the repair, assigned to the case's agent.
    repaired_at = start + timedelta(minutes=50)
    fus = client.get("/api/v1/follow-ups", params={"brand_id": w["brand"].id}, headers=w["ah"]).json()["items"]
    assert [(f["ticket_id"], f["attempt"], f["of_attempts"]) for f in fus] == [(t["id"], i, 3) for i in (1, 2, 3)]
    dues = [datetime.fromisoformat(f["due_at"]).replace(tzinfo=UTC) for f in fus]
    assert all(repaired_at < d <= repaired_at + timedelta(days=7) for d in dues)
    assert all(f["assignee_id"] == w["agent"].id for f in fus)
    _step(client, w, t["id"], "repaired")  # recording again plans nothing more
    assert (
        len(client.get("/api/v1/follow-ups", params={"brand_id": w["brand"].id}, headers=w["ah"]).json()["items"]) == 3
    )

    # On-time rate per step, by the brand's calendar day (23:50 Taipei on 2 March is 15:50 UTC).
    params = {"brand_id": w["brand"].id, "start": "2026-03-02", "end": "2026-03-02"}
    rep = client.get("/api/v1/security-incidents/punctuality", params=params, headers=w["h"])
    assert rep.status_code == 200, rep.text
    assert rep.json()["timezone"] == "Asia/Taipei"
    assert [(s["step"], s["total"], s["met"], s["breached"], s["on_time_rate"]) for s in rep.json()["steps"]] == [
        (s, 1, 1, 0, 1.0) for s in ("intervene", "freeze", "identity_verified", "repaired")
    ]
    nextday = client.get(
        "/api/v1/security-incidents/punctuality",
        params={**params, "start": "2026-03-03", "end": "2026-03-03"},
        headers=w["h"],
    )
    assert nextday.json()["steps"][0]["total"] == 0
    assert client.get("/api/v1/security-incidents/punctuality", params=params, headers=w["ah"]).status_code == 403

    # The console: the case page loads the ladder card, which shows each step done on time; the report page.
    client.headers.pop("Authorization", None)
    _login(client, w["admin"])
    page = client.get(f"/console/tickets/{t['id']}")
    assert page.status_code == 200 and f'hx-get="/console/tickets/{t["id"]}/security-steps"' in page.text
    card = client.get(f"/console/tickets/{t['id']}/security-steps")
    assert card.status_code == 200 and "帳號安全事件處置" in card.text and card.text.count("準時") == 4
    assert "安全中心已接手" in card.text and "重複點擊" not in card.text
    report = client.get("/console/security-incidents")
    assert report.status_code == 200 and "100.0%" in report.text and "臨時凍結" in report.text
    # The period is written for the reader in the brand's calendar (no ISO dates), the rate through |percent.
    import re

    assert not re.search(r"\d{4}-\d{2}-\d{2} –", report.text) and re.search(r"\d{4}/\d{1,2}/\d{1,2} –", report.text)


def test_a_late_freeze_breaches_alerts_and_counts_as_late(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from tests.web.test_admin_pages import _login

    w = _world(client, make)
    start = clock.set(tw(2026, 3, 2, 9, 0))
    t = _case(client, w)
    assert _step(client, w, t["id"], "intervene").status_code == 201
    clock.advance(minutes=16)
    sweep = client.post("/api/v1/sla/sweep", headers=w["h"])
    assert sweep.status_code == 200 and sweep.json()["breached"] >= 1, sweep.text
    # The breach is where other SLA breaches are: the at-risk list, the ticket's SLA state and a notification.
    risky = client.get("/api/v1/sla/at-risk", params={"brand_id": w["brand"].id}, headers=w["ah"]).json()["items"]
    assert "freeze" in {x["key"] for x in risky if x["ticket_id"] == t["id"] and x["breached_at"]}
    notes = client.get("/api/v1/notifications", headers=w["ah"]).json()["items"]
    assert any(n["kind"] == "sla.breach" and n["data"].get("target") == "freeze" for n in notes)

    late = _step(client, w, t["id"], "freeze", note="遊戲方延遲回覆")
    assert late.status_code == 201
    sla = client.get(f"/api/v1/tickets/{t['id']}/sla", headers=w["ah"]).json()
    by_key = {x["key"]: x for x in sla["targets"]}
    assert by_key["freeze"]["status"] == "missed" and by_key["intervene"]["status"] == "met" and sla["breached"]
    rep = client.get(
        "/api/v1/security-incidents/punctuality",
        params={"brand_id": w["brand"].id, "start": "2026-03-02", "end": "2026-03-02"},
        headers=w["h"],
    ).json()
    got = {s["step"]: (s["met"], s["breached"], s["open"], s["on_time_rate"]) for s in rep["steps"]}
    assert got["intervene"] == (1, 0, 0, 1.0) and got["freeze"] == (0, 1, 0, 0.0)
    assert got["identity_verified"] == (0, 0, 1, None)  # due 09:30, it is 09:16
    assert start
    client.headers.pop("Authorization", None)
    _login(client, w["agent"])
    card = client.get(f"/console/tickets/{t['id']}/security-steps")
    assert "逾時" in card.text and "遊戲方延遲回覆" in card.text


def test_steps_are_refused_on_other_categories_out_of_order_and_across_brands(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from tests.web.test_admin_pages import _login

    w = _world(client, make)
    pay = _case(client, w, category="payment_failure")
    r = _step(client, w, pay["id"], "intervene")
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert "not an account-security incident" in r.json()["detail"]
    t = _case(client, w)
    out_of_order = _step(client, w, t["id"], "freeze")
    assert out_of_order.status_code == 409 and "intervene" in out_of_order.json()["detail"]
    assert _step(client, w, t["id"], "unfreeze").status_code == 422
    future = (clock() + timedelta(hours=1)).isoformat()
    assert _step(client, w, t["id"], "intervene", at=future).status_code == 422
    # Another brand's agent sees neither the ladder nor can record on it.
    other = make.token(make.agent("agent", [make.brand()]))
    assert client.get(f"/api/v1/tickets/{t['id']}/security-steps", headers=other).status_code in (403, 404)
    cross = client.post(f"/api/v1/tickets/{t['id']}/security-steps", json={"step": "intervene"}, headers=other)
    assert cross.status_code in (403, 404)
    assert (
        client.get(f"/api/v1/tickets/{t['id']}/security-steps", headers=w["ah"]).json()["steps"][0]["recorded"] is None
    )
    # A freeze request without a webhook is refused with the reason.
    assert _step(client, w, t["id"], "intervene").status_code == 201
    nohook = client.post(f"/api/v1/tickets/{t['id']}/security-freeze-requests", json={}, headers=w["ah"])
    assert nohook.status_code == 409 and "webhook" in nohook.json()["detail"]
    # The console form answers the inline error fragment for a step on a non-security case.
    client.headers.pop("Authorization", None)
    hdr = _login(client, w["agent"])
    bad = client.post(f"/console/tickets/{pay['id']}/security-steps", data={"step": "intervene"}, headers=hdr)
    assert bad.status_code == 409 and bad.headers.get("X-Kefu-Form-Error") == "1"
    ok = client.post(
        f"/console/tickets/{t['id']}/security-steps", data={"step": "freeze", "note": "已凍結"}, headers=hdr
    )
    assert ok.status_code == 200 and "已記錄" in ok.text and "已凍結" in ok.text


def test_freeze_webhook_is_called_once_after_commit_signed_and_records_the_freeze(
    client: Any, make: Any, db: Any, clock: Clock, jobs: Any
) -> None:
    from kefu.account_security.models import FreezeRequest
    from tests.channels.stub_http import StubServer

    w = _world(client, make)
    stub = StubServer()
    try:
        secret = "s3cret-freeze-hook-key"
        url = f"{stub.base_url}/freeze"
        hook = {"url": url, "secret": secret}
        bid = w["brand"].id
        assert (
            client.put(f"/api/v1/brands/{bid}/security-freeze-webhook", json=hook, headers=w["ah"]).status_code == 403
        )
        saved = client.put(f"/api/v1/brands/{bid}/security-freeze-webhook", json=hook, headers=w["h"])
        assert saved.status_code == 200 and "secret" not in saved.json(), saved.text
        bad = client.put(
            f"/api/v1/brands/{bid}/security-freeze-webhook", json={**hook, "url": "ftp://x/y"}, headers=w["h"]
        )
        assert bad.status_code == 422
        t = _case(client, w)
        assert _step(client, w, t["id"], "intervene").status_code == 201
        stub.add("POST", "/freeze", status=503)  # the first call fails: the job retries
        stub.add("POST", "/freeze", status=202, json_body={"frozen": True})
        clock.advance(minutes=4)
        r = client.post(f"/api/v1/tickets/{t['id']}/security-freeze-requests", json={"note": "請凍結"}, headers=w["ah"])
        assert r.status_code == 202, r.text
        calls = [c for c in stub.requests if c.path == "/freeze"]
        assert len(calls) == 2  # one failure, one success: the webhook accepted the freeze once
        call = calls[-1]
        payload = call.json()
        assert payload["event"] == "account.freeze_requested" and payload["ticket_id"] == t["id"]
        # Sent after commit: the request the webhook names was already stored when it was called.
        req = db.get(FreezeRequest, payload["request_id"])
        assert req is not None and req.ticket_id == t["id"]
        stamp = call.headers["x-kefu-timestamp"]
        expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + call.body, hashlib.sha256).hexdigest()
        assert call.headers["x-kefu-signature"] == expected
        ladder = client.get(f"/api/v1/tickets/{t['id']}/security-steps", headers=w["ah"]).json()
        freeze = ladder["steps"][1]
        assert freeze["recorded"]["source"] == "webhook" and freeze["status"] == "met"
        assert [(x["status"], x["attempts"], x["response_status"]) for x in ladder["freeze_requests"]] == [
            ("delivered", 2, 202)
        ]
        # Once frozen, asking again is refused and the webhook is not called again.
        again = client.post(f"/api/v1/tickets/{t['id']}/security-freeze-requests", json={}, headers=w["ah"])
        assert again.status_code == 409
        assert len([c for c in stub.requests if c.path == "/freeze"]) == 2
    finally:
        stub.close()


def test_seed_security_ladder_is_10_15_30_60_wall_clock_minutes_overnight() -> None:
    from kefu.sla.calendar import default_calendars
    from kefu.sla.policy import DEFAULT_POLICIES, compute_deadlines

    policy = next(p for p in DEFAULT_POLICIES if p.name == "security.account_anomaly")
    calendars = default_calendars()
    opened = tw(2026, 2, 15, 23, 50)  # Sunday night in the Lunar New Year holidays: the ladder does not wait
    got = compute_deadlines(policy, calendars, opened)
    assert policy.calendar == "24x7" and policy.team == "security_center"
    assert {k: got[k].due_at for k in ("intervene", "freeze", "identity_verified", "repaired")} == {
        "intervene": tw(2026, 2, 16, 0, 0),
        "freeze": tw(2026, 2, 16, 0, 5),
        "identity_verified": tw(2026, 2, 16, 0, 20),
        "repaired": tw(2026, 2, 16, 0, 50),
    }
    assert got["first_response"].due_at == tw(2026, 2, 16, 0, 5)


def test_migration_adds_the_ladder_to_policies_installed_before_it(tmp_path: Any) -> None:
    import json

    from sqlalchemy import create_engine, text

    from kefu.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "2270")
    engine = create_engine(url)  # foreign keys off: the policy rows need no brand for this check
    old = {"targets": [{"kind": "first_response", "amount": 15, "unit": "minutes"}], "calendar": "24x7"}
    own = {"targets": [{"kind": "milestone", "amount": 5, "unit": "minutes", "label": "callback"}]}
    with engine.begin() as conn:
        for i, (name, definition) in enumerate((("security.account_anomaly", old), ("security.account_anomaly", own))):
            conn.execute(
                text(
                    "INSERT INTO sla_policies (brand_id, name, position, is_active, definition, created_at, updated_at)"
                    " VALUES (:b, :n, 10, 1, :d, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"b": i + 1, "n": name, "d": json.dumps(definition)},
            )
    upgrade(url, "2300")
    with engine.connect() as conn:
        rows = [json.loads(d) for (d,) in conn.execute(text("SELECT definition FROM sla_policies ORDER BY brand_id"))]
    engine.dispose()
    assert [t.get("label") or t["kind"] for t in rows[0]["targets"]] == [
        "first_response",
        "intervene",
        "freeze",
        "identity_verified",
        "repaired",
    ]
    assert rows[0]["calendar"] == "24x7" and rows[1] == own  # a policy with milestones of its own is left alone


def test_a_refused_freeze_request_fails_without_retry_and_the_agent_confirms_by_hand(
    client: Any, make: Any, db: Any, clock: Clock, jobs: Any
) -> None:
    from tests.channels.stub_http import StubServer

    w = _world(client, make)
    stub = StubServer()
    try:
        hook = {"url": f"{stub.base_url}/freeze", "secret": "another-freeze-secret"}
        assert client.put(
            f"/api/v1/brands/{w['brand'].id}/security-freeze-webhook", json=hook, headers=w["h"]
        ).is_success
        t = _case(client, w)
        assert _step(client, w, t["id"], "intervene").status_code == 201
        stub.add("POST", "/freeze", status=404, json_body={"error": "unknown account"})
        assert client.post(f"/api/v1/tickets/{t['id']}/security-freeze-requests", json={}, headers=w["ah"]).is_success
        assert len([c for c in stub.requests if c.path == "/freeze"]) == 1  # a 4xx answer is not retried
        ladder = client.get(f"/api/v1/tickets/{t['id']}/security-steps", headers=w["ah"]).json()
        assert ladder["steps"][1]["recorded"] is None
        assert [(x["status"], x["response_status"]) for x in ladder["freeze_requests"]] == [("failed", 404)]
        manual = _step(client, w, t["id"], "freeze", note="已於遊戲後台手動凍結")
        assert manual.status_code == 201 and manual.json()["source"] == "agent"
        gone = client.delete(f"/api/v1/brands/{w['brand'].id}/security-freeze-webhook", headers=w["h"])
        assert gone.status_code == 204
        assert client.get(f"/api/v1/brands/{w['brand'].id}/security-freeze-webhook", headers=w["h"]).status_code == 404
    finally:
        stub.close()


def test_admin_sets_the_freeze_webhook_on_the_console_page(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from tests.web.test_admin_pages import _login

    w = _world(client, make)
    bid = w["brand"].id
    client.headers.pop("Authorization", None)
    hdr = _login(client, w["admin"])
    form = {"url": "https://game.example/freeze", "secret": "a-long-enough-secret", "is_active": "on"}
    bad = client.post(f"/console/security-incidents/{bid}/webhook", data={**form, "url": "ftp://x"}, headers=hdr)
    assert bad.status_code == 422 and bad.headers.get("X-Kefu-Form-Error") == "1"
    ok = client.post(f"/console/security-incidents/{bid}/webhook", data=form, headers=hdr)
    assert ok.status_code == 204 and ok.headers["HX-Redirect"] == "/console/security-incidents?saved=true"
    page = client.get("/console/security-incidents?saved=true")
    assert page.status_code == 200 and "https://game.example/freeze" in page.text
    assert "a-long-enough-secret" not in page.text and "帳號凍結 Webhook" in page.text
    assert client.post(f"/console/security-incidents/{bid}/webhook/delete", headers=hdr).status_code == 204
    assert "https://game.example/freeze" not in client.get("/console/security-incidents").text
    client.headers.pop("Authorization", None)
    hdr2 = _login(client, w["agent"])
    assert client.post(f"/console/security-incidents/{bid}/webhook", data=form, headers=hdr2).status_code == 403


def test_a_case_resolved_without_the_repair_step_still_gets_the_7_day_follow_ups_once(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.core.jobs import run_job
    from kefu.registry import load_jobs

    load_jobs()
    w = _world(client, make)  # the brand has no follow-up rule: the security default applies
    clock.set(tw(2026, 3, 2, 9, 0))
    t = _case(client, w)
    other = _case(client, w, category="payment_failure")
    for step in ("intervene", "freeze", "identity_verified"):
        assert _step(client, w, t["id"], step).status_code == 201
    clock.advance(minutes=40)
    for case in (t, other):
        r = client.patch(f"/api/v1/tickets/{case['id']}", json={"status": "resolved"}, headers=w["ah"])
        assert r.is_success, r.text
    resolved_at = clock()

    def planned() -> list[dict[str, Any]]:
        r = client.get("/api/v1/follow-ups", params={"brand_id": w["brand"].id}, headers=w["ah"])
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    run_job("followups.plan", {})
    fus = planned()
    assert [(f["ticket_id"], f["attempt"], f["of_attempts"]) for f in fus] == [(t["id"], i, 3) for i in (1, 2, 3)]
    dues = [datetime.fromisoformat(f["due_at"]).replace(tzinfo=UTC) for f in fus]
    assert all(resolved_at < d <= resolved_at + timedelta(days=7) for d in dues)
    assert all(f["assignee_id"] == w["agent"].id for f in fus)
    # Recording the repair afterwards, or the planner's next pass, plans nothing more.
    clock.advance(minutes=5)
    assert _step(client, w, t["id"], "repaired").status_code == 201
    run_job("followups.plan", {})
    assert [f["id"] for f in planned()] == [f["id"] for f in fus]


def test_a_failed_freeze_request_notifies_the_assignee_once_and_shows_on_the_card(
    client: Any, make: Any, db: Any, clock: Clock, jobs: Any
) -> None:
    from tests.channels.stub_http import StubServer
    from tests.web.test_admin_pages import _login

    w = _world(client, make)
    stub = StubServer()
    try:
        hook = {"url": f"{stub.base_url}/freeze", "secret": "yet-another-freeze-secret"}
        assert client.put(
            f"/api/v1/brands/{w['brand'].id}/security-freeze-webhook", json=hook, headers=w["h"]
        ).is_success
        t = _case(client, w)
        unassigned = client.post(
            "/api/v1/tickets",
            json={"brand_id": w["brand"].id, "subject": "帳號異常登入", "category": "account_anomaly"},
            headers=w["h"],
        ).json()
        for case in (t, unassigned):
            assert _step(client, w, case["id"], "intervene").status_code == 201
        stub.add("POST", "/freeze", status=403, json_body={"error": "forbidden"})
        stub.add("POST", "/freeze", status=400, json_body={"error": "bad request"})
        for case in (t, unassigned):
            r = client.post(f"/api/v1/tickets/{case['id']}/security-freeze-requests", json={}, headers=w["ah"])
            assert r.is_success, r.text

        def failures(headers: dict[str, str]) -> list[dict[str, Any]]:
            notes = client.get("/api/v1/notifications", headers=headers).json()["items"]
            return [n for n in notes if n["kind"] == "security.freeze_failed"]

        mine = failures(w["ah"])
        # The assignee of one case, and (as an agent of the brand) for the unassigned one.
        assert sorted(n["ticket_id"] for n in mine) == sorted([t["id"], unassigned["id"]])
        assert all(n["title"].startswith("帳號凍結失敗：") and "freeze" not in n["title"] for n in mine)
        # The unassigned case reaches the brand's agents who may work cases, admins included; other brands not.
        assert [n["ticket_id"] for n in failures(w["h"])] == [unassigned["id"]]
        outsider = make.token(make.agent("agent", [make.brand()]))
        assert failures(outsider) == []
        # A later pass over the failed request changes nothing and notifies no one again.
        from kefu.account_security.models import FreezeRequest
        from kefu.account_security.service import deliver_freeze

        req = db.query(FreezeRequest).filter_by(ticket_id=t["id"]).one()
        assert deliver_freeze(db, req.id) == "failed"
        db.commit()
        assert len(failures(w["ah"])) == 2
        client.headers.pop("Authorization", None)
        _login(client, w["agent"])
        card = client.get(f"/console/tickets/{t['id']}/security-steps")
        assert card.status_code == 200 and "失敗，請手動凍結" in card.text
    finally:
        stub.close()
