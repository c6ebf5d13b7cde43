"""Searching people: the `?q=` rule for every list that matches names, emails or phone numbers.

With `pii:reveal` a query matches literally anywhere (LIKE metacharacters escaped). Without it, a search may find a
person only by a value the agent already knows in full (exact name/email/phone) — never by a fragment, since a
fragment search answers "does the hidden part start with 0912…?" one digit at a time. Free-text columns
(subjects) are matched by fragment only when the query does not look like personal data. Phone numbers are also
compared as digits (`phone_keys` columns), whole numbers only: 0912-345-678, 0912345678 and +886 912 345 678 match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_

from kefu.auth.permissions import Principal
from kefu.core.like import contains, icontains
from kefu.customers.phones import looks_like_phone, phone_key
from kefu.privacy.masking import can_reveal
from kefu.privacy.pii import find_pii

_PERSONAL_HINT = re.compile(r"@|\d{3,}|\d(?:[\s\-.]?\d){2,}")


def looks_personal(q: str) -> bool:
    """True when a query could be (part of) an email, phone, ID or card number."""
    return bool(_PERSONAL_HINT.search(q)) or bool(find_pii(q))


def person_filter(
    principal: Principal | None,
    q: str,
    *,
    names: Sequence[Any] = (),
    emails: Sequence[Any] = (),
    phones: Sequence[Any] = (),
    texts: Sequence[Any] = (),
    phone_keys: Sequence[Any] = (),
) -> ColumnElement[bool]:
    """The WHERE condition of a `?q=` search over personal columns, by the rule above."""
    q = q.strip()
    if not q:
        return false()
    if can_reveal(principal):
        conds = [contains(c, q) for c in (*names, *phones, *texts)] + [icontains(c, q) for c in emails]
    else:
        conds = [c == q for c in (*names, *phones)] + [func.lower(c) == q.lower() for c in emails]
        if not looks_personal(q):
            conds += [contains(c, q) for c in texts]
    # A whole phone number however it is written (digits compared): exact, so it reveals nothing the agent lacks.
    key = phone_key(q) if looks_like_phone(q) else None
    if key:
        conds += [c == key for c in phone_keys]
    return or_(*conds) if conds else false()
