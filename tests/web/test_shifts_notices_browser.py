"""Team leads' shift pages and the outage notice screen in Chromium (#17), at 1280 and 390 px in zh-TW, zh-CN, en.

The journey works on a team it creates itself (demo teams keep routing as other journeys expect) and sends no
notice to demo customers (it previews an audience only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_console import _login
from tests.web.test_ticket_list_browser import _unlabeled


def _csrf(page: Any) -> str:
    return str(page.locator('meta[name="csrf-token"]').get_attribute("content"))


def _overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def test_lead_schedules_a_team_by_form_and_sees_coverage_gaps_and_overtime(
    browser: Any, live_server: str, shots: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    h = {"X-CSRF-Token": _csrf(page)}
    agents = page.request.get(f"{live_server}/api/v1/agents?limit=100").json()["items"]
    ids = {a["email"]: a["id"] for a in agents}
    team = page.request.post(
        f"{live_server}/api/v1/teams", data={"brand_id": 1, "slug": "night-desk", "name": "夜間值班組"}, headers=h
    ).json()
    members = [{"agent_id": ids["lead@kefu.local"], "is_lead": True}, {"agent_id": ids["wei@kefu.local"]},
               {"agent_id": ids["mei@kefu.local"]}]  # fmt: skip
    assert page.request.put(f"{live_server}/api/v1/teams/{team['id']}/members", data={"members": members}, headers=h).ok

    page.goto(f"{live_server}/console/deadlines")
    page.get_by_role("button", name="更多").click()  # shifts sit under the nav's More disclosure
    page.get_by_role("link", name="排班").first.click()
    page.wait_for_url("**/console/shifts")
    page.get_by_role("link", name="夜間值班組").click()
    page.wait_for_selector("#sched")
    assert "這個團隊還沒有班表" in page.inner_text("#sched")
    # Wei: weekdays 09:00–18:00 with the default lunch break; Mei: every day 14:00–23:00 without a break.
    form = page.locator("form.shift-form")
    form.get_by_label("客服人員").select_option(str(ids["wei@kefu.local"]))
    form.get_by_role("button", name="新增班別").click()
    page.wait_for_selector(".weekly .shift")
    form = page.locator("form.shift-form")
    form.get_by_label("客服人員").select_option(str(ids["mei@kefu.local"]))
    for day in ("週六", "週日"):
        form.get_by_label(day).check()
    form.get_by_label("開始", exact=True).fill("14:00")
    form.get_by_label("結束", exact=True).fill("23:00")
    form.get_by_label("休息開始（可留空）").fill("")
    form.get_by_label("休息結束").fill("")
    form.get_by_role("button", name="新增班別").click()
    page.locator(".weekly tbody tr").nth(1).wait_for()  # a second agent's row
    assert page.locator(".weekly .shift").count() == 12
    # Leave for Wei on the first day shown, by form.
    ex = page.locator("form.exception-form")
    ex.get_by_label("客服人員").select_option(str(ids["wei@kefu.local"]))
    ex.get_by_label("備註").fill("特休")
    ex.get_by_role("button", name="新增請假或加班").click()
    page.wait_for_selector("table.exceptions >> text=特休")
    gaps = page.locator("ul.gaps li")
    assert gaps.count() >= 2  # before the day shift and after the evening shift, every day
    assert page.locator("td.cov-gap").count() > 0 and page.locator("td.cov-ok").count() > 0
    assert "9.0" in page.inner_text("table.overtime") or "小時" in page.inner_text("table.overtime")
    assert _unlabeled(page) == []
    for locale in ("zh-TW", "zh-CN", "en"):
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server}/console/shifts/{team['id']}?lang={locale}")
            page.wait_for_selector("table.coverage")
            assert _overflow(page) <= 1, (locale, width)
            page.screenshot(path=str(shots / f"shifts-{locale}-{width}.png"), full_page=True)
    assert "24-hour coverage" in page.inner_text("main") and "Overtime" in page.inner_text("main")
    # Keyboard only: the remove buttons are reachable and labelled.
    page.set_viewport_size({"width": 1280, "height": 900})
    first = page.locator(".weekly .shift button").first
    assert (first.get_attribute("aria-label") or "").startswith("Remove")
    # Clean up: the team keeps no schedule after the journey.
    assert page.request.put(f"{live_server}/api/v1/teams/{team['id']}/shifts", data={"shifts": []}, headers=h).ok
    ctx.close()


def test_outage_notice_screen_previews_the_affected_customers(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    page.goto(f"{live_server}/console/notices?lang=zh-TW")
    form = page.locator("form.outage-form")
    form.get_by_label("標籤").fill("no-such-tag-anywhere")
    form.get_by_role("button", name="預覽人數").click()
    page.wait_for_selector("#nt-result .preview-count")
    assert "將通知 0 位客戶" in page.inner_text("#nt-result")
    # Sending to nobody is refused with the reason (a 422 the page shows).
    form.get_by_label("標題").fill("測試")
    form.get_by_label("通知內容").fill("測試")
    form.get_by_role("button", name="送出通知").click()
    page.wait_for_selector("#nt-result .error")
    assert "沒有符合這個對象條件的客戶" in page.inner_text("#nt-result")
    form.get_by_label("標籤").fill("")
    form.get_by_label("建立時間起").fill("2020-01-01T00:00")
    form.get_by_label("標題").fill("")
    form.get_by_role("button", name="預覽人數").click()
    page.wait_for_selector("#nt-result .preview-count")
    assert "將通知" in page.inner_text("#nt-result")
    assert _unlabeled(page) == []
    for locale in ("zh-TW", "zh-CN", "en"):
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server}/console/notices?lang={locale}")
            page.wait_for_selector("form.outage-form")
            assert _overflow(page) <= 1, (locale, width)
            page.screenshot(path=str(shots / f"notices-{locale}-{width}.png"), full_page=True)
    ctx.close()
