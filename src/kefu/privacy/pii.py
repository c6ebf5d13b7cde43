"""Detect and mask personal data in zh-Hant / zh-Hans / English customer-service text.

Precision matters as much as recall here: ticket numbers, order ids, dates and amounts must survive
masking untouched, so identifiers with a checksum are validated and free-form ones (bank accounts,
addresses, names) are only taken when anchored by a field keyword or an unambiguous shape.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PiiKind",
    "PiiMatch",
    "find_pii",
    "is_valid_cn_id",
    "is_valid_tw_id",
    "luhn_valid",
    "mask_name",
    "mask_text",
    "mask_value",
]


class PiiKind(StrEnum):
    """Kinds of personal data recognised by :func:`find_pii`."""

    EMAIL = "email"
    TW_NATIONAL_ID = "tw_national_id"
    TW_RESIDENT_ID = "tw_resident_id"
    CN_NATIONAL_ID = "cn_national_id"
    CREDIT_CARD = "credit_card"
    BANK_ACCOUNT = "bank_account"
    TW_MOBILE = "tw_mobile"
    CN_MOBILE = "cn_mobile"
    TW_LANDLINE = "tw_landline"
    NAME = "name"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected span: ``text[start:end] == value`` (the canonical form when found only after normalization)."""

    kind: PiiKind
    start: int
    end: int
    value: str


# Overlaps are resolved in this order: validated identifiers beat shape-only and keyword-anchored ones.
_PRIORITY: dict[PiiKind, int] = {kind: rank for rank, kind in enumerate(PiiKind)}

_MASK_CHARS = frozenset("*○")
_SEP = r"[ \t\u3000.\-\u2010-\u2015\uff0d]"  # space, ideographic space, dot, ASCII/Unicode/fullwidth dashes
_CJK = r"\u4e00-\u9fff"

# ---------------------------------------------------------------------------------------------
# Checksums
# ---------------------------------------------------------------------------------------------

# Letter → two-digit area code used by both the national ID and the resident certificate.
_TW_LETTER = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))
_TW_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 1)
_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_CHECK = "10X98765432"


def is_valid_tw_id(value: str) -> bool:
    """Return True for a checksum-valid Taiwan national ID or resident certificate number.

    Accepts ``A123456789`` (national, 2nd char 1/2), new-style resident certificates (2nd char 8/9),
    and old-style resident certificates (2nd char A-D).
    """
    v = value.strip().upper()
    if len(v) != 10 or v[0] not in _TW_LETTER or not v[2:].isascii() or not v[2:].isdigit():
        return False
    second = v[1]
    if second in "1289":
        d1 = int(second)
    elif second in "ABCD":
        d1 = _TW_LETTER[second] % 10  # old resident certificates encode the letter's units digit
    else:
        return False
    area = _TW_LETTER[v[0]]
    digits = [d1, *(int(c) for c in v[2:9])]
    total = area // 10 + (area % 10) * 9 + sum(d * w for d, w in zip(digits, _TW_WEIGHTS, strict=True))
    return (total + int(v[9])) % 10 == 0


def is_valid_cn_id(value: str) -> bool:
    """Return True for an 18-character PRC resident ID with a valid ISO 7064 MOD 11-2 check character."""
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isascii() or not v[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(v[:17], _CN_WEIGHTS, strict=True))
    return _CN_CHECK[total % 11] == v[17]


def luhn_valid(number: str) -> bool:
    """Return True when the digits of ``number`` (separators ignored) pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    """IIN/length plausibility; keeps Luhn's 1-in-10 false positives on random long numbers down."""
    n = len(digits)
    p2, p3, p4 = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16  # Mastercard
    if p2 in (34, 37):
        return n == 15  # American Express
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19  # JCB (common in Taiwan)
    if p2 == 62 or p2 == 81:
        return 16 <= n <= 19  # UnionPay
    if p4 == 6011 or p2 == 65 or 644 <= p3 <= 649:
        return 16 <= n <= 19  # Discover
    if p2 in (36, 38, 39) or 300 <= p3 <= 305 or p4 == 3095:
        return 14 <= n <= 19  # Diners
    return False


# Chinese IMEs often emit fullwidth forms (０９１２－３４５, ＠). U+FF01-FF5E map one-to-one onto ASCII, so
# scanning a folded copy keeps every offset valid for the original text.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_NON_DIGIT_RE = re.compile(r"[^0-9]")


