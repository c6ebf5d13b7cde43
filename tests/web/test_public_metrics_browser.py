"""The published service metrics page in Chromium at 1280 and 390 px in zh-TW, zh-CN and en: layout, strict CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TITLES = {"zh-TW": "服務指標公開", "zh-CN": "服务指标公示", "en": "Service metrics"}
LINKS = {"zh-TW": "查看我們的服務指標", "zh-CN": "查看我们的服务指标", "en": "See how our service is doing"}


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_public_metrics_page(browser: Any, live_server: str, shots: Path, width: int, height: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    for lang in ("zh-TW", "zh-CN", "en"):
        page.goto(f"{live_server}/portal/demo?lang={lang}")
        assert page.get_by_role("link", name=LINKS[lang]).is_visible()  # the demo brand publishes its metrics
        page.goto(f"{live_server}/portal/demo/metrics?lang={lang}")
        page.get_by_role("heading", name=TITLES[lang], level=1).wait_for()
        assert page.locator(".hc-metrics-period").count() == 3
        assert page.locator(".hc-metric").count() == 24
        assert page.locator(".hc-metric-value").count() >= 1  # weeks of demo history: some figures are published
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        page.screenshot(path=str(shots / f"hc-metrics-{lang}-{width}.png"), full_page=True)
    assert csp == []
    ctx.close()
