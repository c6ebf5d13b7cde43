"""One rule for what counts as an e-mail address, wherever one is typed: agents, board contacts, custom fields,
report recipients.

Hand-written rather than the email-validator package: kefu only needs the syntax check (no DNS, no
normalisation), and the rule must refuse what could split or extend a mail header (commas, angle brackets,
quotes, control characters, a trailing newline) while accepting internationalised addresses (RFC 6531)."""

from __future__ import annotations

import re

MAX_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets
# Local part: no whitespace, control characters or header punctuation; dots only between characters.
_LOCAL = r"[^\s\x00-\x1f\x7f@<>()\[\]\\,;:\".]+(?:\.[^\s\x00-\x1f\x7f@<>()\[\]\\,;:\".]+)*"
# Domain: at least two labels of letters/digits (any script) and inner hyphens, the last one not all digits.
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
_ADDRESS = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+(?!\d+\Z){_LABEL}")


def is_email(value: str) -> bool:
    """True when `value` (as given: no surrounding whitespace) is one plausible e-mail address."""
    if len(value) > MAX_LENGTH or value.count("@") != 1:
        return False
    return len(value.partition("@")[0]) <= 64 and _ADDRESS.fullmatch(value) is not None
