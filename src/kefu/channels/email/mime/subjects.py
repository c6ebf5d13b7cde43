"""Ticket numbers and subjects: finding [KF-000123] tags and building Re: subjects."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from kefu.channels.email.mime.headers import _CONTROL_RE


@lru_cache(maxsize=32)
def _ticket_regex(prefix_pattern: str) -> re.Pattern[str]:
    return re.compile(
        r"[\[【]\s*#?\s*((?:" + prefix_pattern + r")\s*[-_]?\s*[0-9]+)\s*[\]】]",
        re.IGNORECASE,
    )


def extract_ticket_number(subject: str | None, prefix_pattern: str = "KF") -> str | None:
    """Return the bracketed ticket tag in a subject (``prefix_pattern`` is a regex), e.g. ``"KF-000123"``."""
    if not subject:
        return None
    # NFKC folds full-width brackets, letters, digits and hyphens typed with Chinese input methods.
    match = _ticket_regex(prefix_pattern).search(unicodedata.normalize("NFKC", subject))
    if match is None:
        return None
    return re.sub(r"\s+", "", match.group(1)).upper()


_REPLY_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|回复|回覆|答复|答覆)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)


def reply_subject(subject: str, ticket_tag: str | None = None) -> str:
    """Prefix ``Re: `` exactly once (folding Re:/回复:/回覆: chains) and ensure the ticket tag is kept."""
    base = _CONTROL_RE.sub(" ", subject or "").strip()
    base = _REPLY_PREFIX_RE.sub("", base).strip()
    if ticket_tag:
        tag = ticket_tag.strip().strip("[]")
        if tag and tag.lower() not in base.lower():
            base = f"[{tag}] {base}".strip()
    return f"Re: {base}" if base else "Re:"
