"""Admin forms in Chromium (1280 and 390 px): errors appear next to the field, in the admin's language, input kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.test_console import _login


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_admin_forms_show_field_errors_and_keep_input(
    browser: Any, live_server: str, shots: Path, width: int, height: int
) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-TW")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_server, "admin@kefu.local")

    page.goto(f"{live_server}/admin?tab=sla&lang=zh-TW")
    policy = page.locator("form.sla-policy").first
    amount = policy.get_by_label("首次回覆", exact=True)
    amount.fill("abc")
    policy.get_by_label("說明").fill("改過的說明")
    policy.get_by_role("button", name="儲存").click()
    policy = page.locator("form.sla-policy").first
    error = policy.locator(".field-error").first
    error.wait_for()
    assert error.inner_text() == "請填正整數。"
    assert policy.get_by_label("首次回覆", exact=True).input_value() == "abc"
    assert policy.get_by_label("說明").input_value() == "改過的說明"
    assert policy.get_by_label("首次回覆", exact=True).get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(shots / f"admin-sla-error-{width}.png"), full_page=False)

    page.goto(f"{live_server}/admin?tab=sla&lang=zh-TW")
    page.locator("details.year-view").first.locator("summary").click()
    page.locator("details.year-view").first.screenshot(path=str(shots / f"admin-calendar-year-{width}.png"))
    assert page.locator("details.year-view td.day.holiday").count() > 5  # Taiwan public holidays

    page.goto(f"{live_server}/admin?tab=teams&lang=zh-TW")
    new_team = page.locator("form#new-team")
    new_team.get_by_label("代碼").fill("VIP 團隊")
    new_team.get_by_label("名稱").fill("VIP 組")
    new_team.get_by_role("button", name="新增").click()
    page.locator("form#new-team .field-error").wait_for()
    assert "小寫英文字母" in page.locator("form#new-team .field-error").inner_text()
    assert page.locator("form#new-team").get_by_label("代碼").input_value() == "VIP 團隊"
    page.locator("form#new-team").screenshot(path=str(shots / f"admin-team-error-{width}.png"))

    page.goto(f"{live_server}/admin?tab=routing&lang=en")
    dry = page.locator("form.dry-run")
    dry.get_by_label("Category").fill("refund")
    dry.get_by_role("button", name="Dry run").click()
    page.locator(".dry-result").wait_for()
    assert "Goes to:" in page.locator(".dry-result").inner_text()
    page.locator("form.dry-run").screenshot(path=str(shots / f"admin-dry-run-{width}.png"))
    assert not [e for e in errors if "Content Security Policy" in e]
    ctx.close()
