"""Locale tables: every key in every locale, each Chinese table in its own script, mainland wording in zh-CN."""

from __future__ import annotations

import re

import pytest

from kefu.analytics.metrics import all_metrics
from kefu.bot.emotion import LABELS
from kefu.brands.models import CHANNEL_KINDS
from kefu.core.chinese import converter
from kefu.web.i18n import LOCALES, STRINGS, STRINGS3, ZH_CN, channel_label, emotion_label, translator
from kefu.web.strings_admin import STRINGS3 as ADMIN_STRINGS
from kefu.web.strings_casework import STRINGS3 as CASEWORK_STRINGS
from kefu.web.strings_desk import STRINGS3 as DESK_STRINGS
from kefu.web.strings_loop3 import STRINGS3 as LOOP3_STRINGS
from kefu.web.strings_portal import STRINGS3 as PORTAL_STRINGS
from kefu.web.strings_tickets import STRINGS3 as TICKET_STRINGS

_PLACEHOLDER = re.compile(r"\{\w*\}")
# Standard Taiwan characters that OpenCC's s2t, being one-to-many, rewrites to a rarer form in context
# (台→臺, 分布→分佈, 儀表板→儀錶板, 稽核→稽覈); they are not Simplified-only.
_SHARED = frozenset("台布表核")


def _traditional_only(text: str) -> list[str]:
    """Characters OpenCC would simplify (so they do not belong in zh-CN text)."""
    simplified = converter("t2s").convert(text)
    return [a for a, b in zip(text, simplified, strict=True) if a != b]


def _simplified_only(text: str) -> list[str]:
    """Characters OpenCC would make Traditional (so they do not belong in zh-TW text)."""
    traditional = converter("s2t").convert(text)
    return [a for a, b in zip(text, traditional, strict=True) if a != b and a not in _SHARED]


def test_every_key_in_every_locale() -> None:
    """No locale falls back silently: the zh-CN table has exactly the zh-TW/en keys, all non-empty."""
    assert set(ZH_CN) == set(STRINGS)
    every_key = (
        set(STRINGS)
        | set(STRINGS3)
        | set(TICKET_STRINGS)
        | set(DESK_STRINGS)
        | set(ADMIN_STRINGS)
        | set(PORTAL_STRINGS)
        | set(CASEWORK_STRINGS)
        | set(LOOP3_STRINGS)
    )  # the 3-locale tables carry all three already
    for locale in LOCALES:
        table = translator(locale)
        assert set(table) == every_key, locale
        assert all(v.strip() for v in table.values()), locale


def test_placeholders_match_across_locales() -> None:
    """A {placeholder} in one locale is in all of them."""
    for key in translator("en"):
        found = {loc: sorted(_PLACEHOLDER.findall(translator(loc)[key])) for loc in LOCALES}
        assert found["zh-CN"] == found["zh-TW"] == found["en"], (key, found)


def test_zh_cn_has_no_traditional_characters() -> None:
    """zh-CN strings are already Simplified (t2s leaves them unchanged)."""
    bad = {k: _traditional_only(v) for k, v in translator("zh-CN").items() if _traditional_only(v)}
    assert bad == {}


def test_zh_tw_has_no_simplified_characters() -> None:
    """zh-TW strings use no Simplified-only character."""
    bad = {k: _simplified_only(v) for k, v in translator("zh-TW").items() if _simplified_only(v)}
    assert bad == {}


@pytest.mark.parametrize(
    ("key", "wording"),
    [
        ("an_definitions", "指标定义"),
        ("logout", "退出登录"),
        ("nav_inbox", "收件箱"),
        ("identities", "渠道身份"),
        ("an_apply", "应用"),
        ("search", "搜索"),
        ("an_metric", "指标"),
    ],
)
def test_mainland_wording(key: str, wording: str) -> None:
    """Findings from the walk-through: the Taiwan term or the mis-conversion is gone."""
    assert translator("zh-CN")[key] == wording


def test_channel_and_emotion_labels() -> None:
    """Raw kinds and English emotion names are not shown to Chinese readers."""
    assert channel_label("web_chat", "zh-CN") == "网页客服"
    assert channel_label("web_chat", "zh-TW") == "網頁客服"
    assert channel_label("web_chat", "en") == "Web chat"
    assert channel_label("carrier_pigeon", "en") == "carrier_pigeon"
    for label in LABELS:
        for locale in ("zh-TW", "zh-CN"):
            assert emotion_label(label, locale) != label, (label, locale)
    assert emotion_label("neutral", "zh-CN") == "平静"


def test_metric_labels_and_definitions_per_locale() -> None:
    """Dashboard metric names/definitions: written zh-CN text, right script, never the zh-TW text converted."""
    for m in all_metrics():
        for text in (m.label("zh-CN"), m.definition("zh-CN")):
            assert text and not _traditional_only(text), (m.key, text)
        for text in (m.label("zh-TW"), m.definition("zh-TW")):
            assert not _simplified_only(text), (m.key, text)
        assert "指针" not in m.label("zh-CN") + m.definition("zh-CN")


def test_report_phrases_written_for_zh_cn() -> None:
    """Report prose: each zh-CN phrase is Simplified, each source phrase Traditional; data is left as stored."""
    from kefu.analytics.metrics import REPORT_ZH_CN, localize

    for tw, cn in REPORT_ZH_CN.items():
        assert not _simplified_only(tw) and not _traditional_only(cn), (tw, cn)
    assert localize("期間: 2026-11 · 平均解決時間 1.5 小時", "zh-CN") == "期间: 2026-11 · 平均解决时间 1.5 小时"
    assert localize("每週客服服務報告", "zh-CN") == "每周客服服务报告"
    assert localize("1–4 小時 · 陳美玲", "zh-CN") == "1–4 小时 · 陳美玲"  # a person's name is not rewritten


def test_templates_show_no_raw_channel_kinds() -> None:
    """Templates render channel kinds through the ch_* labels (raw kinds stay in attributes only)."""
    from pathlib import Path

    import kefu.web

    raw = re.compile(r">\{\{\s*(?!t\.)[\w.]+\.(channel|kind)\s*\}\}<")
    root = Path(kefu.web.__file__).parent / "templates"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.html") if raw.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert all(f"ch_{kind}" in STRINGS for kind in CHANNEL_KINDS)


def test_no_key_is_defined_twice_across_string_tables() -> None:
    """Tables are merged into one namespace: a key in two tables would silently take the later table's text."""
    tables = {
        "STRINGS3": STRINGS3,
        "tickets": TICKET_STRINGS,
        "desk": DESK_STRINGS,
        "admin": ADMIN_STRINGS,
        "portal": PORTAL_STRINGS,
        "casework": CASEWORK_STRINGS,
        "loop3": LOOP3_STRINGS,
    }
    seen: dict[str, str] = {}
    clashes = []
    for name, table in tables.items():
        for key in table:
            if key in seen:
                clashes.append(f"{key}: {seen[key]} and {name}")
            seen[key] = name
    assert clashes == []
