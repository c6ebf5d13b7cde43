"""The workspace's second round in Chromium: multi-action macros (manage, apply on a conversation and a case, bulk),
the call-logging screen, the call pop-up driven by signed PBX events over the WebSocket, opt-in desktop/sound
alerts with the live unread badge, and the email composer. Screenshots at 1280 and 390 px in zh-TW, zh-CN and en.

Each test works on customers, conversations and inboxes it creates, so the demo data other journeys read stays put.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.test_console import _login
from tests.web.test_ticket_list_browser import _unlabeled
from tests.web.test_workspace_browser import _csrf, _overflow

SECRET = "desk3-pbx-secret"


def _api(page: Any, method: str, url: str, data: dict[str, Any]) -> Any:
    r = page.request.fetch(url, method=method, data=data, headers={"X-CSRF-Token": _csrf(page)})
    assert r.ok, r.text()
    return r.json()


def _case(page: Any, base: str, name: str, subject: str, channel: str = "api") -> tuple[int, int, int]:
    """A customer, a conversation and its ticket of the demo brand, made through the API as the signed-in agent."""
    phone = "09" + str(uuid.uuid4().int)[:8]
    cust = _api(page, "POST", f"{base}/api/v1/customers", {"brand_id": 1, "name": name, "phone": phone})
    conv = _api(
        page,
        "POST",
        f"{base}/api/v1/conversations",
        {"brand_id": 1, "customer_id": cust["id"], "channel": channel, "subject": subject},
    )
    ticket = _api(
        page,
        "POST",
        f"{base}/api/v1/tickets",
        {
            "brand_id": 1,
            "subject": subject,
            "customer_id": cust["id"],
            "conversation_id": conv["id"],
        },
    )
    return cust["id"], conv["id"], ticket["id"]


def test_macros_apply_several_actions_from_conversation_case_and_bulk(
    browser: Any, live_server: str, shots: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # wait_for_function evals
    page = ctx.new_page()
    _login(page, live_server, "mei@kefu.local")
    _, conv_id, ticket_id = _case(page, live_server, "巨集測試客戶", "重複扣款請退款")
    page.goto(f"{live_server}/console/macros")
    name = f"轉帳務-{uuid.uuid4().hex[:4]}"
    page.locator("#m-name").fill(name)
    page.locator("#m-status").select_option("pending")
    page.locator("#m-priority").select_option("high")
    page.locator("#m-tags").fill("重複扣款, 退款")
    page.locator("#m-team").select_option(index=1)
    page.locator("#m-reply").fill("{customer_name} 您好，案件 {ticket_number} 已轉帳務組。")
    with page.expect_navigation():
        page.get_by_role("button", name="儲存巨集").click()
    assert "done=saved" in page.url, page.locator("main").inner_text()[:600]
    row = page.locator("tr", has_text=name)
    assert "狀態 → 處理中" in row.inner_text() or "狀態 →" in row.inner_text()
    assert _unlabeled(page) == []
    page.screenshot(path=str(shots / "macros-1280.png"), full_page=True)

    # From the conversation: one click changes the case and fills the composer.
    page.goto(f"{live_server}/console/conversations/{conv_id}")
    page.wait_for_selector("#macro-pick")
    page.locator("#macro-pick").select_option(label=page.locator("#macro-pick option", has_text=name).inner_text())
    page.get_by_role("button", name="套用巨集").click()
    page.wait_for_selector("text=已套用巨集")
    page.wait_for_function("document.getElementById('body').value.indexOf('已轉帳務組') >= 0")
    composer = page.locator("#body").input_value()
    assert "{customer_name}" in composer and "KF-" in composer
    assert page.locator("#tprio").input_value() == "high" and page.locator("#tstatus").input_value() == "pending"
    page.screenshot(path=str(shots / "conversation-macro-1280.png"), full_page=True)

    # From the case page (fields only here; a macro with text continues in the conversation with the draft).
    page.goto(f"{live_server}/console/tickets/{ticket_id}")
    page.wait_for_selector("#macro-pick")
    assert "重複扣款" in page.locator("#c-tags").input_value()
    # In bulk from the ticket list.
    _, _, second = _case(page, live_server, "巨集測試客戶二", "第二筆重複扣款")
    page.goto(f"{live_server}/console/tickets?q=重複扣款")
    page.locator(f'input[name="ticket_ids"][value="{second}"]').check()
    page.locator("#bulk-action").select_option("macro")
    page.locator('select[data-for="macro"]').select_option(label=name)
    page.locator("#bulk button[type=submit]").click()
    page.wait_for_selector("#bulk-result:has-text('1')")
    t2 = page.request.get(f"{live_server}/api/v1/tickets/{second}").json()
    assert t2["priority"] == "high" and "退款" in t2["tags"]

    for locale in ("zh-CN", "en"):
        page.goto(f"{live_server}/console/macros?lang={locale}")
        page.screenshot(path=str(shots / f"macros-{locale}-1280.png"), full_page=True)
    assert "Macros" in page.inner_text("h1")
    ctx.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    p = phone.new_page()
    _login(p, live_server, "mei@kefu.local")
    p.goto(f"{live_server}/console/macros")
    assert _overflow(p) <= 1
    p.screenshot(path=str(shots / "macros-390.png"), full_page=True)
    p.goto(f"{live_server}/console/conversations/{conv_id}")
    p.wait_for_selector("#macro-pick")
    assert _overflow(p) <= 1
    p.screenshot(path=str(shots / "conversation-macro-390.png"), full_page=True)
    phone.close()


def _event(call: str, kind: str, number: str) -> dict[str, Any]:
    return {"call_id": call, "event": kind, "caller": number, "extension": "201"}


def _signed(page: Any, base: str, inbox_id: int, event: dict[str, Any]) -> None:
    from kefu.channels.phone.telephony import sign

    body = json.dumps(event, ensure_ascii=False)
    stamp = str(int(time.time()))
    r = page.request.post(
        f"{base}/api/v1/channels/phone/{inbox_id}/events",
        data=body.encode(),
        headers={
            "Content-Type": "application/json",
            "X-Kefu-Timestamp": stamp,
            "X-Kefu-Signature": sign(SECRET, stamp, body.encode()),
        },
    )
    assert r.ok, r.text()


# Every desktop notification's title, in order (body.dataset.lastNotification keeps only the newest, and the live
# server's own jobs may notify the agent right after the one a step waits for).
_RECORD_NOTIFICATIONS = """(() => {
  if (!("Notification" in window)) return;
  const Real = window.Notification;
  window.__notified = [];
  function Recorded(title, options) { window.__notified.push(title); return new Real(title, options); }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();"""


def _notified(page: Any, title: str) -> None:
    page.wait_for_function("t => (window.__notified || []).includes(t)", arg=title)


def test_call_logging_popup_and_opt_in_alerts(browser: Any, live_server: str, shots: Path) -> None:
    # The agent's browser has granted notifications; the page still asks nothing until the agent opts in.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # wait_for_function evals
    ctx.grant_permissions(["notifications"], origin=live_server)
    ctx.add_init_script(_RECORD_NOTIFICATIONS)
    page = ctx.new_page()
    _login(page, live_server, "mei@kefu.local")
    me = page.request.get(f"{live_server}/api/v1/auth/me").json()
    mei_id = me.get("id") or me.get("agent", {}).get("id")
    # The admin sets up a hotline with mei at extension 201.
    admin_ctx = browser.new_context()
    admin = admin_ctx.new_page()
    _login(admin, live_server, "admin@kefu.local")
    hotline = _api(
        admin,
        "POST",
        f"{live_server}/api/v1/brands/1/inboxes",
        {
            "kind": "phone",
            "name": f"專線-{uuid.uuid4().hex[:4]}",
            "config": {"secret": SECRET, "extensions": f"201={mei_id}"},
        },
    )

    # Logging a call by hand: the number in another spelling finds the known customer.
    number = "09" + str(uuid.uuid4().int)[:8]
    _api(page, "POST", f"{live_server}/api/v1/customers", {"brand_id": 1, "name": "林來電", "phone": number})
    page.goto(f"{live_server}/console/calls")
    assert page.get_by_role("button", name="儲存通話紀錄").is_visible()
    page.get_by_label("電話號碼").fill(f"+886 {number[1:4]} {number[4:7]} {number[7:]}")
    page.wait_for_selector("#cl-found .found")
    assert "林○電" in page.locator("#cl-found").inner_text()
    page.get_by_label("通話分鐘").fill("4")
    page.get_by_label("秒").fill("20")
    page.get_by_label("結果").select_option("follow_up")
    page.get_by_label("通話摘要").fill("詢問帳單，明天回電")
    assert _unlabeled(page) == []
    page.screenshot(path=str(shots / "calls-1280.png"), full_page=True)
    page.get_by_role("button", name="儲存通話紀錄").click()
    page.wait_for_url("**/console/conversations/**")
    assert "4:20" in page.locator("#timeline").inner_text() and "詢問帳單" in page.locator("#timeline").inner_text()
    page.goto(f"{live_server}/console/calls")
    assert "林○電" in page.locator("#rc-h + .table-scroll").inner_text()

    # Opt in to alerts (the permission prompt belongs to this click only).
    toggle = page.locator("#alerts-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("Notification.permission") == "granted"
    page.goto(f"{live_server}/console/tickets")
    page.wait_for_selector("#live.on")

    # The PBX rings extension 201: the pop-up shows the caller (masked) with the timeline link, live.
    call = f"c-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    _signed(
        page, live_server, hotline["id"], {"call_id": call, "event": "ringing", "caller": number, "extension": "201"}
    )
    page.wait_for_selector("#call-pop:not([hidden]) .call-card.state-ringing")
    popped = time.monotonic() - started
    assert "林○電" in page.locator("#call-pop").inner_text()
    assert page.locator("#call-pop a", has_text="開啟時間軸").count() == 1
    _notified(page, "來電")
    page.screenshot(path=str(shots / "call-popup-1280.png"), full_page=False)
    _signed(
        page, live_server, hotline["id"], {"call_id": call, "event": "answered", "caller": number, "extension": "201"}
    )
    page.wait_for_selector("#call-pop .call-card.state-answered")
    _signed(
        page,
        live_server,
        hotline["id"],
        {"call_id": call, "event": "ended", "caller": number, "extension": "201", "duration_seconds": 65},
    )
    page.wait_for_selector("#call-pop .call-card.state-logged")
    page.locator("#call-pop a", has_text="開啟時間軸").click()
    page.wait_for_url("**/console/conversations/**")
    assert "1:05" in page.locator("#timeline").inner_text()
    print(f"call pop-up after ringing webhook: {popped:.2f} s")

    # A colleague @mentions mei in a note: the unread badge counts it live and a desktop alert fires.
    badge_before = page.locator("#unread .unread-count").count()
    before = int(page.locator("#unread .unread-count").get_attribute("data-count")) if badge_before else 0
    wei_ctx = browser.new_context()
    wei = wei_ctx.new_page()
    _login(wei, live_server, "wei@kefu.local")
    conv_url = page.url.split("?")[0]
    wei.goto(conv_url)
    wei.locator('.composer input[value="note"]').check()
    wei.locator("#body").fill("@mei 這位客戶明天要回電")
    wei.get_by_role("button", name="送出").click()
    wei.wait_for_selector("text=已通知")
    # At least one more: the live server's own jobs (care detection, follow-ups) may notify mei meanwhile.
    page.wait_for_function(
        "n => Number(document.querySelector('#unread .unread-count')?.dataset.count || 0) >= n",
        arg=before + 1,
    )
    _notified(page, "有人提到你")
    page.goto(f"{live_server}/console/notifications")
    assert "@ #" in page.locator(".notification-list").inner_text()
    page.get_by_role("button", name="全部標為已讀").click()
    page.wait_for_load_state("load")
    page.wait_for_function("!document.querySelector('#unread .unread-count')")
    page.screenshot(path=str(shots / "notifications-1280.png"), full_page=True)
    for locale in ("zh-CN", "en"):
        page.goto(f"{live_server}/console/calls?lang={locale}")
        page.screenshot(path=str(shots / f"calls-{locale}-1280.png"), full_page=True)
    assert "Log a call" in page.inner_text("h1")
    for c in (wei_ctx, admin_ctx, ctx):
        c.close()

    small = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    p = small.new_page()
    _login(p, live_server, "mei@kefu.local")
    p.goto(f"{live_server}/console/calls")
    assert _overflow(p) <= 1
    p.screenshot(path=str(shots / "calls-390.png"), full_page=True)
    p.goto(f"{live_server}/console/tickets")
    p.wait_for_selector("#live.on")
    call = f"c-{uuid.uuid4().hex[:6]}"
    _signed(p, live_server, hotline["id"], _event(call, "ringing", number))
    p.wait_for_selector("#call-pop:not([hidden]) .call-card")
    box = p.locator("#call-pop").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    p.screenshot(path=str(shots / "call-popup-390.png"), full_page=False)
    p.get_by_role("button", name="關閉").click()
    expect(p.locator("#call-pop")).to_be_hidden()
    small.close()


def test_deadline_screens_link_to_each_other(browser: Any, live_server: str, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, live_server, "lead@kefu.local")
    page.goto(f"{live_server}/console/complaints")
    assert "72 小時" in page.locator("main p.muted").first.inner_text()
    page.locator("main p.muted a", has_text="期限提醒").click()
    page.wait_for_url("**/console/deadlines")
    page.locator("main p.muted a", has_text="客訴期限").click()
    page.wait_for_url("**/console/complaints")
    page.screenshot(path=str(shots / "complaints-1280.png"), full_page=True)
    page.close()
