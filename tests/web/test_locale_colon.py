"""A label's colon comes from the catalog (`colon`: full-width in Chinese, ": " in English), never from a template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader

from kefu.web.i18n import translator

TEMPLATES = Path(__file__).parents[2] / "src" / "kefu" / "web" / "templates"
# A label followed by an ASCII colon ("{{ t.x }}: ") or a locale test choosing the colon: both wrote zh pages wrong
# or twice (the case history, the portal thank-you page, the care outcome line, the analytics report header).
COPIES = re.compile(r"\}\}: |'：'|\"：\"")


def test_no_template_writes_its_own_colon() -> None:
    found = [
        f"{path.relative_to(TEMPLATES)}:{n}"
        for path in TEMPLATES.rglob("*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if COPIES.search(line)
    ]
    assert found == []


@pytest.mark.parametrize(("locale", "expected"), [("zh-TW", "案件編號："), ("zh-CN", "："), ("en", ": ")])
def test_thank_you_page_colon_follows_the_locale(locale: str, expected: str) -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    src = env.loader.get_source(env, "portal/thanks.html")[0]  # type: ignore[union-attr]
    line = next(x for x in src.splitlines() if "ticket-number" in x)
    t = translator(locale)
    html = env.from_string(line).render(t=t, number="T-1", locale=locale)
    assert f"{t['case_number']}{t['colon']}<strong" in html and expected in html
    assert ("：" in html) == (locale != "en")
