"""Console strings of the LLM assist panel (llm_* in the gettext catalogs, written for each locale)."""

from __future__ import annotations

from kefu.core import catalog


def ui(locale: str) -> dict[str, str]:
    """Strings for a console locale (zh-TW when unknown): the catalogs' llm_* entries."""
    return catalog.section(locale if locale in catalog.LOCALES else catalog.DEFAULT_LOCALE, "llm_")