def _digits(s: str) -> str:
    """ASCII digits of ``s`` (fullwidth digits folded first)."""
    return _NON_DIGIT_RE.sub("", s.translate(_FOLD))


# ---------------------------------------------------------------------------------------------
# Patterns (compiled once)
#
# Patterns start with a literal or a character class and leave the leading boundary to
# _clean_start(): a leading lookbehind stops sre from skipping ahead by first character and made
# scanning ~5x slower. Keyword-anchored English patterns are gated by a substring check for the same
# reason (case-insensitive keyword alternations can't be skipped ahead either).
# ---------------------------------------------------------------------------------------------

_S = _SEP
_NUM_END = r"(?![0-9A-Za-z_])(?![.,]\d)"
_BLOCKS_NUMBER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-_$¥￥€£/")
_BLOCKS_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_TW_ID_RE = re.compile(r"[A-Za-z](?:[1289]|[A-Da-d])\d{8}(?![A-Za-z0-9])")
_CN_ID_RE = re.compile(r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])")
# Maximal digit runs (single space/dash separators); possessive so a rejected run is never rescanned.
_DIGIT_RUN_RE = re.compile(r"\d(?:[ \-]?\d)*+")
_TW_MOBILE_RE = re.compile(
    rf"(?:\+886|00886|886)(?:{_S}?\(0\))?{_S}?9\d{{2}}{_S}?\d{{3}}{_S}?\d{{3}}{_NUM_END}"
    rf"|09\d{{2}}{_S}?\d{{3}}{_S}?\d{{3}}{_NUM_END}"
)
_CN_MOBILE_RE = re.compile(
    rf"(?:\+86|0086|86){_S}?1[3-9]\d{_S}?\d{{4}}{_S}?\d{{4}}{_NUM_END}"
    rf"|1[3-9]\d{_S}?\d{{4}}{_S}?\d{{4}}{_NUM_END}"
)
_LANDLINE_SUB = rf"{_S}?\d{{2,4}}{_S}?\d{{3,4}}(?:\s?(?:#|分機|分机|轉|转|ext\.?|x)\s?\d{{1,5}})?{_NUM_END}"
_LANDLINE_CC_AREA = rf"{_S}?(?:\(0?[2-8]\d{{0,2}}\)|0?[2-8]\d{{0,2}})"
_TW_LANDLINE_RE = re.compile(
    "|".join(
        (
            rf"\+886{_LANDLINE_CC_AREA}{_LANDLINE_SUB}",
            rf"00886{_LANDLINE_CC_AREA}{_LANDLINE_SUB}",
            rf"886{_LANDLINE_CC_AREA}{_LANDLINE_SUB}",
            rf"\(\s?0[2-8]\d{{0,2}}\s?\){_LANDLINE_SUB}",
            rf"（\s?0[2-8]\d{{0,2}}\s?）{_LANDLINE_SUB}",
            rf"0[2-8]\d{{0,2}}{_LANDLINE_SUB}",
        )
    )
)
_EXTENSION_RE = re.compile(r"\s?(?:#|分機|分机|轉|转|ext\.?|x)\s?\d{1,5}$")
_PHONE_HINT_RE = re.compile(
    r"(?:電話|电话|市話|市话|室話|室话|手機|手机|傳真|传真|專線|专线|號碼|号码|聯絡|联络|联系|連絡|打|撥|拨|"
    r"tel|phone|fax|call)[^0-9\n]{0,6}$",
    re.IGNORECASE,
)
# An order/ticket/tracking keyword right before a long number means it is a reference, not a card.
_REFERENCE_HINT_RE = re.compile(
    r"(?:訂單|订单|單號|单号|工單|工单|編號|编号|序號|序号|運單|运单|物流|追蹤|追踪|發票|发票|貨號|货号|"
    r"order|ticket|tracking|invoice|serial|ref|case|sku|item)[^0-9\n]{0,12}$",
    re.IGNORECASE,
)
_CARD_HINT_RE = re.compile(r"(?:卡號|卡号|信用卡|簽帳卡|签帐卡|card)[^0-9\n]{0,12}$", re.IGNORECASE)

