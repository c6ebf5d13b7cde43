"""The emotion lexicon is package data (emotion_lexicon.toml), validated when it loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kefu.bot import emotion

ROOT = Path(__file__).resolve().parents[2]


def test_lexicon_loads_every_script_and_category() -> None:
    assert set(emotion._DATA) == {"zh", "en", "symbols", "caps"}
    assert emotion._Cat.THREAT in emotion._ZH and emotion._Cat.THREAT in emotion._EN
    assert emotion._ZH[emotion._Cat.THREAT][2.2] == ("投诉", "客诉")
    assert "VIP" in emotion._CAPS_ALLOW and "REFUND" in emotion._SHOUTED
    tables = (emotion._ZH, emotion._EN, emotion._SYMBOLS)
    expected = sum(len(terms) for table in tables for by_weight in table.values() for terms in by_weight.values())
    assert len(emotion._LEX.entries) == expected > 700  # every entry compiled, none silently dropped


def test_a_malformed_table_is_an_error_not_a_skip() -> None:
    with pytest.raises(ValueError, match=r"unknown category \[zh.rage\]"):
        emotion._table({"zh": {"rage": {"1.0": ["x"]}}}, "zh")
    with pytest.raises(ValueError, match="must be a list of strings"):
        emotion._table({"en": {"anger": {"1.0": "mad"}}}, "en")


def test_the_lexicon_ships_in_the_wheel() -> None:
    """pyproject's package-data globs cover the data file (a wheel without it would fail at import)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = data["tool"]["setuptools"]["package-data"]["kefu"]
    rel = Path("bot") / emotion.LEXICON_FILE
    assert (ROOT / "src" / "kefu" / rel).is_file()
    assert any(rel.match(g.replace("**/", "")) or Path(*rel.parts[1:]).match(g.replace("**/", "")) for g in globs)
