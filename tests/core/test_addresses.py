"""One e-mail address rule (`kefu.core.addresses.is_email`) and a scan that keeps it the only one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kefu.core.addresses import is_email

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
# Modules whose patterns *find* addresses inside free text (masking, the LLM guard) or parse our own Message-IDs;
# they are not validators of a typed address.
FINDERS = {"privacy/pii.py", "llm/guard.py", "channels/email/tokens.py"}


@pytest.mark.parametrize(
    "address",
    ["a@b.co", "first.last+tag@example.com.tw", "用户@例子.中国", "o'brien@x.io", "x@sub-domain.example.org", "A@B.CO"],
)
def test_accepts_real_addresses(address: str) -> None:
    assert is_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "a@b",
        "a@b.co\n",  # `$` in the old patterns let a trailing newline through
        "a@b.co\r\nBcc: x@y.z",
        "a b@c.de",
        "a,b@c.de",  # a comma would add a recipient to a header
        "<a@b.co>",
        '"a"@b.co',
        "a@@b.co",
        "a@b@c.co",
        ".a@b.co",
        "a.@b.co",
        "a..b@c.de",
        "a@b..co",
        "a@-b.co",
        "a@b-.co",
        "a@b_c.de",
        "a@1.2",
        "a" * 65 + "@b.co",
        "a@" + "b" * 250 + ".co",
    ],
)
def test_refuses_what_is_not_one_address(address: str) -> None:
    assert not is_email(address)


def test_no_other_module_writes_its_own_address_pattern() -> None:
    """A hand-written `x@y.z` pattern elsewhere is a second rule that drifts from this one (five did)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in FINDERS or rel == "core/addresses.py" or "migrations" in rel:
            continue
        for m in re.finditer(r"re\.compile\(\s*r?[\"']([^\"']*)", path.read_text(encoding="utf-8")):
            if re.search(r"@.*\\\.", m.group(1)):  # an "@" then a literal dot: the shape of x@y.z
                found.append(f"{rel}: {m.group(1)[:40]}")
    assert found == []