_BANK_VALUE = r"(?P<gap>[^\d\n]{0,14}?)(?P<num>(?:[(（]\d{3}[)）]\s?|\d{3}-(?=\d{10}))?\d(?:[ \-]?\d){9,15})"
_BANK_ZH_RE = re.compile(
    r"(?:銀行帳號|银行账号|匯款帳號|汇款账号|轉帳帳號|转账账号|收款帳號|收款账号|帳號|账号|帐号|帳戶|账户|帐户|"
    r"戶頭|户头)" + _BANK_VALUE + _NUM_END
)
_BANK_EN_RE = re.compile(
    r"(?<![a-z])(?:account(?:\s*(?:number|no\.?|num|#))?|acct\.?(?:\s*(?:number|no\.?|#))?|a/c(?:\s*no\.?)?)"
    + _BANK_VALUE
    + _NUM_END,
    re.IGNORECASE,
)
_BANK_CODE_RE = re.compile(r"[(（]\d{3}[)）]\s?|\d{3}-(?=\d{10})")
_BANK_GAP_BLOCK_RE = re.compile(r"訂單|订单|單號|单号|order|ticket|invoice|密碼|密码|password|pin", re.IGNORECASE)

# Function words that end a place name: "寄到台北市" must start the address at 台北市, not 寄到.
_NO_PLACE = r"(?![在住於于是到寄送我的為为請请往從从和跟與与及或要想把給给去來来搬幫帮忙])"
_PLACE_CHAR = rf"(?:{_NO_PLACE}[{_CJK}])"
_PROVINCES = (
    "河北|山西|遼寧|辽宁|吉林|黑龍江|黑龙江|江蘇|江苏|浙江|安徽|福建|江西|山東|山东|河南|湖北|湖南|廣東|广东|"
    "海南|四川|貴州|贵州|雲南|云南|陝西|陕西|甘肅|甘肃|青海"
)
_ADDRESS_RE = re.compile(
    r"(?:\d{3}(?:\d{2,3})?\s?)?"  # TW 3+2/3+3 or CN 6-digit postal code
    r"(?:(?:台灣|臺灣|台湾|中國|中国)\s?)?"
    rf"(?:(?:{_PROVINCES})省)?"
    rf"(?:{_PLACE_CHAR}{{1,3}}?[市縣县]"
    rf"(?:{_PLACE_CHAR}{{1,4}}?[區区鄉乡鎮镇市])?"
    rf"(?:{_PLACE_CHAR}{{1,3}}?[村里])?(?:\d{{1,3}}[鄰邻])?)?"
    rf"{_PLACE_CHAR}{{1,6}}?(?:路|街|大道)"
    r"(?:[一二三四五六七八九十\d]{1,3}段)?"
    r"(?:\d{1,4}巷)?(?:\d{1,4}弄)?"
    r"\d{1,5}(?:之\d{1,3})?[號号]"
    r"(?:之\d{1,3})?(?:\s?\d{1,3}(?:樓|楼|[Ff])(?:之\d{1,3})?)?(?:\d{1,5}室)?"
)
_HAO_RE = re.compile(r"[號号]")
_ROAD_NEAR_RE = re.compile(r"(?:路|街|大道|段|巷|弄)[\d０-９一二三四五六七八九十之\-]*$")
# Known top-level divisions; an address that starts before one of them ("幫忙台北市…") is trimmed to it.
_KNOWN_DIVISION_RE = re.compile(
    r"\d{3}(?:\d{2,3})?\s?(?=\D)|台灣|臺灣|台湾|中國|中国|"
    r"(?:台北|臺北|新北|桃園|桃园|台中|臺中|台南|臺南|高雄|基隆|新竹|嘉義|嘉义)市|"
    r"(?:新竹|苗栗|彰化|南投|雲林|云林|嘉義|嘉义|屏東|屏东|宜蘭|宜兰|花蓮|花莲|台東|臺東|台东|澎湖|金門|金门|"
    r"連江|连江)[縣县]|(?:北京|上海|天津|重慶|重庆)市|"
    rf"(?:{_PROVINCES})省"
)
_ADDRESS_VALUE = (
    r"\s*(?:[:：]|是|為|为)\s*(?P<v>[^\n。；;|]{4,100}?)"
    r"(?=\s*(?:電話|电话|手機|手机|聯絡|联络|联系|姓名|身分證|身份证|信箱|(?i:tel|phone|mobile|e-?mail|name)\b)"
    rf"|[\n。；;|，]|,(?=\s*[{_CJK}])|$)"
)
_ADDRESS_FIELD_ZH_RE = re.compile(
    r"(?:收件地址|寄件地址|送貨地址|送货地址|收貨地址|收货地址|通訊地址|通讯地址|戶籍地址|户籍地址|地址|住址)"
    + _ADDRESS_VALUE
)
_ADDRESS_FIELD_EN_RE = re.compile(
    r"(?i:(?<![a-z])(?:shipping |billing |home |mailing |delivery )?(?:address|addr\.?))" + _ADDRESS_VALUE
)
_ADDRESS_SIGNAL_RE = re.compile(r"\d|[市縣县區区鄉乡鎮镇路街號号巷弄樓楼]")
_ADMIN_PREFIX_RE = re.compile(
    r"^(?:\d{3}(?:\d{2,3})?\s?)?(?:(?:台灣|臺灣|台湾|中國|中国)\s?)?"
    rf"(?:(?:{_PROVINCES})省)?[{_CJK}]{{1,3}}?[市縣县](?:[{_CJK}]{{1,4}}?[區区鄉乡鎮镇市])?"
)

