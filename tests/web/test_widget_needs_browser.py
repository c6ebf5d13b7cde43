"""In Chromium: the widget's accessibility-needs form, by keyboard, saved with consent and announced (#17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_a11y_browser import AXE_OPTIONS, FAILING, _axe


def test_widget_accessibility_needs_form_by_keyboard(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW", reduced_motion="reduce")
    shop = ctx.new_page()
    csp: list[str] = []
    shop.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    shop.goto(f"{live_server}/demo/shop")
    shop.locator(".kefu-launcher").click()
    toggle = shop.get_by_role("button", name="無障礙需求", exact=True)
    toggle.focus()
    shop.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    form = shop.locator("#kefu-a11y")
    assert form.get_by_role("group", name="無障礙需求").count() == 1  # the fieldset, named by its legend
    shop.keyboard.press("Space")  # focus moved to the first need: 聽障（聾）
    assert form.get_by_label("聽障（聾）").is_checked()
    form.get_by_label("弱視").check()
    form.get_by_role("button", name="儲存", exact=True).click()  # no consent yet: the browser holds the form back
    assert form.get_by_role("status").inner_text() == ""
    form.get_by_label("我同意客服記錄這些需求，以便調整聯絡方式").check()
    form.get_by_role("button", name="儲存", exact=True).press("Enter")
    form.get_by_role("status").filter(has_text="已儲存您的無障礙需求。").wait_for()
    found = _axe().run(shop, options=AXE_OPTIONS).response["violations"]
    serious = [(v["id"], [n["target"] for n in v["nodes"]]) for v in found if v["impact"] in FAILING]
    assert serious == []
    shop.screenshot(path=str(shots / "widget-needs-390.png"))
    # A reload keeps the choice (the visitor's own device), unticked boxes stay unticked.
    shop.reload()
    shop.locator(".kefu-launcher").click()
    shop.get_by_role("button", name="無障礙需求", exact=True).click()
    assert shop.get_by_label("弱視").is_checked() and not shop.get_by_label("視障（全盲）").is_checked()
    assert csp == []
    ctx.close()
