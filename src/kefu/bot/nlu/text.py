"""Text normalization and language detection for short customer messages.

One knowledge base serves Traditional and Simplified Chinese: every text is folded to Simplified
(OpenCC ``t2s``), full-width forms become half-width (NFKC) and case is folded, so features never
depend on the script the customer happens to type in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from kefu.core.chinese import converter

__all__ = [
    "LANGUAGES",
    "detect_language",
    "fold_script",
    "fold_scripts",
    "has_han",
    "normalize",
    "normalize_many",
    "script_of",
    "to_simplified",
    "to_traditional",
]

LANGUAGES: Final = ("zh-Hant", "zh-Hans", "en", "other")

# CJK Unified Ideographs + Extension A + compatibility ideographs + Extensions B..F.
_HAN_CLASS: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
HAN_RE: Final = re.compile(f"[{_HAN_CLASS}]")
_KANA_HANGUL_RE: Final = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_ASCII_WORD_RE: Final = re.compile(r"[a-z]+", re.IGNORECASE)
_SPACE_RE: Final = re.compile(r"\s+")
# Zero-width and BOM characters survive NFKC and would split tokens invisibly.
_INVISIBLE_RE: Final = re.compile("[\u200b-\u200f\u2060\ufeff]")

# Simplified variants that both occur for the same word (帳戶 converts to 帐户, mainland writes 账户).
_VARIANT_FOLD: Final = str.maketrans({"帐": "账"})


# English bank terms that Chinese customers mix into a Chinese sentence ("我的credit card被lock住了"), written as
# the Taiwan term they stand for; only texts with Han characters are rewritten (an English message stays English).
# Longer terms first, word-bounded, case-insensitive. Not mapped: words a KB uses as names (ATM, APP, LINE Pay).
_CODE_SWITCH: Final = (
    ("credit cards?", "信用卡"),
    ("debit cards?", "金融卡"),
    ("mobile banking", "行動銀行"),
    ("(?:online|internet) banking", "網路銀行"),
    ("exchange rates?", "匯率"),
    ("interest rates?", "利率"),
    ("accounts?", "帳戶"),
    ("passwords?", "密碼"),
    ("transfers?", "轉帳"),
    ("remittances?", "匯款"),
    ("otp", "驗證碼"),
    ("sms", "簡訊"),
    ("unlock(?:ed)?", "解鎖"),
    ("lock(?:ed)?", "鎖"),
    ("loans?", "貸款"),
    ("refunds?", "退款"),
    ("bills?", "帳單"),
    ("log ?in", "登入"),
    ("cards?", "卡"),
    ("phones?", "手機"),
    ("balance", "餘額"),
    ("deposits?", "存款"),
)
_CODE_SWITCH_RE: Final = re.compile(
    r"(?<![a-z0-9])(" + "|".join(f"(?:{p})" for p, _ in _CODE_SWITCH) + r")(?![a-z0-9])", re.IGNORECASE
)
_CODE_SWITCH_PATTERNS: Final = tuple((re.compile(f"^(?:{p})$", re.IGNORECASE), zh) for p, zh in _CODE_SWITCH)


def _code_switch_term(match: re.Match[str]) -> str:
    word = match.group(1)
    return next(zh for pattern, zh in _CODE_SWITCH_PATTERNS if pattern.match(word))


def code_switched(text: str) -> str:
    """A Chinese text with its English bank terms in Chinese (credit card→信用卡, lock→鎖); other text unchanged."""
    if not has_han(text) or not _ASCII_WORD_RE.search(text):
        return text
    return _CODE_SWITCH_RE.sub(_code_switch_term, text)


def has_han(text: str) -> bool:
    """True when the text contains at least one Chinese character."""
    return HAN_RE.search(text) is not None


def to_simplified(text: str, *, phrases: bool = False) -> str:
    """Convert Traditional Chinese to Simplified (OpenCC t2s; with ``phrases``, tw2sp: 軟體→软件)."""
    if not has_han(text):
        return text
    return str(converter("tw2sp" if phrases else "t2s").convert(text))


def to_traditional(text: str) -> str:
    """Convert Simplified Chinese characters to Traditional (OpenCC s2t); other text is unchanged."""
    if not has_han(text):
        return text
    return str(converter("s2t").convert(text))


@lru_cache(maxsize=65536)
def fold_script(text: str) -> str:
    """One form for both scripts and both regions' vocabulary: the Taiwan phrasing (s2twp), in t2s characters.

    Going through s2twp maps a mainland question and its Taiwan rewrite to the same text (打开/打開/開啟 → 开启,
    短信/簡訊 → 简讯, 软件/軟體 → 软体, 着/著 → 著, 里/裡/裏 → 里, 臺/台 → 台), so jieba and the n-grams see
    identical input whichever script or region wrote it. A round trip through tw2sp then folds the Taiwan words
    that tw2sp writes the mainland way but s2twp does not map back (數位帳戶/数字帐户, 登入/登录), so a zh-TW
    question and its tw2sp (zh-Hans) rewrite meet too. Neither table alone is symmetric (tw2sp maps 查詢 to
    查找 but leaves a Simplified 查询 alone). Cached: KB refits and repeated questions fold once.
    """
    if not has_han(text):
        return text
    # OpenCC segments once, with the chain's first dictionary, so every pass starts from one script: t2s first
    # (Simplified input gets the phrase table's segmentation and a Traditional copy the same), s2twp twice so the
    # Taiwan form is a fixed point before the tw2sp round trip. Texts folding differently from their rewrite (bot
    # round 6 in docs/DEVELOPING.md): SMP2017 train+dev vs s2twp 0 of 3,069 (character-only t2s: 314), and every one
    # folds as before; E.SUN questions vs tw2sp 1 of 1,592 (without the round trip: 116), vs t2s 0.
    for config in _FOLD_CHAIN:
        text = converter(config).convert(text)
    return str(text).translate(_VARIANT_FOLD)


_FOLD_CHAIN: Final = ("t2s", "s2twp", "s2twp", "tw2sp", "s2twp", "t2s")


def fold_scripts(texts: Sequence[str]) -> list[str]:
    """:func:`fold_script` of many texts with one OpenCC call per pass (a KB fit folds every phrasing at once)."""
    # Joined by line breaks, which no phrase spans, so the result is the text-by-text one at half its CPU.
    rows = [i for i, t in enumerate(texts) if has_han(t) and "\n" not in t]
    if not rows:
        return [fold_script(t) for t in texts]
    joined = "\n".join(texts[i] for i in rows)
    for config in _FOLD_CHAIN:
        joined = converter(config).convert(joined)
    parts = str(joined).split("\n")
    if len(parts) != len(rows):  # a conversion produced a line break: fold one by one
        return [fold_script(t) for t in texts]
    out = [t if "\n" not in t else fold_script(t) for t in texts]  # Latin-only texts are their own fold
    for i, part in zip(rows, parts, strict=True):
        out[i] = part.translate(_VARIANT_FOLD)
    return out


def normalize_many(texts: Sequence[str]) -> list[str]:
    """``[normalize(t) for t in texts]``, with the script fold batched (:func:`fold_scripts`)."""
    pre = [code_switched(_INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", t))) for t in texts]
    return [_SPACE_RE.sub(" ", t.casefold()).strip() for t in fold_scripts(pre)]


def normalize(text: str, *, regional: bool = True) -> str:
    """Canonical form for features: NFKC (full-width→half-width), script/region folded, casefolded, single spaces.

    ``regional=False`` converts characters only (t2s): ticket search stores its tokens, and its substring matching
    must not depend on OpenCC's phrase segmentation of the surrounding text.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE_RE.sub("", text)
    if regional:
        text = fold_script(code_switched(text))
    elif has_han(text):
        text = to_simplified(text).translate(_VARIANT_FOLD)
    return _SPACE_RE.sub(" ", text.casefold()).strip()


