"""Every console and admin screen at 390 px: the page never scrolls sideways (wide tables scroll inside their own
.table-scroll region), each region that can scroll is a named, keyboard-focusable region, and no table cell is
squeezed to a glyph or two a line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_a11y_browser import _console_screens
from tests.web.test_console import _login

# Regions wider than their box: they must take focus and carry a name (axe scrollable-region-focusable).
_UNREACHABLE = """() => [...document.querySelectorAll('.table-scroll')]
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .filter(el => el.tabIndex !== 0 || el.getAttribute('role') !== 'region'
    || !(el.getAttribute('aria-label') || (document.getElementById(el.getAttribute('aria-labelledby') || '')
         || {}).textContent?.trim()))
  .map(el => el.outerHTML.slice(0, 120))"""
# Table cells squeezed to two glyphs or fewer a line over three lines or more (滿意/度調/查): a one-line text's line
# boxes, counted by their tops. Wide tables scroll in their region instead.
_SQUEEZED = """() => [...document.querySelectorAll('th, td')].filter(c => c.children.length <= 1).flatMap(c => {
  const text = c.innerText.trim();
  if (text.length < 3 || text.includes('\\n')) return [];
  const range = document.createRange(); range.selectNodeContents(c);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  return lines >= 3 && text.length / lines <= 2.6 ? [`${text.slice(0, 12)} (${lines} lines)`] : [];
}).slice(0, 4)"""
# What sticks out past the right edge, for the failure message.
_WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 3).map(el => el.tagName.toLowerCase() + '.' + [...el.classList].join('.'))"""


def test_console_screens_fit_390px(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    overflow: list[str] = []
    unreachable: list[str] = []
    squeezed: list[str] = []
    for name, path in _console_screens(page, live_server):
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        inner = page.evaluate("innerWidth")
        if width > inner + 1:
            overflow.append(f"{name}: scrollWidth {width} > {inner} ({page.evaluate(_WIDEST)})")
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        unreachable += [f"{name}: {html}" for html in page.evaluate(_UNREACHABLE)]
        squeezed += [f"{name}: {cell}" for cell in page.evaluate(_SQUEEZED)]
    ctx.close()
    assert overflow == [], "\n".join(overflow)
    assert unreachable == [], "\n".join(unreachable)
    assert squeezed == [], "\n".join(squeezed)
