"""Locale tables: every key in every locale, each Chinese table in its own script, mainland wording in zh-CN."""

from __future__ import annotations

import re

import pytest

from kefu.analytics.metrics import all_metrics
from kefu.bot.emotion import LABELS
from kefu.brands.models import CHANNEL_KINDS
from kefu.core.catalog import po_path, read_catalog, table
from kefu.core.chinese import converter
from kefu.web.i18n import LOCALES, channel_label, emotion_label, leftover_tables, translator

# A field by name: `{key!r}` in English and `「{key}」` in Chinese are the same field ({{ }} is a literal brace).
_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)(?:![rsa])?(?::[^{}]*)?\}")
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
    """No locale falls back silently: the three catalogs have the same keys, every msgstr non-empty."""
    keys = {loc: set(table(loc)) for loc in LOCALES}
    assert keys["zh-TW"], "catalogs are empty"
    assert keys["zh-CN"] == keys["zh-TW"] == keys["en"], {loc: sorted(keys["zh-TW"] ^ keys[loc]) for loc in LOCALES}
    for locale in LOCALES:
        empty = [k for k, v in table(locale).items() if not v.strip()]
        assert empty == [], (locale, empty)


def test_no_key_is_defined_twice_in_a_catalog() -> None:
    """Babel keeps the last of two equal msgids silently, so the raw files are checked."""
    for locale in LOCALES:
        ids = re.findall(r'^msgid "(.+)"$', po_path(locale).read_text(encoding="utf-8"), flags=re.MULTILINE)
        assert len(ids) == len(set(ids)), (locale, sorted({i for i in ids if ids.count(i) > 1}))


def test_no_dict_string_table_is_left() -> None:
    """src/kefu/web/strings_*.py tables are merged at run time only as a stop-gap: convert them into the catalogs."""
    assert leftover_tables() == {}, "run .venv/bin/python scripts/strings_to_po.py"


def test_translator_reads_the_catalogs() -> None:
    """Templates see exactly the catalog text."""
    for locale in LOCALES:
        assert translator(locale) == read_catalog(po_path(locale))
    assert translator("fr") == translator("zh-TW")


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
        ("cs_fields", "工单信息"),
        ("widget_contact", "邮箱或电话"),
        ("bot_qr_human", "人工客服"),
        ("cat_general", "一般咨询"),
        ("cat_regulator_letter", "监管部门来函"),
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
    # Every channel a ticket can carry, a typed-in letter included (it has no inbox, so CHANNEL_KINDS leaves it out).
    from kefu.core.enums import ChannelKind

    assert {str(k) for k in ChannelKind} >= set(CHANNEL_KINDS)
    missing = [(loc, k) for loc in ("zh-TW", "zh-CN", "en") for k in ChannelKind if f"ch_{k}" not in translator(loc)]
    assert missing == []
    # A customer's channel identities are labelled the same way (the widget visitor's kind `web` read as "web").
    from kefu.customers.schemas import IDENTITY_KINDS_PATTERN

    kinds = IDENTITY_KINDS_PATTERN.strip("^$()").split("|")
    assert [(loc, k) for loc in ("zh-TW", "zh-CN", "en") for k in kinds if f"ch_{k}" not in translator(loc)] == []


def test_category_labels_are_written_for_zh_cn() -> None:
    """Default ticket categories read as mainland users write them; a brand's own label keeps its wording."""
    from kefu.tickets.classify import DEFAULT_CATEGORIES
    from kefu.tickets.service import category_label

    for seed in DEFAULT_CATEGORIES:
        cn = category_label(seed.key, seed.label_zh, seed.label_en, "zh-CN")
        assert cn == translator("zh-CN")[f"cat_{seed.key}"] and not _traditional_only(cn), seed.key
        assert translator("zh-TW")[f"cat_{seed.key}"] == seed.label_zh
        assert category_label(seed.key, seed.label_zh, seed.label_en, "zh-TW") == seed.label_zh
        assert category_label(seed.key, seed.label_zh, seed.label_en, "en") == seed.label_en
    assert category_label("general", "一般諮詢", "General inquiry", "zh-CN") == "一般咨询"
    assert category_label("vip_care", "貴賓服務", "VIP care", "zh-CN") == "贵宾服务"


# Taiwan words that OpenCC's character conversion carries over unchanged into Simplified script, where mainland
# readers use another word (登出→退出登录, 收件匣→收件箱, 套用→应用, 管道→渠道, 身分→身份, 訊息→消息, 帳號→账号 …).
_TAIWAN_TERMS = (
    "登出",
    "收件匣",
    "套用",
    "管道",
    "身分",
    "點選",
    "預設",
    "檔案",
    "訊息",
    "帳號",
    "網路",
    "軟體",
    "儲存",
    "回饋",
    "搜尋",
    "資訊",
    "列印",
    "螢幕",
    "伺服器",
    "連結",
    "即時",
    "透過",
    "專案",
    "簡訊",
    "登入",
    "影片",
    "介面",
    "滑鼠",
    "行事曆",
)


def test_zh_cn_is_not_a_character_conversion_of_taiwan_wording() -> None:
    """A zh-TW string's Taiwan-only word must not reappear in zh-CN merely converted to Simplified characters."""
    cn = translator("zh-CN")
    found = []
    for key, tw in translator("zh-TW").items():
        for term in _TAIWAN_TERMS:
            if term in tw and converter("t2s").convert(term) in cn[key]:
                found.append(f"{key}: {term} -> {cn[key]}")
    assert found == []
