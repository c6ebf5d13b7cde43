"""UI strings for templates and pages: the gettext catalogs in src/kefu/locale, read through kefu.core.catalog.

zh-TW, zh-CN and en are each written by hand (no Traditional→Simplified conversion); tests/web/test_i18n_tables.py
checks that every key is in every catalog, placeholders agree and each Chinese catalog is in its own script.
How to add a string: docs/DEVELOPING.md ("UI strings").

Dict tables (src/kefu/web/strings_*.py, values (zh-TW, zh-CN, en)) are still merged for keys the catalogs lack,
so a branch that adds one keeps working until scripts/strings_to_po.py moves it into the catalogs; a test fails
while any such table is left.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

import kefu.web
from kefu.core.catalog import DEFAULT_LOCALE, LOCALES, table

__all__ = ["LOCALES", "channel_label", "emotion_label", "leftover_tables", "pick_locale", "translator"]


def leftover_tables() -> dict[str, dict[str, tuple[str, str, str]]]:
    """Dict string tables not yet converted into the catalogs, by module name."""
    found: dict[str, dict[str, tuple[str, str, str]]] = {}
    for info in pkgutil.iter_modules(kefu.web.__path__):
        if info.name.startswith("strings_"):
            module = importlib.import_module(f"kefu.web.{info.name}")
            merged: dict[str, tuple[str, str, str]] = {}
            for name, value in vars(module).items():
                if name.isupper() and isinstance(value, dict):
                    merged |= value
            found[info.name] = merged
    return found


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict[str, str]]:
    tables = {loc: dict(table(loc)) for loc in LOCALES}
    for entries in leftover_tables().values():
        for key, texts in entries.items():
            for loc, text in zip(LOCALES, texts, strict=True):
                tables[loc].setdefault(key, text)
    return tables


def pick_locale(requested: str | None, fallback: str | None) -> str:
    """First supported locale among the request and the agent's preference (default zh-TW)."""
    for cand in (requested, fallback):
        if cand in LOCALES:
            return str(cand)
    return DEFAULT_LOCALE


def translator(locale: str) -> dict[str, str]:
    """String table for a locale (templates use t.key, t['key'] and t.get(key, default))."""
    return _tables()[locale if locale in LOCALES else DEFAULT_LOCALE]


def channel_label(kind: str, locale: str) -> str:
    """A channel kind as users call it (unknown kinds are shown as they are)."""
    return translator(locale).get(f"ch_{kind}", kind)


def emotion_label(label: str, locale: str) -> str:
    """An emotion label from kefu.bot.emotion.LABELS in the reader's language."""
    return translator(locale).get(f"emo_{label}", label)
