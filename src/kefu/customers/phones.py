"""Phone numbers compared as digits: 0912-345-678, 0912345678 and +886 912 345 678 are one number."""

from __future__ import annotations

import re

_PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]{6,}$")
# Taiwan's country code: an international +886 9xx… is the national 09xx… (the leading 0 is the trunk prefix).
_HOME_COUNTRY = "886"


def phone_key(value: str | None) -> str | None:
    """Digits-only national form of a phone number (None when it holds too few digits to be one)."""
    if not value:
        return None
    raw = value.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    international = raw.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if international and digits.startswith(_HOME_COUNTRY):
        digits = "0" + digits[len(_HOME_COUNTRY) :].lstrip("0")
    elif international:
        digits = "+" + digits
    return digits if sum(ch.isdigit() for ch in digits) >= 6 else None


def looks_like_phone(q: str) -> bool:
    """True when a query is written like a phone number (digits with spaces, dashes, dots, brackets, a leading +)."""
    return bool(_PHONE_LIKE.match(q.strip())) and phone_key(q) is not None
