"""Team leads' shift pages (#17 排班) over HTTP: forms (no JSON) for shifts with breaks, leave and extra shifts; the
24-hour coverage grid with its gaps and the overtime per agent follow every edit; routing follows the roster."""

from __future__ import annotations

import re
from typing import Any

from tests.tickets.helpers import Clock, tw


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_lead_edits_shifts_breaks_and_leave_with_forms_and_sees_coverage_gaps_and_overtime(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.auth.service import create_team, set_team_members
    from kefu.routing.service import set_team_routing
    from kefu.shifts.service import team_on_shift
    from kefu.tickets.service import create_ticket
    from tests.tickets.helpers import admin_principal

    brand = make.brand(timezone="Asia/Taipei")
    lead = make.agent("supervisor", [brand])
    amy, ben = make.agent("agent", [brand]), make.agent("agent", [brand])
    p = admin_principal(make.agent("admin"))
    team = create_team(db, brand_id=brand.id, slug="care", name="客服一組", description="", actor=p)
    set_team_members(db, team, [(amy.id, False), (ben.id, False), (lead.id, True)], p)
    set_team_routing(db, team.id, p, strategy="least_loaded", auto_assign=True)
    for a in (amy, ben):
        a.availability, a.capacity = "online", 5
    db.commit()
    clock.set(tw(2026, 3, 2, 8, 0))  # Monday
    h = _login(client, lead)

    listing = client.get("/console/shifts?lang=zh-TW")
    assert listing.status_code == 200 and "客服一組" in listing.text
    page = client.get(f"/console/shifts/{team.id}?lang=zh-TW")
    assert page.status_code == 200 and "這個團隊還沒有班表" in page.text

    # Amy: weekdays 09:00–18:00 with lunch 12:00–13:00; Ben: Monday 13:00–22:00, no break (9 h: 1 h overtime).
    week = {"agent_id": str(amy.id), "weekday": ["0", "1", "2", "3", "4"], "start": "09:00", "end": "18:00",
            "break_start": "12:00", "break_end": "13:00", "view_start": "2026-03-02", "view_days": "1"}  # fmt: skip
    r = client.post(f"/console/shifts/{team.id}/shifts", data=week, headers=h)
    assert r.status_code == 200, r.text
    assert r.text.count('class="shift"') == 5 and "休息 12:00–13:00" in r.text
    ben_mon = {"agent_id": str(ben.id), "weekday": "0", "start": "13:00", "end": "22:00", "view_start": "2026-03-02",
               "view_days": "1"}  # fmt: skip
    r = client.post(f"/console/shifts/{team.id}/shifts", data=ben_mon, headers=h)
    assert r.status_code == 200
    # The 24-hour view: gaps before 09:00, at lunch only where Ben is not yet on, and after 22:00.
    gaps = [
        (a.replace("T", " "), b.replace("T", " "))  # the visible text is the localized time; the attribute is exact
        for a, b in re.findall(r'<li><time datetime="([^"]+)">[^<]+</time> – <time datetime="([^"]+)">', r.text)
    ]
    assert gaps == [
        ("2026-03-02 00:00", "2026-03-02 09:00"),
        ("2026-03-02 12:00", "2026-03-02 13:00"),
        ("2026-03-02 22:00", "2026-03-03 00:00"),
    ]
    assert 'class="cov cov-gap"' in r.text and 'class="cov cov-ok"' in r.text  # 13:00–18:00 both on
    # Hours on shift and overtime per agent: Amy 8 h, none; Ben 9 h, 1 h over the 8-hour day.
    assert re.search(rf'id="ot-{amy.id}"[^>]*><td>[^<]+</td><td>8.0 小時</td><td>0.0 小時</td>', r.text)
    assert re.search(rf'id="ot-{ben.id}" class="overdue"><td>[^<]+</td><td>9.0 小時</td><td>1.0 小時</td>', r.text)

    # Seed 003 keeps a 3-person duty group: with a minimum of 2 the lone-agent stretches are listed too.
    admin = make.token(make.agent("admin"))
    bad = {"settings": {"shifts": {"min_on_shift": 0}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=bad, headers=admin).status_code == 422
    good = {"settings": {"shifts": {"min_on_shift": 2}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=good, headers=admin).status_code == 200
    r = client.get(f"/console/shifts/{team.id}?start=2026-03-02&days=1&lang=zh-TW")
    short = r.text[r.text.index("值班少於 2 人的時段") :]
    assert [
        (a.replace("T", " "), b.replace("T", " "))
        for a, b in re.findall(r'<li><time datetime="([^"]+)">[^<]+</time> – <time datetime="([^"]+)">', short)
    ] == [
        ("2026-03-02 09:00", "2026-03-02 12:00"),
        ("2026-03-02 18:00", "2026-03-02 22:00"),
    ]
    cov = client.get(f"/api/v1/teams/{team.id}/coverage", params={"start": "2026-03-02", "days": 1}).json()
    assert cov["minimum_on_shift"] == 2 and len(cov["short"]) == 2
    assert client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"shifts": None}}, headers=admin).is_success

    # A break inside the shift is off the floor: at 12:30 nobody is on shift, so the case waits in the queue.
    clock.set(tw(2026, 3, 2, 12, 30))
    assert team_on_shift(db, team.id) == set()
    assert create_ticket(db, brand_id=brand.id, subject="午休", actor=p, team_id=team.id).assignee_id is None
    clock.set(tw(2026, 3, 2, 10, 0))
    assert create_ticket(db, brand_id=brand.id, subject="早上", actor=p, team_id=team.id).assignee_id == amy.id
    db.commit()

    # Leave for Amy on Tuesday, an extra evening shift for Ben (overtime), both by form.
    leave = {"agent_id": str(amy.id), "day": "2026-03-03", "kind": "leave", "note": "特休",
             "view_start": "2026-03-03", "view_days": "1"}  # fmt: skip
    r = client.post(f"/console/shifts/{team.id}/exceptions", data=leave, headers=h)
    assert r.status_code == 200 and "特休" in r.text and "整天" in r.text
    extra = {"agent_id": str(ben.id), "day": "2026-03-03", "kind": "extra", "start": "18:00", "end": "21:00",
             "view_start": "2026-03-03", "view_days": "1"}  # fmt: skip
    r = client.post(f"/console/shifts/{team.id}/exceptions", data=extra, headers=h)
    assert r.status_code == 200
    assert re.search(rf'id="ot-{ben.id}" class="overdue"><td>[^<]+</td><td>3.0 小時</td><td>3.0 小時</td>', r.text)
    gaps = [
        (a.replace("T", " "), b.replace("T", " "))  # the visible text is the localized time; the attribute is exact
        for a, b in re.findall(r'<li><time datetime="([^"]+)">[^<]+</time> – <time datetime="([^"]+)">', r.text)
    ]
    assert gaps == [("2026-03-03 00:00", "2026-03-03 18:00"), ("2026-03-03 21:00", "2026-03-04 00:00")]
    clock.set(tw(2026, 3, 3, 10, 0))
    assert team_on_shift(db, team.id) == set()  # Amy on leave

    # Bad input is refused with a message, nothing changes; agents may look but not edit.
    bad = {**week, "break_start": "19:00", "break_end": "20:00"}
    r = client.post(f"/console/shifts/{team.id}/shifts", data=bad, headers=h)
    assert r.status_code == 422 and "break" in r.text
    assert r.text.count('class="shift"') == 6
    removable = re.findall(rf'hx-post="/console/shifts/{team.id}/shifts/(\d+)/delete"', r.text)
    r = client.post(f"/console/shifts/{team.id}/shifts/{removable[0]}/delete", data={}, headers=h)
    assert r.status_code == 200 and r.text.count('class="shift"') == 5
    client.post("/api/v1/auth/logout", headers=h)
    ha = _login(client, amy)
    assert client.get(f"/console/shifts/{team.id}?lang=en").status_code == 200
    assert client.post(f"/console/shifts/{team.id}/shifts", data=week, headers=ha).status_code == 403
    # Another brand's lead cannot open this team.
    client.post("/api/v1/auth/logout", headers=ha)
    _login(client, make.agent("supervisor", [make.brand()]))
    assert client.get(f"/console/shifts/{team.id}").status_code == 404
