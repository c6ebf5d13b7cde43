"""Agent console in a real browser: login, inbox, conversation, reply and note, realtime, a11y, widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

PASSWORD = "kefu-demo-pass"


def _login(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login?lang=zh-TW")
    page.get_by_label("電子郵件").fill(email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/console")


def test_login_rejects_bad_password(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/login?lang=en")
    page.get_by_label("Email").fill("mei@kefu.local")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Invalid email or password"
    page.close()


def test_console_requires_login(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    page.goto(f"{live_server}/console")
    assert "/login" in page.url
    page.close()


def test_agent_replies_and_other_agent_sees_it_live(browser: Any, live_server: str, shots: Path) -> None:
    ctx_a = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx_b = browser.new_context(viewport={"width": 1280, "height": 900})
    a, b = ctx_a.new_page(), ctx_b.new_page()
    _login(a, live_server, "mei@kefu.local")
    _login(b, live_server, "lead@kefu.local")
    a.goto(f"{live_server}/console?view=all")
    a.get_by_role("link", name="張○婷").first.click()  # agents see customer names masked
    a.wait_for_selector(".timeline")
    conv_url = a.url
    # The timeline shows the same customer's web chat and LINE messages together.
    channels = a.locator(".timeline .badge.ch").all_inner_texts()
    assert "網頁客服" in channels and "LINE" in channels  # channel labels, not raw kinds
    b.goto(conv_url)
    b.wait_for_selector("#live.on")
    a.wait_for_selector("#live.on")
    a.get_by_label("輸入回覆…（Ctrl+Enter 送出）").fill("您好，已為您查詢，款項將於 7 個工作天內退回。")
    a.get_by_role("button", name="送出").click()
    a.wait_for_selector("text=款項將於 7 個工作天內退回")
    # The other agent's page updates through the WebSocket without a reload.
    b.wait_for_selector("text=款項將於 7 個工作天內退回")
    # Internal note via keyboard: n focuses the composer in note mode, Ctrl+Enter sends.
    a.locator("body").click(position={"x": 5, "y": 5})
    a.keyboard.press("n")
    assert a.evaluate("document.activeElement.id") == "body"
    a.keyboard.type("內部備註：VIP 客戶，優先處理")
    a.keyboard.press("Control+Enter")
    a.wait_for_selector(".msg.note >> text=內部備註：VIP 客戶，優先處理")
    a.screenshot(path=str(shots / "conversation-1280.png"), full_page=True)
    ctx_a.close()
    ctx_b.close()


def test_assign_and_ticket_status(browser: Any, live_server: str) -> None:
    # wait_for_function evals its predicate: under the page's CSP that fails as soon as the first check is false,
    # i.e. whenever the swap lands after the response event (a loaded machine).
    ctx = browser.new_context(bypass_csp=True)
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    page.goto(f"{live_server}/console?view=all")
    page.get_by_role("link", name="John Smith").first.click()
    page.wait_for_url("**/console/conversations/**")  # loaded: htmx posts the forms below
    page.wait_for_selector("#assignee")
    page.get_by_label("負責人").select_option(label="Sam Carter")
    with page.expect_response(lambda r: r.url.endswith("/assign")) as resp:
        page.locator("#assign-h + form button").click()
    assert resp.value.status == 200
    page.wait_for_function("document.querySelector('#assignee').selectedOptions[0].text === 'Sam Carter'")
    page.get_by_label("狀態", exact=True).last.select_option("pending")
    with page.expect_response(lambda r: "/console/tickets/" in r.url) as resp:
        page.locator("#ticket-h + form button").click()
    assert resp.value.status == 200
    page.wait_for_function("document.querySelector('#tstatus').value === 'pending'")
    ctx.close()


def test_pages_are_labelled_and_fit_phone_width(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = ctx.new_page()
    _login(page, live_server, "mei@kefu.local")
    page.goto(f"{live_server}/console?view=all&lang=zh-CN")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("link", name="全部").count() == 1
    page.get_by_role("link", name="張○婷").first.click()  # data stays as entered (masked for agents)
    page.wait_for_selector(".timeline")
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
              .map(el => el.outerHTML)"""
    )
    assert unlabeled == []
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(shots / "conversation-390.png"), full_page=True)
    ctx.close()


def test_canned_response_fills_composer(browser: Any, live_server: str) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    _login(page, live_server, "mei@kefu.local")
    page.goto(f"{live_server}/console?view=all")
    page.get_by_role("link", name="J*** S****").first.click()
    # Loaded, not only parsed: a choice made before console.js attached its change listener fills nothing.
    page.wait_for_url("**/console/conversations/**")
    # John writes English: the zh-TW agent is offered the English version of /hello (the customer reads it).
    page.get_by_label("罐頭回覆").select_option(label="/hello · Greeting")
    # Agents lack pii:reveal: the name stays a placeholder that the server fills in when the reply is sent.
    box = page.get_by_label("輸入回覆…（Ctrl+Enter 送出）")
    expect(box).to_have_value("Hi {customer_name}, this is 林小美 Mei Lin — happy to help.")
    page.get_by_role("button", name="送出").click()
    page.wait_for_selector(".msg.from-agent >> text=this is 林小美 Mei Lin — happy to help.")
    assert "{customer_name}" not in page.locator(".timeline").inner_text()
    ctx.close()


def test_admin_adds_faq_and_agent(browser: Any, live_server: str) -> None:
    ctx = browser.new_context()
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    page.goto(f"{live_server}/admin?tab=kb&lang=zh-TW")
    page.locator("a.button-link[href^='/admin/kb/faq/new']").first.click()
    page.locator("#q-zh-TW").fill("運費怎麼算？")
    page.locator("#alt-zh-TW").fill("要付運費嗎")
    page.locator("#answer-zh-TW").fill("單筆訂單滿 990 元免運費。")
    page.get_by_role("button", name="儲存").click()
    page.get_by_role("status").filter(has_text="已儲存").wait_for()
    page.goto(f"{live_server}/admin?tab=kb&lang=zh-TW")
    page.wait_for_selector(".faq-row:has-text('運費怎麼算？')")
    page.goto(f"{live_server}/admin?tab=agents")
    page.get_by_label("電子郵件").fill("new.agent@kefu.local")
    page.get_by_label("名稱").fill("新同事")
    page.get_by_label("密碼").fill("a long enough password")
    page.get_by_role("button", name="新增").click()
    page.wait_for_selector("td:has-text('new.agent@kefu.local')")
    # An agent has no admin tabs at all.
    other = browser.new_context().new_page()
    _login(other, live_server, "mei@kefu.local")
    resp = other.goto(f"{live_server}/admin")
    assert resp is not None and resp.status == 403
    ctx.close()
