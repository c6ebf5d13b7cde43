"""Names and descriptions the install seeds (membership tiers, SLA policies, categories, demo teams), per reader.

A seeded row stores its text once, in one language. While that text is still the seed's — its catalog entry in
any locale, or one of the texts older installs stored (`originals`) — a reader sees the catalog entry written for
their own locale (一般會員 · 普通会员 · Regular member). Once an admin rewrites it, it is the brand's own wording and
is shown as typed; zh-CN readers get it in Simplified script (only the script can change, as in bilingual labels).
Every seeded display name goes through `seed_text`: one place decides when a stored name is still the seed's.
"""

from __future__ import annotations

from collections.abc import Iterable

from kefu.core.catalog import LOCALES, table
from kefu.core.chinese import convert


def is_seed_text(msgid: str, stored: str | None, originals: Iterable[str] = ()) -> bool:
    """True while `stored` is still the seed's text: its catalog entry in some locale, or one of `originals`."""
    if not stored:
        return False
    text = stored.strip()
    return any(table(loc).get(msgid) == text for loc in LOCALES) or text in {o.strip() for o in originals}


def seed_text(msgid: str, stored: str | None, locale: str, originals: Iterable[str] = ()) -> str:
    """`stored` for a reader of `locale`: the catalog's `msgid` entry while it is the seed's text, else as typed."""
    if is_seed_text(msgid, stored, originals):
        written = table(locale).get(msgid)
        if written:
            return written
    return own_text(stored, locale)


def own_text(stored: str | None, locale: str) -> str:
    """A brand's own wording for a reader: as typed, in Simplified script for zh-CN readers."""
    text = stored or ""
    return convert(text, "tw2sp") if locale == "zh-CN" else text
