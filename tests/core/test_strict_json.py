"""`strict_json` refuses a lone surrogate wherever it sits, and walks the value only when the text can hold one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kefu.core import textrules
from kefu.core.textrules import strict_json

LONE = {
    "high in a value": r'{"a": "\ud800"}',
    "low in a value": r'{"a": "x\udfffy"}',
    "upper-case hex": r'{"a": "\uDBFF"}',
    "mixed-case hex": r'{"a": "\uDc00"}',
    "high in a key": r'{"\ud83d": 1}',
    "low in a key": r'{"\uDE00k": 1}',
    "nested value": r'{"a": [1, {"b": ["ok", [null, "\ud801"]]}]}',
    "nested key": r'[{"a": {"b": [{"\udc00": 2}]}}]',
    "a pair the wrong way round": r'"\ude00\ud83d"',
    "a high one before a non-surrogate": r'{"a": "\ud83d\u0041"}',
    "a high one at the end of a string": r'{"a": "\ud83d", "b": "\ude00"}',
}


@pytest.mark.parametrize("case", sorted(LONE))
@pytest.mark.parametrize("as_bytes", [True, False])
def test_an_escaped_lone_surrogate_is_refused(case: str, as_bytes: bool) -> None:
    body = LONE[case]
    with pytest.raises(json.JSONDecodeError, match="lone surrogate"):
        strict_json(body.encode() if as_bytes else body)


def test_a_surrogate_character_in_a_str_is_refused_without_any_escape() -> None:
    """A str the caller decoded may hold the character itself (UTF-8 bytes cannot)."""
    for body in ('{"a": "\ud800"}', '{"\udc00": [1]}', '{"a": ["\ud83d\ude00"]}'):
        with pytest.raises(json.JSONDecodeError, match="lone surrogate"):
            strict_json(body)


@pytest.mark.parametrize("as_bytes", [True, False])
def test_escaped_pairs_and_an_escaped_backslash_pass(as_bytes: bool) -> None:
    body = r'{"\ud83d\ude00": ["\uD83D\uDE00", {"k": "a\ud83d\ude00b"}], "path": "C:\\ud800"}'
    value = strict_json(body.encode() if as_bytes else body)
    assert value == {"😀": ["😀", {"k": "a😀b"}], "path": "C:\\ud800"}


def test_the_value_is_walked_only_when_the_text_has_such_an_escape(monkeypatch: Any) -> None:
    walked: list[Any] = []
    real = textrules.lone_surrogate
    monkeypatch.setattr(textrules, "lone_surrogate", lambda v: walked.append(v) or real(v))
    body = {"subject": "訂單還沒收到", "tags": ["物流"], "custom_fields": {"店": "台北"}, "n": 1}
    for text in (json.dumps(body, ensure_ascii=False), json.dumps(body)):  # raw UTF-8, and \uXXXX escapes
        assert strict_json(text.encode()) == body and walked == []
    assert strict_json(json.dumps({"e": "😀"}).encode()) == {"e": "😀"}  # \ud83d\ude00: walked, and passes
    assert walked[0] == {"e": "😀"}
