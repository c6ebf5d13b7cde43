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
import re
from functools import lru_cache
from typing import Protocol

from starlette.requests import Request

import kefu.web
from kefu.core.catalog import DEFAULT_LOCALE, LOCALES, table
from kefu.core.errors import ProblemError

__all__ = [
    "LOCALES",
    "LOCALE_COOKIE",
    "accept_locale",
    "channel_label",
    "emotion_label",
    "error_text",
    "leftover_tables",
    "pick_locale",
    "reader_locale",
    "title_text",
    "translator",
]
LOCALE_COOKIE = "kefu_lang"
# Accept-Language tags -> our locales. Bare "zh" says nothing about the script: it is left to the next choice.
_ACCEPT = {"zh-tw": "zh-TW", "zh-hk": "zh-TW", "zh-mo": "zh-TW", "zh-hant": "zh-TW", "zh-cn": "zh-CN", "zh-sg": "zh-CN"}
_ACCEPT |= {"zh-hans": "zh-CN", "en": "en"}


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


def accept_locale(header: str | None) -> str | None:
    """The supported locale a browser's Accept-Language prefers most (None when it names none of ours)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        bits = tag.strip().lower().replace("_", "-").split("-")
        # zh-Hant-TW, zh-Hans-CN, en-US: script or region decides; the first two parts are enough.
        found = _ACCEPT.get("-".join(bits[:2])) or _ACCEPT.get(bits[0])
        if found and weight > 0:
            ranked.append((-weight, i, found))
    return min(ranked)[2] if ranked else None


def reader_locale(request: Request) -> str | None:
    """The language a request asks for: ?lang=, the page's (forms.js header), the language cookie, Accept-Language."""
    for cand in (
        request.query_params.get("lang"),
        request.headers.get("X-Kefu-Locale"),
        request.cookies.get(LOCALE_COOKIE),
        accept_locale(request.headers.get("accept-language")),
    ):
        if cand in LOCALES:
            return str(cand)
    return None


def translator(locale: str) -> dict[str, str]:
    """String table for a locale (templates use t.key, t['key'] and t.get(key, default))."""
    return _tables()[locale if locale in LOCALES else DEFAULT_LOCALE]


def channel_label(kind: str, locale: str) -> str:
    """A channel kind as users call it (unknown kinds are shown as they are)."""
    return translator(locale).get(f"ch_{kind}", kind)


def emotion_label(label: str, locale: str) -> str:
    """An emotion label from kefu.bot.emotion.LABELS in the reader's language."""
    return translator(locale).get(f"emo_{label}", label)


class _Localized(Protocol):
    """Anything that knows its reader's language (kefu.web.pages.PageContext)."""

    locale: str


def error_text(where: Request | _Localized | str, exc: Exception) -> str:
    """What went wrong, for a page: a ProblemError's detail in the page's language, other errors as they read.

    `where` is the page context (the agent's language), the locale the page renders in, or the request of a form
    without one: then the language of the inline error around it (kefu.web.errors.form_locale).
    """
    if isinstance(where, str):
        locale = where
    elif isinstance(where, Request):
        from kefu.web.errors import form_locale

        locale = form_locale(where)
    else:
        locale = where.locale
    # The one place a page reads a problem's text (tests/web/test_error_text.py keeps it so).
    return exc.detail_in(locale) if isinstance(exc, ProblemError) else str(exc)


def title_text(title: str, locale: str | None) -> str:
    """A problem+json `title` ("Not found", Starlette's "Not Found") in `locale`: catalog `ptitle_<title>`.

    No preference (None) or English keeps the title as raised, as API clients have always read it; a title with no
    catalog entry stays as raised too (tests/web/test_error_text.py names every title kefu raises).
    """
    if locale is None or locale == "en" or locale not in LOCALES:
        return title
    key = "ptitle_" + re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
    return translator(locale).get(key, title)
