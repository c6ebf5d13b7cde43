"""In Chromium: a console page an agent may not open keeps the console around it (navigation, sign-out, a way
back), and the message board re-shows its form with the reason in the visitor's language and their text kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_console import _login


def test_403_inside_the_console_has_a_way_back(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "sam@kefu.local")  # an agent: no admin permissions
    page.goto(f"{live_server}/console/tickets?lang=en")
    page.goto(f"{live_server}/admin", referer=page.url)  # as a bookmark or a link from the ticket list would
    assert page.locator("#console-nav").is_visible()
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert page.get_by_role("alert").inner_text() == "You don't have permission to do that."
    page.screenshot(path=str(shots / "403-1280-en.png"))
    page.get_by_role("link", name="Back to the previous page").click()
    page.wait_for_url("**/console/tickets?lang=en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/console/no-such-page?lang=zh-CN")
    assert page.locator(".nav-toggle").is_visible()  # the narrow console menu is there too
    assert page.get_by_role("alert").inner_text() == "找不到该页面。"
    page.screenshot(path=str(shots / "404-390-zh-CN.png"))
    ctx.close()


def test_board_form_rejected_in_the_visitors_language(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    inboxes = page.request.get(f"{live_server}/api/v1/brands/1/inboxes").json()
    board = next(i for i in inboxes if i["kind"] == "board")
    page.request.post(f"{live_server}/logout")
    ctx.clear_cookies()
    page.goto(f"{live_server}/api/v1/channels/board/{board['id']}")  # Accept-Language: en-US
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Your name").fill("Alice")
    # Two characters pass the browser's checks (required), not the server's (three at least).
    page.get_by_label("Contact (email or phone)").fill("ab")
    page.get_by_label("Describe your question").fill("My parcel never arrived.")
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("#bd-error")
    assert "Please fill in" in page.locator("#bd-error").inner_text()
    assert page.get_by_label("Your name").input_value() == "Alice"
    assert page.get_by_label("Describe your question").input_value() == "My parcel never arrived."
    assert page.get_by_label("Contact (email or phone)").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(shots / "board-422-390-en.png"), full_page=True)
    ctx.close()
