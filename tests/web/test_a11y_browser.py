"""Accessibility pass: axe-core on every console, admin, help-centre and widget screen of the demo, in zh-TW and en, at
1280 and 390 px, with a screenshot of each screen kept as an artefact (var/screenshots/test_a11y_browser/...).

axe-core comes from the hash-locked dev dependency axe-playwright-python (axe.min.js inside the wheel), injected
through Playwright's evaluate, so the pages keep their strict CSP. Any serious or critical violation fails the test;
every violation (any impact) is written next to the screenshots as axe-<part>-<locale>-<width>.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import widget_settled
from tests.web.test_console import _login

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    "resultTypes": ["violations"],
}
FAILING = ("serious", "critical")


def _axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _first_href(page: Any, selector: str) -> str:
    href = page.locator(selector).first.get_attribute("href")
    assert href, f"no link for {selector}"
    return str(href).split("?")[0]


def _console_screens(page: Any, base: str) -> list[tuple[str, str]]:
    """The console and admin screens, with ids of demo records found by following the pages' own links."""
    page.goto(f"{base}/console?view=all")
    conv = _first_href(page, ".conv a[href^='/console/conversations/']")
    page.goto(f"{base}/console/tickets")
    case = _first_href(page, "a[href^='/console/tickets/']:not([href*='view'])")
    page.goto(f"{base}/console/customers")
    customer = _first_href(page, "a[href^='/console/customers/']")
    page.goto(f"{base}/admin?tab=kb")
    faq = _first_href(page, "a[href^='/admin/kb/faq/']:not([href*='/new'])")  # not the new-FAQ link
    article = _first_href(page, "a[href^='/admin/kb/article/']:not([href*='/new'])")
    screens = [
        ("inbox", "/console"),
        ("inbox-all", "/console?view=all"),
        ("conversation", conv),
        ("tickets", "/console/tickets"),
        ("case", case),
        ("search", "/console/search?q=退款"),
        ("customers", "/console/customers"),
        ("customer", customer),
        ("complaints", "/console/complaints"),
        ("incidents", "/console/incidents"),
        ("privacy-requests", "/console/privacy-requests"),
        ("analytics", "/console/analytics"),
        ("report-weekly", "/console/analytics/reports/weekly"),
        ("report-monthly", "/console/analytics/reports/monthly"),
        ("org-reports", "/console/analytics/organizations"),
        ("deadlines", "/console/deadlines"),
        ("callbacks", "/console/callbacks"),
        ("follow-ups", "/console/follow-ups"),
        ("qa", "/console/qa"),
        ("ops-jobs", "/ops/jobs"),
        ("macros", "/console/macros"),
        ("calls", "/console/calls"),
        ("notifications", "/console/notifications"),
        ("shifts", "/console/shifts"),
        ("notices", "/console/notices"),
        ("compensations", "/console/compensations"),
        ("security-incidents", "/console/security-incidents"),
        ("quality", "/console/quality"),
        ("care", "/console/care?status=all"),
    ]
    for tab in ("brands", "agents", "teams", "inboxes", "sla", "routing", "kb", "review", "canned", "followups"):
        screens.append((f"admin-{tab}", f"/admin?tab={tab}"))
    screens += [
        ("admin-faq", faq),
        ("admin-faq-new", "/admin/kb/faq/new"),
        ("admin-article", article),
        ("admin-article-new", "/admin/kb/article/new"),
        ("admin-kb-import", "/admin/kb/import"),
    ]
    return screens


def _public_screens(page: Any, base: str) -> list[tuple[str, str]]:
    """Help centre, sign-in and the demo shop (the widget is opened there before axe runs)."""
    page.goto(f"{base}/portal/demo")
    category = _first_href(page, "a[href^='/portal/demo/c/']")
    article = _first_href(page, "a[href^='/portal/demo/a/']")
    page.goto(f"{base}/portal/demo?q=退款")
    faq = _first_href(page, "a[href^='/portal/demo/faq/']")
    return [
        ("hc-home", "/portal/demo"),
        ("hc-search", "/portal/demo?q=退款"),
        ("hc-category", category),
        ("hc-article", article),
        ("hc-faq", faq),
        ("hc-new", "/portal/demo/new"),
        ("hc-track", "/portal/demo/track"),
        ("hc-callback", "/portal/demo/callback"),
        ("hc-404", "/portal/demo/a/999999"),
        ("login", "/login"),
        ("reset-password", "/reset-password"),
        ("widget", "/demo/shop"),
        ("hc-metrics", "/portal/demo/metrics"),
    ]