_NAME_STOP = "先生|小姐|女士|太太|電話|电话|手機|手机|地址|身分|身份|信箱|謝謝|谢谢|您好|你好|收|寄|的|帳|账|帐"
_NAME_VALUE_CJK = rf"\s*(?:[:：]|是|為|为)\s*(?P<v>[{_CJK}]{{2,4}}?(?=[^{_CJK}]|$|{_NAME_STOP}))"
_NAME_VALUE_LATIN = r"\s*(?:[:：]|is)\s*(?P<v>[A-Z][a-zA-Z'\-]+(?: [A-Z][a-zA-Z'\-]+){0,3}(?![A-Za-z]))"
_NAME_FIELD_ZH_RE = re.compile(
    r"(?:姓名|名字|收件人|寄件人|聯絡人|联络人|联系人|連絡人|持卡人|戶名|户名|訂購人|订购人|取件人)"
    rf"(?:{_NAME_VALUE_CJK}|{_NAME_VALUE_LATIN.replace('?P<v>', '?P<w>')})"
)
_NAME_FIELD_EN_RE = re.compile(
    r"(?i:(?<![a-z])(?:full name|customer name|contact name|cardholder(?: name)?|recipient(?: name)?|"
    r"account name|name))"
    rf"(?:{_NAME_VALUE_LATIN}|{_NAME_VALUE_CJK.replace('?P<v>', '?P<w>')})"
)
_NAME_FALSE_CONTEXT_RE = re.compile(
    r"(?:product|item|file|company|store|shop|app|user|display|domain|host|brand|model|device|network|"
    r"wifi|project|event|business|商品|產品|产品|公司|店|檔案|档案)\s*$",
    re.IGNORECASE,
)
_EN_NAME_KEYS = ("name", "cardholder", "recipient")


# ---------------------------------------------------------------------------------------------
# Detectors
# ---------------------------------------------------------------------------------------------


def _preceded_by(pattern: re.Pattern[str], text: str, start: int, width: int = 20) -> bool:
    return pattern.search(text, max(0, start - width), start) is not None


def _clean_start(text: str, start: int, blockers: frozenset[str] = _BLOCKS_NUMBER) -> bool:
    """Leading boundary: not glued to a word, a number, a sign, or a decimal point."""
    if start == 0:
        return True
    prev = text[start - 1]
    if prev in blockers or prev.isdigit():
        return False
    return not (prev in ".," and start >= 2 and text[start - 2].isdigit())


def _emails(text: str, lower: str) -> Iterator[PiiMatch]:
    if "@" not in text:
        return
    for m in _EMAIL_RE.finditer(text):
        yield PiiMatch(PiiKind.EMAIL, m.start(), m.end(), m.group())


def _tw_ids(text: str, lower: str) -> Iterator[PiiMatch]:
    for m in _TW_ID_RE.finditer(text):
        value = m.group()
        if _clean_start(text, m.start(), _BLOCKS_WORD) and is_valid_tw_id(value):
            kind = PiiKind.TW_NATIONAL_ID if value[1] in "12" else PiiKind.TW_RESIDENT_ID
            yield PiiMatch(kind, m.start(), m.end(), value)


