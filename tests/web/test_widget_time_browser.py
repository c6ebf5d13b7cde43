"""The widget shows message times in the brand's timezone (as the help centre, e-mails and the console do), not in
whatever zone the visitor's device is set to."""

from __future__ import annotations

from typing import Any

_LOCAL = "(a) => new Date(a[0]).toLocaleTimeString('en', {hour: '2-digit', minute: '2-digit', timeZone: a[1]})"


def test_widget_message_times_read_in_the_brand_timezone(browser: Any, live_server: str) -> None:
    # A visitor whose device is set to New York (12 or 13 hours from the demo brand's Asia/Taipei).
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en", timezone_id="America/New_York")
    page = ctx.new_page()
    page.goto(f"{live_server}/demo/shop?lang=en")
    page.locator(".kefu-launcher").click()
    page.locator(".kefu-greeting").wait_for()
    box = page.locator(".kefu-input")
    box.fill("What time is it there?")
    box.press("Enter")
    stamp = page.locator(".kefu-row.kefu-mine", has_text="What time is it there?").locator("time")
    stamp.wait_for()
    iso = stamp.get_attribute("datetime")
    shown = stamp.inner_text()
    assert shown == page.evaluate(_LOCAL, [iso, "Asia/Taipei"])
    assert shown != page.evaluate(_LOCAL, [iso, "America/New_York"])
    ctx.close()