def _with_lang(path: str, locale: str) -> str:
    return path + ("&" if "?" in path else "?") + f"lang={locale}"


def _check(page: Any, axe: Any, name: str, found: dict[str, Any], failures: list[str]) -> None:
    results = axe.run(page, options=AXE_OPTIONS).response
    found[name] = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "targets": [n["target"] for n in v["nodes"]][:10]}
        for v in results["violations"]
    ]
    for v in results["violations"]:
        if v["impact"] in FAILING:
            targets = "; ".join(_node(n) for n in v["nodes"][:5])
            failures.append(f"{name}: {v['id']} ({v['impact']}) {v['help']} — {targets}")


def _node(node: dict[str, Any]) -> str:
    """A failing element and, for contrast, the colours axe measured."""
    where = " ".join(map(str, node["target"]))
    data = next((c.get("data") for c in node.get("any", []) if isinstance(c.get("data"), dict)), None) or {}
    if "contrastRatio" in data:
        return f"{where} [{data.get('fgColor')} on {data.get('bgColor')}: {data.get('contrastRatio')}]"
    return where


def _open_widget(page: Any) -> None:
    page.locator(".kefu-launcher").click()
    widget_settled(page)  # session answered, no animation: the screenshot and contrast checks see the final state


SIZES = [("zh-TW", 1280, 900), ("zh-TW", 390, 844), ("en", 1280, 900)]
# The 40 console and admin screens: both widths and both scripts, in two passes (a third pass cost ~2 min of CI).
CONSOLE_SIZES = [("zh-TW", 1280, 900), ("en", 390, 844)]


def _report(shots: Path, part: str, locale: str, width: int, found: dict[str, Any], failures: list[str]) -> None:
    (shots / f"axe-{part}-{locale}-{width}.json").write_text(json.dumps(found, ensure_ascii=False, indent=1))
    assert failures == [], "\n".join(failures)


def _csp_errors(page: Any, sink: list[str]) -> None:
    page.on("console", lambda m: sink.append(m.text) if "Content Security Policy" in m.text else None)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("locale", "width", "height"), SIZES)
def test_axe_public_screens(browser: Any, live_server: str, shots: Path, locale: str, width: int, height: int) -> None:
    axe = _axe()
    failures: list[str] = []
    found: dict[str, Any] = {}
    csp: list[str] = []
    # Reduced motion: the widget opens without its fade, so contrast is measured on the final colours.
    public = browser.new_context(viewport={"width": width, "height": height}, locale=locale, reduced_motion="reduce")
    page = public.new_page()
    _csp_errors(page, csp)
    for name, path in _public_screens(page, live_server):
        page.goto(f"{live_server}{_with_lang(path, locale)}")
        if name == "widget":
            _open_widget(page)
        else:
            assert page.locator("html").get_attribute("lang") == locale, name
        _check(page, axe, name, found, failures)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=name != "widget")
    public.close()
    _report(shots, "public", locale, width, found, failures)
    assert csp == []


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("locale", "width", "height"), CONSOLE_SIZES)
def test_axe_console_and_admin_screens(
    browser: Any, live_server: str, shots: Path, locale: str, width: int, height: int
) -> None:
    axe = _axe()
    failures: list[str] = []
    found: dict[str, Any] = {}
    csp: list[str] = []
    agent = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = agent.new_page()
    _csp_errors(page, csp)
    _login(page, live_server, "admin@kefu.local")
    for name, path in _console_screens(page, live_server):
        page.goto(f"{live_server}{_with_lang(path, locale)}")
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == locale, name
        _check(page, axe, name, found, failures)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.goto(f"{live_server}/console?lang=zh-TW")  # leave the admin's language as the other journeys expect
    agent.close()
    _report(shots, "console", locale, width, found, failures)
    assert csp == []
