"""The console's top navigation in Chromium: one row at 1280 px with the rest under "More", and at 390 px one menu
button that opens every entry as a vertical list (keyboard: Enter opens and focuses, Escape closes and refocuses)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from tests.web.test_console import _login


def _height(page: Any, selector: str) -> float:
    return float(page.locator(selector).bounding_box()["height"])


def test_nav_one_row_wide_and_menu_button_narrow(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")  # the admin sees every entry
    entries = page.locator("#console-nav a")
    names = [str(n) for n in entries.all_inner_texts()]
    hrefs = [str(entries.nth(i).get_attribute("href")) for i in range(entries.count())]
    assert len(hrefs) >= 15 and "/console/compensations" in hrefs and "/admin" in hrefs
    assert page.locator('#console-nav a[aria-current="page"]').get_attribute("href") == "/console"

    # 1280 px: the bar and the whole top bar are one row; the secondary entries wait behind "More".
    link_h = float(page.locator("#console-nav-list > li > a").first.bounding_box()["height"])
    assert _height(page, "#console-nav-list") < link_h * 1.5
    assert _height(page, ".topbar") < link_h * 2.2
    more = page.get_by_role("button", name="更多")
    assert more.get_attribute("aria-expanded") == "false" and not page.locator("#console-nav-more").is_visible()
    more.click()
    assert more.get_attribute("aria-expanded") == "true"
    page.get_by_role("link", name="補償").click()
    page.wait_for_url("**/console/compensations")
    assert page.locator('#console-nav a[aria-current="page"]').get_attribute("href") == "/console/compensations"
    page.screenshot(path=str(shots / "nav-1280.png"))

    # 390 px: the navigation is a single button row; opening it shows every entry stacked.
    page.set_viewport_size({"width": 390, "height": 844})
    toggle = page.get_by_role("button", name="選單")
    assert toggle.is_visible() and toggle.get_attribute("aria-controls") == "console-nav-list"
    assert not page.locator("#console-nav-list").is_visible()
    assert _height(page, "#console-nav") <= _height(page, ".nav-toggle") + 1
    assert _height(page, ".topbar") < 130  # brand, menu, bells and sign-out in one row, search under them
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/console/compensations"  # the current one
    visible = [entries.nth(i) for i in range(entries.count()) if entries.nth(i).is_visible()]
    assert len(visible) == len(hrefs)
    boxes = [e.bounding_box() for e in visible]
    assert all(b["y"] > a["y"] for a, b in pairwise(boxes))  # one under another
    assert {e.inner_text() for e in visible} == set(names)
    page.screenshot(path=str(shots / "nav-390-open.png"))
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false" and not page.locator("#console-nav-list").is_visible()
    assert page.evaluate("document.activeElement.classList.contains('nav-toggle')")
    ctx.close()

    # Without JavaScript nothing hides: every entry is on the page as a plain wrapping list.
    nojs = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = nojs.new_page()
    _login(page, live_server, "admin@kefu.local")
    links = page.locator("#console-nav a")
    assert links.count() == len(hrefs) and all(links.nth(i).is_visible() for i in range(links.count()))
    assert not page.locator(".nav-toggle").is_visible()
    nojs.close()
