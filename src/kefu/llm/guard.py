"""Checks on model output: every number, link and email address must come from the text the model was given.

A rephrased FAQ answer that changes "7 天" into "30 天" or adds a URL is worse than the FAQ itself, so the bot
uses model output only when it introduces no such fact. Numbers compare by value, so "3 天", "３天", "三天" and
"three days" are the same fact. Chinese numerals count only before a counter word (天, 個, 元…), and a lone 一 or
English "one" is not checked (一點, 一位, "one of our agents" are rarely quantities); "1. 2. 3." step markers at
the start of a line are formatting.
Hand-written: no maintained library extracts numbers across zh-Hant / zh-Hans / English text this way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from kefu.core.chinese import convert

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_ARABIC = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "兩": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "萬": 10_000, "万": 10_000, "億": 100_000_000, "亿": 100_000_000}
_COUNTERS = "天日號号個个小時时分鐘钟秒週周月年元塊块次件位折歲岁倍台張张份箱條条期筆笔間间家趟點点%％"
_CN_NUMBER = re.compile(rf"[零〇一二兩两三四五六七八九十百千萬万億亿]+(?=[{_COUNTERS}])")
_EN_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
}
_LIST_MARKER = re.compile(r"^[ \t]*\d{1,2}[.)、．][ \t]*", re.M)  # "1. …" steps are formatting, not facts
_EN_NUMBER = re.compile(r"\b(" + "|".join(_EN_WORDS) + r")\b", re.I)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()（）【】「」，。、；！？]+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DOMAIN = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:com|net|org|tw|cn|hk|io|co|app|shop|info|me|ly)\b(?:/[^\s，。]*)?", re.I)


def clean_output(text: str) -> str:
    """Model text without reasoning blocks, code fences or wrapping quotes."""
    text = _THINK.sub("", text).strip()
    if text.startswith("```") and text.endswith("```"):
        text = text.strip("`").strip()
    for a, b in (('"', '"'), ("「", "」"), ("“", "”")):
        if len(text) > 2 and text.startswith(a) and text.endswith(b) and a not in text[1:-1]:
            text = text[1:-1].strip()
    return text


def in_script(text: str, locale: str) -> str:
    """Chinese output in the locale's script (models drift between Traditional and Simplified)."""
    if locale == "zh-TW":
        return convert(text, "s2twp")
    if locale == "zh-CN":
        return convert(text, "tw2sp")
    return text


def _cn_value(token: str) -> int | None:
    total = section = digit = 0
    for ch in token:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in ("萬", "万", "億", "亿"):
            total += (section + digit) * _CN_UNITS[ch]
            section = digit = 0
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
    value = total + section + digit
    return value if token else None


def numbers(text: str) -> set[Decimal]:
    """Every number mentioned in `text`, by value."""
    text = _LIST_MARKER.sub("", unicodedata.normalize("NFKC", text))
    found: set[Decimal] = set()
    for m in _ARABIC.finditer(text):
        try:
            found.add(Decimal(m.group().replace(",", "")))
        except InvalidOperation:
            continue
    for m in _CN_NUMBER.finditer(text):
        if m.group() == "一":  # 一點、一位、一次 are mostly "a bit / an / once", like English "one"
            continue
        v = _cn_value(m.group())
        if v is not None:
            found.add(Decimal(v))
    for m in _EN_NUMBER.finditer(text):
        found.add(Decimal(_EN_WORDS[m.group().lower()]))
    return found


def _norm_link(value: str) -> str:
    value = value.lower().rstrip("/.,;:!?")
    value = re.sub(r"^https?://", "", value)
    return value.removeprefix("www.")


def links(text: str) -> set[str]:
    """URLs, bare domains and email addresses in `text`, normalized."""
    text = unicodedata.normalize("NFKC", text)
    found = {_norm_link(m.group()) for m in _URL.finditer(text)}
    found |= {m.group().lower() for m in _EMAIL.finditer(text)}
    without_emails = _EMAIL.sub(" ", _URL.sub(" ", text))
    found |= {_norm_link(m.group()) for m in _DOMAIN.finditer(without_emails)}
    return found


def unsupported(output: str, sources: Iterable[str]) -> list[str]:
    """Numbers and links in `output` that none of `sources` contains (empty = grounded)."""
    src = "\n".join(sources)
    known_numbers = numbers(src)
    known_links = links(src)
    bad = [f"number:{n:f}" for n in sorted(numbers(output) - known_numbers)]
    for link in sorted(links(output)):
        if link not in known_links and not any(k.startswith(link) for k in known_links):  # a shortened link is fine
            bad.append(f"link:{link}")
    return bad
