"""The loose-ends pages in a browser (demo data, English and zh-TW): spend in the brand's currency on the customer
list and profile, one date style on a case page. Screenshots in var/screenshots/test_loose_browser/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_console import _login

EN_DAY = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}")  # Dec 6, 2026 (a time may follow)
ZH_DAY = re.compile(r"^\d{4}/\d{1,2}/\d{1,2}")


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_customer_spend_and_case_dates(browser: Any, live_server: str, shots: Path, lang: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "mei@kefu.local")
    page.goto(f"{live_server}/console/customers?lang={lang}")
    spend = page.locator("table.customer-table td.num").all_inner_texts()
    assert spend and all(s.startswith("NT$" if lang == "en" else "$") for s in spend), spend[:5]
    page.screenshot(path=str(shots / f"customers-{lang}.png"), full_page=True)
    page.locator("a[href^='/console/customers/']").first.click()
    spent = page.locator("dd.spend").inner_text()
    assert spent.startswith("NT$" if lang == "en" else "$"), spent
    page.screenshot(path=str(shots / f"customer-{lang}.png"), full_page=True)
    page.goto(f"{live_server}/console/tickets?lang={lang}")
    page.locator("a[href^='/console/tickets/']:not([href*='view'])").first.click()
    page.wait_for_load_state("domcontentloaded")
    stamps = [s.strip() for s in page.locator("main time").all_inner_texts() if s.strip()]
    day = EN_DAY if lang == "en" else ZH_DAY
    assert stamps and all(day.match(s) for s in stamps), stamps
    page.screenshot(path=str(shots / f"case-{lang}.png"), full_page=True)
    ctx.close()
