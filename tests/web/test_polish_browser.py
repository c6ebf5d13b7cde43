"""A walk of every console, admin and customer screen in zh-TW, zh-CN and en at 1280 and 390 px, with a full-page
screenshot of each (var/screenshots/test_polish_browser/...): visible text never shows a raw ISO-8601 date or
timestamp, an unformatted float or a snake_case slug (times go through |datetime/|date in the brand's timezone,
ratios through |percent, enum values through the string tables)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_a11y_browser import _console_screens, _open_widget, _public_screens, _with_lang
from tests.web.test_console import _login
from tests.web.test_narrow_browser import _WIDEST

ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?")
RAW_FLOAT = re.compile(r"(?<![\d.,])\d+\.\d{3,}\b")
SLUG = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# Visible text that may look like a slug or a raw date: e-mail addresses, URLs, {placeholders} of templates and
# input-format examples ("例如 2026-12-25", "e.g. 2026-12-31 09:00-12:00").
_IGNORED = re.compile(
    r"\S+@\S+|https?://\S+|/\S+|\{[a-z_]+\}|(?:例如|e\.g\.|格式[為为]|look like)\s*[\d:-]+(?: [\d:-]+)?"
)
# What the scan reads: the rendered text, without form fields' contents, code samples and hidden parts.
_TEXT = """() => {
  const skip = el => el.closest('code, pre, textarea, script, style, [hidden], [aria-hidden=true], .kefu-transcript');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || skip(el) || !el.getClientRects().length) continue;
    const s = n.textContent.trim();
    if (s) out.push(s);
  }
  return out;
}"""


def findings(texts: list[str], slugs: bool = True) -> list[str]:
    """Raw ISO dates, raw floats and (unless `slugs` is off) snake_case slugs in visible text."""
    out: list[str] = []
    checks = ((ISO, "iso"), (RAW_FLOAT, "float"), (SLUG, "slug")) if slugs else ((ISO, "iso"), (RAW_FLOAT, "float"))
    for text in texts:
        bare = _IGNORED.sub(" ", text)
        for rx, what in checks:
            out += [f"{what} {m.group(0)!r} in {text[:80]!r}" for m in rx.finditer(bare)]
    return out


# Interface text (headings of tables, legends, hints, definition terms, navigation) in the other Chinese script:
# common characters that exist in one script only. Names, subjects and messages are data and are not read.
TRADITIONAL_ONLY = (
    "們這個來時會對說國與為後開關點體應號務單類資訊設顯幫網線"
    "電話請問題處狀態預設選擇無帳戶員權審條範數據覽錄編輯刪儲轉發"
)
SIMPLIFIED_ONLY = (
    "们这个来时会对说国与为开关点体应号务单类资讯设显帮网线电话请问题处状态预设选择无帐户员权审条数览录编辑删储转发"
)
_CHROME = """() => [...document.querySelectorAll('th, legend, summary, dt, .hint, nav a, label:not(.check)')]
  .filter(el => el.getClientRects().length && !el.closest('[hidden], [aria-hidden=true]'))
  .map(el => el.textContent.trim()).filter(Boolean)"""


def other_script(texts: list[str], locale: str) -> list[str]:
    """Interface text with characters of the other Chinese script (zh-CN pages: Traditional; zh-TW: Simplified)."""
    banned = {"zh-CN": TRADITIONAL_ONLY, "zh-TW": SIMPLIFIED_ONLY}.get(locale, "")
    return [f"{locale} text in the other script: {x[:60]!r}" for x in texts if any(c in banned for c in x)]


def test_other_script_catches_mixed_labels() -> None:
    assert other_script(["服務閉環追蹤"], "zh-CN") and other_script(["数量"], "zh-TW")
    assert other_script(["服务闭环跟踪", "数量"], "zh-CN") == [] and other_script(["數量"], "zh-TW") == []
    assert other_script(["數量"], "en") == []


def test_findings_catch_the_leftovers() -> None:
    assert findings(["2026-12-06 – 2026-12-31", "85.333%", "care_opportunity", "2026-12-06T09:00:00+00:00"])
    assert findings(["2026/12/6 14:51", "85.3%", "mei@kefu.local", "/console/tickets", "Dec 6, 2026, 2:51 PM"]) == []
    examples = ["一行一天：日期 時段，例如 2026-12-31 09:00-12:00", "e.g. 2026-12-25 x"]
    assert findings(["您好 {customer_name}", *examples]) == []


def _overflow(page: Any, name: str) -> list[str]:
    """The page scrolling sideways (test_narrow_browser checks zh-TW only; English labels are longer)."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    return [f"{name}: scrollWidth {width} > {inner} ({page.evaluate(_WIDEST)})"] if width > inner + 1 else []


