"""Phone numbers compared as digits: 0912-345-678, 0912345678 and +886 912 345 678 are one number."""

from __future__ import annotations

import re

from kefu.core.errors import InvalidInput

PHONE_MAX = 64  # characters of Customer.phone and Callback.phone
KEY_MAX = 32  # characters of their phone_key columns (E.164 numbers have at most 15 digits)
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


def check_phone(value: str | None) -> None:
    """The one rule for a number kefu stores (customers, call-backs, every channel): 422 when it is longer than the
    columns hold or its digits would not fit the key; one with too few digits is kept as typed and never keyed."""
    if not value:
        return
    key = phone_key(value)
    if len(value) > PHONE_MAX or (key is not None and len(key) > KEY_MAX):
        # PostgreSQL refused the row at flush (varchar overflow) and SQLite stored it: both now refuse it here.
        raise InvalidInput.said("err_customers_phone_too_long", digits=KEY_MAX - 1)
