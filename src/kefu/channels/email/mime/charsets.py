"""Charsets: decoding bytes whose declared charset is missing, wrong or a legacy subset."""

from __future__ import annotations

import codecs
from collections.abc import Callable

# Labels seen in the wild that Python's codec registry does not know, or that mean "unknown".
_CHARSET_ALIASES: dict[str, str] = {
    "x-gbk": "gbk",
    "x-euc-cn": "gb2312",
    "cn-gb": "gb2312",
    "cn-big5": "big5",
    "x-x-big5": "big5",
    "x-big5": "big5",
    "big-5": "big5",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "default": "",
}

# Chinese mailers label text with the legacy charset but routinely emit characters that only
# exist in its superset (GBK-only hanzi in "gb2312" mail, HKSCS / Microsoft extensions in "big5").
_CHARSET_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "cp950": ("cp950", "big5hkscs"),
    "big5hkscs": ("big5hkscs", "cp950"),
    "ascii": ("utf-8",),
    "euc_kr": ("cp949",),
}

# Scoring the whole of a large body is pointless; this many non-ASCII characters decide it.
_GUESS_SAMPLE = 4000


def _candidate_codecs(charset: str | None) -> list[str]:
    if not charset:
        return []
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name or not name.isascii():
        return []
    try:
        canonical = codecs.lookup(name).name
    except (LookupError, ValueError):
        return []
    result: list[str] = []
    for codec in (*_CHARSET_SUPERSETS.get(canonical, ()), canonical):
        if codec not in result:
            result.append(codec)
    return result


def _non_ascii_sample(text: str) -> list[str]:
    sample: list[str] = []
    for ch in text:
        if ord(ch) > 0x7F:
            sample.append(ch)
            if len(sample) >= _GUESS_SAMPLE:
                break
    return sample


def _gb_score(text: str) -> float:
    """Share of non-ASCII characters inside GB2312 (the ~7,000 everyday simplified hanzi)."""
    sample = _non_ascii_sample(text)
    if not sample:
        return 1.0
    hits = 0
    for ch in sample:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        hits += 1
    return hits / len(sample)


def _big5_score(text: str) -> float:
    """Share of non-ASCII characters in Big5's symbol + frequent-hanzi rows (lead bytes A1-C6)."""
    sample = _non_ascii_sample(text)
    if not sample:
        return 1.0
    hits = 0
    for ch in sample:
        try:
            encoded = ch.encode("cp950")
        except UnicodeEncodeError:
            continue
        if len(encoded) == 2 and 0xA1 <= encoded[0] <= 0xC6:
            hits += 1
    return hits / len(sample)


def _guess_cjk(data: bytes) -> str | None:
    # Big5 bytes usually also decode as GB18030 (and vice versa) into rare-character garbage, so
    # we decode both ways and keep the reading made of common characters.
    best: str | None = None
    best_score = -1.0
    scorers: tuple[tuple[str, Callable[[str], float]], ...] = (
        ("gb18030", _gb_score),
        ("cp950", _big5_score),
        ("big5hkscs", _big5_score),
    )
    for codec, scorer in scorers:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = scorer(text)
        if score > best_score:
            best, best_score = text, score
    return best


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode text bytes, tolerating wrong or missing charset labels common in Chinese mail."""
    if not data:
        return ""
    candidates = _candidate_codecs(charset)
    for codec in [*candidates, "utf-8"]:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    guessed = _guess_cjk(data)
    if guessed is not None:
        return guessed
    fallback = candidates[0] if candidates else "utf-8"
    try:
        return data.decode(fallback, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")