SIZES = [("zh-TW", 1280, 900), ("zh-CN", 1280, 900), ("en", 1280, 900), ("zh-TW", 390, 844), ("zh-CN", 390, 844)]
SIZES += [("en", 390, 844)]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("locale", "width", "height"), SIZES)
def test_console_text_is_formatted(
    browser: Any, live_server: str, shots: Path, locale: str, width: int, height: int
) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    found: list[str] = []
    for name, path in _console_screens(page, live_server):
        page.goto(f"{live_server}{_with_lang(path, locale)}")
        page.wait_for_load_state("networkidle")
        # Admin screens too: configuration keys (categories, policies, holiday sets) are shown by their names.
        found += [f"{name}: {f}" for f in findings(page.evaluate(_TEXT))]
        found += [f"{name}: {f}" for f in other_script(page.evaluate(_CHROME), locale)]
        found += _overflow(page, name)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        page.screenshot(path=str(shots / f"{name}-top.png"))  # what an agent sees first, legible at phone size
    page.goto(f"{live_server}/console?lang=zh-TW")  # leave the admin's language as the other journeys expect
    ctx.close()
    assert found == [], "\n".join(found)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize(("locale", "width", "height"), SIZES)
def test_public_text_is_formatted(
    browser: Any, live_server: str, shots: Path, locale: str, width: int, height: int
) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale, reduced_motion="reduce")
    page = ctx.new_page()
    found: list[str] = []
    for name, path in _public_screens(page, live_server):
        page.goto(f"{live_server}{_with_lang(path, locale)}")
        page.wait_for_load_state("networkidle")
        if name == "widget":
            _open_widget(page)
            # The widget speaks the page's language and greets a first-time visitor with what to do.
            assert page.locator(".kefu-root").get_attribute("lang") == locale
            page.locator(".kefu-greeting").first.wait_for()
        found += [f"{name}: {f}" for f in findings(page.evaluate(_TEXT))] + _overflow(page, name)
        # Spam-trap fields are off screen (an English "Website" box showed on the zh help centre's forms).
        if page.evaluate("[...document.querySelectorAll('.hp')].some(el => el.getBoundingClientRect().right > 0)"):
            found.append(f"{name}: the spam-trap field is on screen")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=name != "widget")
    ctx.close()
    assert found == [], "\n".join(found)


def test_bulk_action_without_a_ticked_ticket_says_what_to_do(browser: Any, live_server: str, shots: Path) -> None:
    # bypass_csp: wait_for_function evals, which the page's CSP refuses once its first check is false.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en", bypass_csp=True)
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    page.goto(f"{live_server}/console/tickets?view=all&lang=en")
    page.locator("#bulk button[type=submit]").click()
    result = page.locator("#bulk-result")
    result.filter(has_text="Tick the tickets").wait_for()
    assert "error" in (result.get_attribute("class") or "")
    page.screenshot(path=str(shots / "bulk-none.png"))
    # With a ticket ticked the action goes through and the message is no longer an error.
    page.locator('input[name="ticket_ids"]').first.check()
    page.locator("#bulk-action").select_option("tag")
    page.locator('.bulk-value[data-for="tag"]').fill("polish-check")
    page.locator("#bulk button[type=submit]").click()
    page.wait_for_function("!document.getElementById('bulk-result').classList.contains('error')")
    page.goto(f"{live_server}/console?lang=zh-TW")
    ctx.close()