# Characters that s2t rewrites in some phrases but that are standard in Taiwan's Traditional orthography (台北, 了解,
# 干擾): on their own they say nothing about the script ("了解" is not Simplified).
_SHARED_CHARS: Final = frozenset("台了干")


def _script_counts(text: str) -> tuple[int, int]:
    """(Traditional-only, Simplified-only) character counts, judged phrase-wise by OpenCC."""
    simplified = converter("t2s").convert(text)
    traditional = converter("t2tw").convert(converter("s2t").convert(text))
    trad = sum(a != b for a, b in zip(text, simplified, strict=False))
    simp = sum(a != b and a not in _SHARED_CHARS for a, b in zip(text, traditional, strict=False))
    return trad, simp


def script_of(text: str) -> str | None:
    """``zh-Hant`` / ``zh-Hans`` by the script-specific Chinese characters of a text, None when it has none."""
    trad, simp = _script_counts(text)
    if trad > simp:
        return "zh-Hant"
    if simp > trad:
        return "zh-Hans"
    return None


def detect_language(text: str, *, ambiguous_zh: str = "zh-Hans") -> str:
    """Language of a short text: ``zh-Hant``, ``zh-Hans``, ``en`` or ``other``.

    Chinese that uses no script-specific character (e.g. "你好") is returned as ``ambiguous_zh``;
    callers that know the conversation's locale should pass it.
    """
    text = unicodedata.normalize("NFKC", text)
    han = HAN_RE.findall(text)
    if _KANA_HANGUL_RE.search(text):
        return "other"  # Japanese / Korean also use Han characters; kana or hangul decides
    ascii_words = _ASCII_WORD_RE.findall(text)
    if han:
        # Any Chinese makes it Chinese: "LINE X ATM功能" and "我的credit card被lock住了" are Chinese messages.
        return script_of("".join(han)) or ambiguous_zh
    letters = [c for c in text if c.isalpha()]
    ascii_letters = sum(len(w) for w in ascii_words)
    if letters and ascii_letters * 2 >= len(letters) + len(han):
        return "en"
    return "other"
