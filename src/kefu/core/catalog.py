"""UI strings from the gettext catalogs in src/kefu/locale (one `messages` domain, symbolic keys as message ids).

The .po files are the source of truth and are read with Babel when first needed (no compiled .mo to go stale).
Each locale's msgstr is written by hand for its readers: zh-CN is not converted from zh-TW.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
LOCALES = ("zh-TW", "zh-CN", "en")
DEFAULT_LOCALE = "zh-TW"
# Our locale tags -> gettext directory names (and Babel/CLDR locale identifiers for formatting).
GETTEXT_DIRS = {"zh-TW": "zh_TW", "zh-CN": "zh_CN", "en": "en"}
CLDR_LOCALES = {"zh-TW": "zh_Hant_TW", "zh-CN": "zh_Hans_CN", "en": "en"}


def po_path(locale: str, domain: str = DOMAIN) -> Path:
    """Where a locale's catalog lives."""
    return LOCALE_DIR / GETTEXT_DIRS[locale] / "LC_MESSAGES" / f"{domain}.po"


def read_catalog(path: Path) -> dict[str, str]:
    """One .po file as {msgid: msgstr} (header and obsolete entries left out)."""
    with path.open("rb") as fh:
        catalog = read_po(fh, abort_invalid=True)
    return {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.id, str)}


@lru_cache(maxsize=len(LOCALES))
def table(locale: str) -> dict[str, str]:
    """All strings of a locale (unknown locales get zh-TW)."""
    return read_catalog(po_path(locale if locale in LOCALES else DEFAULT_LOCALE))


def gettext(key: str, locale: str) -> str:
    """One string in a locale; a missing key shows the key (the catalog test keeps that from shipping)."""
    return table(locale).get(key, key)


@lru_cache(maxsize=64)
def section(locale: str, prefix: str) -> dict[str, str]:
    """The entries whose key starts with `prefix`, keyed without it (a page's or a component's own strings)."""
    return {k.removeprefix(prefix): v for k, v in table(locale).items() if k.startswith(prefix)}