def _cn_ids(text: str, lower: str) -> Iterator[PiiMatch]:
    for m in _CN_ID_RE.finditer(text):
        if _clean_start(text, m.start(), _BLOCKS_WORD) and is_valid_cn_id(m.group()):
            yield PiiMatch(PiiKind.CN_NATIONAL_ID, m.start(), m.end(), m.group())


def _card_grouping_ok(value: str) -> bool:
    seps = {c for c in value if not c.isdigit()}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    sizes = [len(g) for g in re.split(r"[ \-]", value)]
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True  # Amex / Diners
    return all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _cards_in_run(run: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) within ``run`` of valid cards made of whole digit groups, longest first."""
    groups = [(g.start(), g.end()) for g in re.finditer(r"\d+", run)]
    i = 0
    while i < len(groups):
        # A card has at most 19 digits, which bounds the windows tried from each group: linear overall.
        ends: list[int] = []
        count = 0
        # Grouped card numbers always open with a 4-digit group (4-4-4-4, 4-6-5, 4-6-4).
        last = len(groups) if groups[i][1] - groups[i][0] == 4 else i + 1
        for j in range(i, last):
            count += groups[j][1] - groups[j][0]
            if count > 19:
                break
            if count >= 13:
                ends.append(j)
        for j in reversed(ends):
            start, end = groups[i][0], groups[j][1]
            value = run[start:end]
            digits = _digits(value)
            if _card_grouping_ok(value) and _card_brand_ok(digits) and luhn_valid(digits):
                yield start, end
                i = j
                break
        i += 1


def _cards(text: str, lower: str) -> Iterator[PiiMatch]:
    for m in _DIGIT_RUN_RE.finditer(text):
        run = m.group()
        if len(run) < 13 or not _clean_start(text, m.start()):
            continue
        if m.end() < len(text) and (text[m.end()] in _BLOCKS_WORD or text[m.end()] == "_"):
            continue
        if text[m.end() : m.end() + 1] in (".", ",") and text[m.end() + 1 : m.end() + 2].isdigit():
            continue  # a decimal amount
        for found_start, found_end in _cards_in_run(run):
            start, end = m.start() + found_start, m.start() + found_end
            if _preceded_by(_REFERENCE_HINT_RE, text, start) and not _preceded_by(_CARD_HINT_RE, text, start):
                continue
            yield PiiMatch(PiiKind.CREDIT_CARD, start, end, text[start:end])


def _bank_accounts(text: str, lower: str) -> Iterator[PiiMatch]:
    patterns = [_BANK_ZH_RE]
    if "acc" in lower or "acct" in lower or "a/c" in lower:
        patterns.append(_BANK_EN_RE)
    for pattern in patterns:
        for m in pattern.finditer(text):
            if _BANK_GAP_BLOCK_RE.search(m.group("gap")):
                continue
            num = m.group("num")
            code = _BANK_CODE_RE.match(num)
            if 10 <= len(_digits(num[code.end() if code else 0 :])) <= 16:
                yield PiiMatch(PiiKind.BANK_ACCOUNT, m.start("num"), m.end("num"), num)


def _tw_mobiles(text: str, lower: str) -> Iterator[PiiMatch]:
    for m in _TW_MOBILE_RE.finditer(text):
        if _clean_start(text, m.start()):
            yield PiiMatch(PiiKind.TW_MOBILE, m.start(), m.end(), m.group())


def _cn_mobiles(text: str, lower: str) -> Iterator[PiiMatch]:
    for m in _CN_MOBILE_RE.finditer(text):
        if _clean_start(text, m.start()):
            yield PiiMatch(PiiKind.CN_MOBILE, m.start(), m.end(), m.group())


def _tw_landlines(text: str, lower: str) -> Iterator[PiiMatch]:
    for m in _TW_LANDLINE_RE.finditer(text):
        if not _clean_start(text, m.start()):
            continue
        value = m.group()
        ext = _EXTENSION_RE.search(value)
        main = value[: ext.start()] if ext else value
        digits = _digits(main)
        cc = _country_code_digits(main, "886")
        national = digits if not cc else "0" + digits[cc:].removeprefix("0")
        if len(national) not in (9, 10) or national[1] not in "2345678":
            continue
        # A bare 9-10 digit run starting with 0 could be any reference number; only trust it as a
        # landline when it is formatted like one or introduced as a phone number.
        formatted = bool(cc) or any(not c.isdigit() for c in main)
        if not formatted and not _preceded_by(_PHONE_HINT_RE, text, m.start(), 12):
            continue
        yield PiiMatch(PiiKind.TW_LANDLINE, m.start(), m.end(), value)


def _structured_addresses(text: str) -> Iterator[PiiMatch]:
    # Only look around 號/号: the full pattern is expensive to try at every position of a long message.
    last_end = 0
    for hao in _HAO_RE.finditer(text):
        # 編號/帳號/字號 are far more common than street numbers; require a road/lane marker first.
        if hao.start() < last_end or not _ROAD_NEAR_RE.search(text, max(0, hao.start() - 14), hao.start()):
            continue
        window_start = max(last_end, hao.start() - 60)
        for m in _ADDRESS_RE.finditer(text, window_start, min(len(text), hao.end() + 16)):
            if m.start() <= hao.start() < m.end():
                start = m.start()
                known = _KNOWN_DIVISION_RE.search(text, start, m.end())
                if known and known.start() > start:
                    start = known.start()
                last_end = m.end()
                yield PiiMatch(PiiKind.ADDRESS, start, m.end(), text[start : m.end()])
                break


def _addresses(text: str, lower: str) -> Iterator[PiiMatch]:
    patterns = [_ADDRESS_FIELD_ZH_RE]
    if "addr" in lower:
        patterns.append(_ADDRESS_FIELD_EN_RE)
    for pattern in patterns:
        for m in pattern.finditer(text):
            value = m.group("v").rstrip(" ,")
            if value and _ADDRESS_SIGNAL_RE.search(value) and _MASK_CHARS.isdisjoint(value):
                yield PiiMatch(PiiKind.ADDRESS, m.start("v"), m.start("v") + len(value), value)
    yield from _structured_addresses(text)


def _names(text: str, lower: str) -> Iterator[PiiMatch]:
    patterns = [_NAME_FIELD_ZH_RE]
    if any(key in lower for key in _EN_NAME_KEYS):
        patterns.append(_NAME_FIELD_EN_RE)
    for pattern in patterns:
        for m in pattern.finditer(text):
            if _preceded_by(_NAME_FALSE_CONTEXT_RE, text, m.start(), 12):
                continue
            group = "v" if m.group("v") is not None else "w"
            yield PiiMatch(PiiKind.NAME, m.start(group), m.end(group), m.group(group))


_Detector = Callable[[str, str], Iterator[PiiMatch]]
_DIGIT_DETECTORS: tuple[_Detector, ...] = (
    _tw_ids,
    _cn_ids,
    _cards,
    _bank_accounts,
    _tw_mobiles,
    _cn_mobiles,
    _tw_landlines,
)
_HAS_DIGIT_RE = re.compile(r"\d")


# Evasions a customer (or a copy-paste) produces: zero-width and other invisible format characters inside a
# number, compatibility forms (NFKC: fullwidth, mathematical, circled digits), and numbers spelled out in small
# groups ("A 123 456 789", "09 12 34 56 78", "0912.345.678"). The second pass scans a normalized copy for these.
_SECOND_PASS_HINT_RE = re.compile(
    r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"  # invisible (Cf)
    r"|(?<![A-Za-z])[A-Za-z][^\w\n]{1,3}\d"  # a lone letter, then digits: a spaced-out ID
    r"|\d[ \t.\-/_\u00a0\u2212\u3000]{2,3}\d|\d[/_\u00a0\u2212]\d"  # odd separators
    r"|(?<!\d)\d{1,3}[ .\-/\u3000]\d{1,3}[ .\-/\u3000]\d{1,3}[ .\-/\u3000]\d"  # small groups: 09 12 34 56 78
    r"|(?<!\d)\d{6}[^\w\n]{1,3}\d{8}"  # a mainland ID written region / birth date / serial
    r"|(?![0-9])\d|[\u2460-\u24ff\u2776-\u2793\U0001d400-\U0001d7ff]"  # digits NFKC maps to ASCII
)
_GROUP_SEPARATORS = frozenset(" \t\u3000\u00a0.-_/\u2010\u2011\u2012\u2013\u2014\u2015\uff0d\u2212")


def normalize_for_detection(text: str) -> tuple[str, list[int]]:
    """NFKC, invisible characters dropped, separators inside digit groups collapsed; with each char's source offset."""
    chars: list[str] = []
    src: list[int] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":
            continue  # zero-width space/joiners, soft hyphen, bidi marks: invisible, so never meaningful here
        for c in unicodedata.normalize("NFKC", ch) if ord(ch) > 0x7F else ch:
            chars.append(c)
            src.append(i)
    out: list[str] = []
    out_src: list[int] = []
    n = len(chars)
    k = 0
    while k < n:
        c = chars[k]
        if c in _GROUP_SEPARATORS and out:
            j = k
            while j < n and j - k < 3 and chars[j] in _GROUP_SEPARATORS:
                j += 1
            left = out[-1]
            lone_letter = left.isascii() and left.isalpha() and not (len(out) > 1 and out[-2].isalpha())
            if j < n and chars[j].isdigit() and (left.isdigit() or lone_letter):
                k = j  # "09 12 34" -> "091234", "A 123" -> "A123"
                continue
        out.append(c)
        out_src.append(src[k])
        k += 1
    return "".join(out), out_src


def _normalized_matches(text: str) -> list[PiiMatch]:
    # Fullwidth forms are already folded by the first pass, so only these hints justify the slower scan.
    if not _SECOND_PASS_HINT_RE.search(text):
        return []
    norm, src = normalize_for_detection(text)
    if norm == text:
        return []
    lower = norm.lower()
    found: list[PiiMatch] = list(_emails(norm, lower))
    if _HAS_DIGIT_RE.search(norm):
        for detect in _DIGIT_DETECTORS:
            found.extend(detect(norm, lower))
    # Spans map back to the original text; the value is the canonical form, so masks carry no invisible characters.
    return [PiiMatch(m.kind, src[m.start], src[m.end - 1] + 1, m.value) for m in found if m.end > m.start]


def find_pii(text: str) -> list[PiiMatch]:
    """Return non-overlapping PII spans in ``text``, sorted by start offset."""
    scan = text.translate(_FOLD)
    lower = scan.lower()
    candidates: list[PiiMatch] = list(_emails(scan, lower))
    if _HAS_DIGIT_RE.search(scan):
        for detect in _DIGIT_DETECTORS:
            candidates.extend(detect(scan, lower))
    candidates.extend(_names(scan, lower))
    candidates.extend(_addresses(scan, lower))
    extras: list[PiiMatch] = []
    for extra in _normalized_matches(text):
        overlapping = [t for t in candidates if not (extra.end <= t.start or extra.start >= t.end)]
        # A wider normalized match (an email or number split by invisible characters) replaces the fragments.
        if all(
            extra.start <= t.start and t.end <= extra.end and extra.end - extra.start > t.end - t.start
            for t in overlapping
        ):
            candidates = [t for t in candidates if t not in overlapping]
            extras.append(extra)
    candidates.extend(extras)
    if len(candidates) > 1:
        candidates.sort(key=lambda m: (_PRIORITY[m.kind], m.start, m.start - m.end))
        taken: list[PiiMatch] = []
        for cand in candidates:
            if all(cand.end <= t.start or cand.start >= t.end for t in taken):
                taken.append(cand)
        candidates = sorted(taken, key=lambda m: m.start)
    if scan != text:
        # First-pass values come from the folded copy; use the customer's own characters (offsets are equal).
        candidates = [m if m in extras else PiiMatch(m.kind, m.start, m.end, text[m.start : m.end]) for m in candidates]
    return candidates


# ---------------------------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------------------------


def _mask_digits(value: str, keep_head: int, keep_tail: int) -> str:
    """Replace digits with '*' except the first ``keep_head`` and last ``keep_tail``; keep separators."""
    total = sum(c.isdigit() for c in value)
    out: list[str] = []
    seen = 0
    for c in value:
        if c.isdigit():
            out.append(c if seen < keep_head or seen >= total - keep_tail else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def _country_code_digits(value: str, code: str) -> int:
    """Count the leading country-code digits (``+886``, ``00886``, ``886``) of a phone number."""
    s = value.lstrip("+")
    if s.startswith("00" + code):
        return 2 + len(code)
    return len(code) if s.startswith(code) else 0


def _mask_tw_landline(value: str) -> str:
    ext = _EXTENSION_RE.search(value)
    main, suffix = (value[: ext.start()], value[ext.start() :]) if ext else (value, "")
    cc = _country_code_digits(main, "886")
    rest = re.sub(r"^\+?(?:00)?886", "", main) if cc else main
    # Keep the area code when it is visibly delimited ("(02) ", "02-", "+886 2 "), else two digits.
    groups = re.findall(r"\d+", rest)
    area = len(groups[0]) if len(groups) > 1 and len(groups[0]) <= 4 else 2
    return _mask_digits(main, cc + area, 3) + suffix  # extensions are not personal


def mask_name(name: str) -> str:
    """Mask a personal name: 王○ / 王○明 / 司○○如 for CJK, ``J*** S****`` for Latin script."""
    s = name.strip()
    if not s:
        return name
    if any(c.isascii() and c.isalpha() for c in s):
        return re.sub(r"[^\W\d_]+", lambda m: m.group()[0] + "*" * (len(m.group()) - 1), s)
    if len(s) == 1:
        return "○"
    if len(s) == 2:
        return s[0] + "○"
    return s[0] + "○" * (len(s) - 2) + s[-1]


def _mask_address(value: str) -> str:
    prefix = _ADMIN_PREFIX_RE.match(value)
    if prefix and prefix.end() < len(value):
        return value[: prefix.end()] + "***"
    if re.search(rf"[{_CJK}]", value):
        return value[:2] + "***" if len(value) > 2 else "***"
    # Latin addresses: keep only the last comma-separated component (city / country).
    parts = [p.strip() for p in value.split(",")]
    return "***, " + parts[-1] if len(parts) > 1 and parts[-1] else "***"


def mask_value(kind: PiiKind | str, value: str) -> str:
    """Mask one detected value of ``kind``, keeping a short hint so agents can confirm it with the customer."""
    k = PiiKind(kind)
    folded = value.translate(_FOLD)
    masked = _mask_folded(k, folded)
    if folded != value and len(masked) == len(value):
        # Same-length masks only replaced characters with '*': keep the customer's fullwidth forms.
        return "".join("*" if m == "*" and f != "*" else v for m, f, v in zip(masked, folded, value, strict=True))
    return masked


def _mask_folded(k: PiiKind, value: str) -> str:
    if k is PiiKind.EMAIL:
        local, _, domain = value.partition("@")
        return (local[:1] + "***@" + domain) if domain else "***"
    if k in (PiiKind.TW_NATIONAL_ID, PiiKind.TW_RESIDENT_ID):
        return value[:3] + "*" * (len(value) - 6) + value[-3:] if len(value) > 6 else "*" * len(value)
    if k is PiiKind.CN_NATIONAL_ID:
        return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)
    if k is PiiKind.CREDIT_CARD:
        return _mask_digits(value, 0, 4)
    if k is PiiKind.BANK_ACCOUNT:
        code = _BANK_CODE_RE.match(value)  # the bank code names the bank, not the customer
        cut = code.end() if code else 0
        return value[:cut] + _mask_digits(value[cut:], 0, 4)
    if k is PiiKind.TW_MOBILE:
        cc = _country_code_digits(value, "886")
        head = cc + 3 + ("(0)" in value) if cc else 4
        return _mask_digits(value, head, 3)  # 0912-***-678 / +886 912 *** 678
    if k is PiiKind.CN_MOBILE:
        cc = _country_code_digits(value, "86")
        return _mask_digits(value, cc + 3, 4)  # 138****5678, the convention Chinese users recognise
    if k is PiiKind.TW_LANDLINE:
        return _mask_tw_landline(value)
    if k is PiiKind.NAME:
        return mask_name(value)
    return _mask_address(value)


def mask_text(text: str, kinds: AbstractSet[PiiKind] | AbstractSet[str] | None = None) -> str:
    """Return ``text`` with every detected PII span (optionally only of ``kinds``) masked in place."""
    matches = find_pii(text)
    if kinds is not None:
        matches = [m for m in matches if m.kind in kinds]
    if not matches:
        return text
    out: list[str] = []
    pos = 0
    for m in matches:
        out.append(text[pos : m.start])
        out.append(mask_value(m.kind, m.value))
        pos = m.end
    out.append(text[pos:])
    return "".join(out)
