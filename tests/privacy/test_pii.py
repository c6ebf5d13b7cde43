"""Tests for kefu.privacy.pii: checksums, detection, masking, false-positive guards, idempotence, speed."""

from __future__ import annotations

import itertools
import random
import statistics
import time

import pytest

from kefu.privacy.pii import (
    PiiKind,
    PiiMatch,
    find_pii,
    is_valid_cn_id,
    is_valid_tw_id,
    luhn_valid,
    mask_name,
    mask_text,
    mask_value,
)

# --- independent generators (deliberately not using the module under test) -------------------------

TW_LETTER_CODES = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34, "J": 18, "K": 19,
    "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25, "S": 26, "T": 27, "U": 28, "V": 29,
    "W": 32, "X": 30, "Y": 31, "Z": 33,
}  # fmt: skip


def tw_check_digit(letter: str, second_digit: int, body7: str) -> int:
    """Check digit per the MOI algorithm: weights 1,9 for the letter code, then 8..1, then 1."""
    code = TW_LETTER_CODES[letter]
    total = code // 10 * 1 + code % 10 * 9 + second_digit * 8
    total += sum(int(d) * w for d, w in zip(body7, (7, 6, 5, 4, 3, 2, 1), strict=True))
    return (10 - total % 10) % 10


def make_tw_id(letter: str, second: str, body7: str) -> str:
    """Build a valid ID; ``second`` is '1'/'2' (citizen), '8'/'9' (new ARC) or 'A'-'D' (old ARC)."""
    second_digit = int(second) if second.isdigit() else TW_LETTER_CODES[second] % 10
    return f"{letter}{second}{body7}{tw_check_digit(letter, second_digit, body7)}"


def random_tw_id(rng: random.Random, second: str | None = None) -> str:
    letter = rng.choice(sorted(TW_LETTER_CODES))
    second = second or rng.choice("12")
    return make_tw_id(letter, second, "".join(rng.choice("0123456789") for _ in range(7)))


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def make_cn_id(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def kinds(text: str) -> list[PiiKind]:
    return [m.kind for m in find_pii(text)]


# --- checksums ------------------------------------------------------------------------------------


def test_tw_id_known_values() -> None:
    assert is_valid_tw_id("A123456789")
    assert is_valid_tw_id("a123456789")  # customers type lowercase
    assert not is_valid_tw_id("A123456788")
    assert not is_valid_tw_id("A323456789")  # gender digit must be 1/2
    assert not is_valid_tw_id("A12345678")
    assert not is_valid_tw_id("1123456789")
    assert not is_valid_tw_id("")
    assert is_valid_tw_id("AA00000009")  # old-style resident certificate, published example


def test_tw_id_generator_agrees_with_validator() -> None:
    rng = random.Random(20240115)
    for _ in range(500):
        for second in ("1", "2", "8", "9", "A", "B", "C", "D"):
            tw_id = random_tw_id(rng, second)
            assert is_valid_tw_id(tw_id), tw_id
            # The check digit has weight 1, so any change to it must be caught.
            wrong = tw_id[:-1] + str((int(tw_id[-1]) + rng.randint(1, 9)) % 10)
            assert not is_valid_tw_id(wrong), wrong


def test_luhn() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert luhn_valid("4111-1111-1111-1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert luhn_valid("5555555555554444")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("")
    assert not luhn_valid("0")
    rng = random.Random(7)
    for _ in range(300):
        number = luhn_complete("4", 16, rng)
        assert luhn_valid(number)
        assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_cn_id_checksum() -> None:
    assert is_valid_cn_id("11010519491231002X")  # GB 11643 example
    assert is_valid_cn_id("11010519491231002x")
    assert not is_valid_cn_id("110105194912310021")
    assert not is_valid_cn_id("11010519491231002")
    rng = random.Random(3)
    for _ in range(200):
        seq = f"{rng.randint(0, 999):03d}"
        cn_id = make_cn_id("440305", f"19{rng.randint(50, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}", seq)
        assert is_valid_cn_id(cn_id), cn_id


# --- detection + masking per kind ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("身分證 A123456789", PiiKind.TW_NATIONAL_ID, "身分證 A12****789"),
        ("我的身分證字號是A123456789謝謝", PiiKind.TW_NATIONAL_ID, "我的身分證字號是A12****789謝謝"),
        ("居留證 AA00000009", PiiKind.TW_RESIDENT_ID, "居留證 AA0****009"),
        ("身份证 11010519491231002X", PiiKind.CN_NATIONAL_ID, "身份证 110***********002X"),
        ("手機 0912-345-678", PiiKind.TW_MOBILE, "手機 0912-***-678"),
        ("手機0912345678", PiiKind.TW_MOBILE, "手機0912***678"),
        ("call 0912 345 678", PiiKind.TW_MOBILE, "call 0912 *** 678"),
        ("+886 912 345 678", PiiKind.TW_MOBILE, "+886 912 *** 678"),
        ("+886-912-345-678", PiiKind.TW_MOBILE, "+886-912-***-678"),
        ("+886912345678", PiiKind.TW_MOBILE, "+886912***678"),
        ("手機：０９１２－３４５－６７８", PiiKind.TW_MOBILE, "手機：０９１２－***－６７８"),
        ("電話 (02) 2345-6789", PiiKind.TW_LANDLINE, "電話 (02) ****-*789"),
        ("02-23456789", PiiKind.TW_LANDLINE, "02-*****789"),
        ("02 2345 6789 分機 123", PiiKind.TW_LANDLINE, "02 **** *789 分機 123"),
        ("+886-2-2345-6789", PiiKind.TW_LANDLINE, "+886-2-****-*789"),
        ("（04）2234-5678", PiiKind.TW_LANDLINE, "（04）****-*678"),
        ("037-123456", PiiKind.TW_LANDLINE, "037-***456"),
        ("電話0223456789", PiiKind.TW_LANDLINE, "電話02*****789"),
        ("手机 13812345678", PiiKind.CN_MOBILE, "手机 138****5678"),
        ("+86 138 1234 5678", PiiKind.CN_MOBILE, "+86 138 **** 5678"),
        ("+86-13812345678", PiiKind.CN_MOBILE, "+86-138****5678"),
        ("email: john.doe@example.com", PiiKind.EMAIL, "email: j***@example.com"),
        ("信箱wang_xm+cs@mail.example.com.tw謝謝", PiiKind.EMAIL, "信箱w***@mail.example.com.tw謝謝"),
        ("卡號 4111 1111 1111 1111", PiiKind.CREDIT_CARD, "卡號 **** **** **** 1111"),
        ("card 4111-1111-1111-1111", PiiKind.CREDIT_CARD, "card ****-****-****-1111"),
        ("信用卡5555555555554444", PiiKind.CREDIT_CARD, "信用卡************4444"),
        ("Amex 3782 822463 10005", PiiKind.CREDIT_CARD, "Amex **** ****** *0005"),
        ("JCB 3530 1113 3330 0000", PiiKind.CREDIT_CARD, "JCB **** **** **** 0000"),
        ("匯款帳號：(822) 1234-5678-9012", PiiKind.BANK_ACCOUNT, "匯款帳號：(822) ****-****-9012"),
        ("帳號 12345678901234", PiiKind.BANK_ACCOUNT, "帳號 **********1234"),
        ("账号是6222021234567890", PiiKind.BANK_ACCOUNT, "账号是************7890"),
        ("account number is 1234567890123", PiiKind.BANK_ACCOUNT, "account number is *********0123"),
        ("Acct #: 0012-3456-7890", PiiKind.BANK_ACCOUNT, "Acct #: ****-****-7890"),
        ("收件人：王小明", PiiKind.NAME, "收件人：王○明"),
        ("姓名: 歐陽娜娜", PiiKind.NAME, "姓名: 歐○○娜"),
        ("Name: John Smith", PiiKind.NAME, "Name: J*** S****"),
        ("my name is Mary Jane Watson", PiiKind.NAME, "my name is M*** J*** W*****"),
    ],
)
def test_detect_and_mask(text: str, kind: PiiKind, masked: str) -> None:
    matches = find_pii(text)
    assert [m.kind for m in matches] == [kind], matches
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    ("text", "value", "masked"),
    [
        ("地址：台北市信義區信義路五段7號101樓", "台北市信義區信義路五段7號101樓", "地址：台北市信義區***"),
        ("請寄到 106台北市大安區復興南路一段390號3樓 謝謝", "106台北市大安區復興南路一段390號3樓", None),
        ("收货地址：广东省深圳市南山区科技园路1号，谢谢", "广东省深圳市南山区科技园路1号", None),
        ("我住在桃園市中壢區中正路100巷5弄3號之1", "桃園市中壢區中正路100巷5弄3號之1", None),
        ("麻煩幫忙台中市西屯區台灣大道三段99號", "台中市西屯區台灣大道三段99號", None),
        ("寄到信義路五段7號就好", "信義路五段7號", None),
        ("Shipping address: 5F, No. 7, Sec. 5, Xinyi Rd., Taipei", "5F, No. 7, Sec. 5, Xinyi Rd., Taipei", None),
    ],
)
def test_addresses(text: str, value: str, masked: str | None) -> None:
    matches = [m for m in find_pii(text) if m.kind is PiiKind.ADDRESS]
    assert [m.value for m in matches] == [value]
    out = mask_text(text)
    assert value not in out
    if masked is not None:
        assert out == masked


def test_address_field_stops_at_next_field() -> None:
    text = "地址：台北市信義區信義路五段7號 電話：0912345678"
    assert kinds(text) == [PiiKind.ADDRESS, PiiKind.TW_MOBILE]
    assert mask_text(text) == "地址：台北市信義區*** 電話：0912***678"


def test_latin_address_keeps_only_city() -> None:
    assert mask_value(PiiKind.ADDRESS, "5F, No. 7, Sec. 5, Xinyi Rd., Taipei") == "***, Taipei"


def test_mask_name() -> None:
    assert mask_name("王明") == "王○"
    assert mask_name("王小明") == "王○明"
    assert mask_name("歐陽娜娜") == "歐○○娜"
    assert mask_name("司馬相如如") == "司○○○如"
    assert mask_name("王") == "○"
    assert mask_name("John Smith") == "J*** S****"
    assert mask_name("Mary-Jane O'Neil") == "M***-J*** O'N***"
    assert mask_name("  ") == "  "
    for name in ("王明", "王小明", "歐陽娜娜", "John Smith"):
        assert mask_name(mask_name(name)) == mask_name(name)


def test_name_fields_not_products() -> None:
    assert kinds("Product name: Galaxy Note") == []
    assert kinds("username: Admin") == []
    assert kinds("聯絡人：陳大文 電話：0912345678") == [PiiKind.NAME, PiiKind.TW_MOBILE]
    assert mask_text("聯絡人：陳大文 電話：0912345678") == "聯絡人：陳○文 電話：0912***678"


def test_mixed_zh_en_message() -> None:
    text = (
        "Hi 客服，我是王小明 (Name: Ming Wang)，手機 0912-345-678 / +86 138 1234 5678，"
        "email ming.wang@example.com。身分證A123456789，卡號 4111 1111 1111 1111 被重複扣款，"
        "退款請匯到帳號：(822) 1234-5678-9012。訂單 20240115123456，金額 NT$1,299，工單 KF-000123。"
    )
    out = mask_text(text)
    for secret in (
        "Ming Wang", "345-678", "1234 5678", "ming.wang", "A123456789", "4111 1111 1111 1111", "5678-9012",
    ):  # fmt: skip
        assert secret not in out, secret
    for kept in ("20240115123456", "NT$1,299", "KF-000123", "0912-***-678", "m***@example.com"):
        assert kept in out, kept
    assert [m.kind for m in find_pii(text)] == [
        PiiKind.NAME,
        PiiKind.TW_MOBILE,
        PiiKind.CN_MOBILE,
        PiiKind.EMAIL,
        PiiKind.TW_NATIONAL_ID,
        PiiKind.CREDIT_CARD,
        PiiKind.BANK_ACCOUNT,
    ]


# --- false-positive guards -------------------------------------------------------------------------

NOT_PII = [
    "工單 KF-000123 已建立",
    "Ticket KF-000123",
    "訂單編號 20240115123456",
    "訂單編號：4111111111111111",  # Luhn-valid, but introduced as an order number
    "order 4111 1111 1111 1111 shipped",
    "ORD-20240115-0001",
    "tracking number 123456789012",
    "黑貓託運單號 9012345678",
    "金額 NT$1,299",
    "總共 $1,234,567.89",
    "¥13800138000",
    "共 1,234,567,890 元",
    "價格 3,280 元，折扣 15%",
    "日期 2024-01-15 14:30:00",
    "2024/01/15",
    "2024年1月15日下午3點",
    "05-12-2024",
    "會議 09:30-10:30",
    "統編 12345675",
    "郵遞區號 106",
    "版本 v1.2.3.4567890123",
    "pi = 3.14159265358979",
    "1700000000000 毫秒時間戳",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "IP 192.168.100.200",
    "商品型號 AB1234567890",
    "SKU B123456789X",
    "第三次聯絡了",
    "我的帳號是 wang_xm",
    "帳號密碼 12345678901",
    "帳號 12345",  # too short for an account
    "account was charged 1299 dollars",
    "my account, order 1234567890123",
    "0912",
    "10 個 0912 型號的零件",
    "請問地址要寫哪裡？",
    "我的名字很長",
    "編號 1234 號",
    "iPhone 15 Pro Max 256GB",
    "人工智慧 AI 客服",
]


@pytest.mark.parametrize("text", NOT_PII)
def test_no_false_positives(text: str) -> None:
    assert find_pii(text) == []
    assert mask_text(text) == text


def test_not_glued_to_longer_numbers() -> None:
    assert find_pii("20912345678901") == []  # a mobile inside a longer run
    assert find_pii("X0912345678") == []
    assert find_pii("BA123456789") == []  # an ID inside a longer code
    assert kinds("電話:0912345678。") == [PiiKind.TW_MOBILE]


def test_invalid_checksums_are_not_masked() -> None:
    assert find_pii("身分證 A123456788") == []
    assert find_pii("卡號 4111 1111 1111 1112") == []
    assert find_pii("身份证 110105194912310021") == []


def test_luhn_valid_but_implausible_brand_is_not_a_card() -> None:
    rng = random.Random(11)
    number = luhn_complete("9", 16, rng)
    assert luhn_valid(number)
    assert find_pii(f"number {number}") == []


def test_card_inside_a_longer_run_is_found_by_groups() -> None:
    text = "ref 12 4111 1111 1111 1111"
    assert [(m.kind, m.value) for m in find_pii(text)] == [(PiiKind.CREDIT_CARD, "4111 1111 1111 1111")]


def test_bare_landline_needs_a_phone_hint() -> None:
    assert find_pii("0223456789") == []
    assert kinds("請打 0223456789") == [PiiKind.TW_LANDLINE]


# --- properties over generated data ----------------------------------------------------------------


def test_generated_ids_in_text_are_found_and_masked() -> None:
    rng = random.Random(42)
    templates = ["身分證{}", "我的身分證字號是 {}，謝謝", "ID: {}.", "居留證號碼：{}", "{}"]
    for _ in range(400):
        tw_id = random_tw_id(rng, rng.choice("1289ABCD"))
        if rng.random() < 0.2:
            tw_id = tw_id.lower()
        text = rng.choice(templates).format(tw_id)
        matches = find_pii(text)
        assert len(matches) == 1 and matches[0].value == tw_id, (text, matches)
        expected = PiiKind.TW_NATIONAL_ID if tw_id[1] in "12" else PiiKind.TW_RESIDENT_ID
        assert matches[0].kind is expected
        out = mask_text(text)
        assert tw_id not in out
        assert tw_id[:3] + "****" + tw_id[-3:] in out


def test_generated_phones_in_text_are_found_and_masked() -> None:
    rng = random.Random(99)
    formats = [
        "09{a}{b}-{c}{d}{e}-{f}{g}{h}",
        "09{a}{b}{c}{d}{e}{f}{g}{h}",
        "09{a}{b} {c}{d}{e} {f}{g}{h}",
        "+886 9{a}{b} {c}{d}{e} {f}{g}{h}",
        "+886-9{a}{b}-{c}{d}{e}-{f}{g}{h}",
    ]
    for _ in range(400):
        digits = {k: rng.randint(0, 9) for k in "abcdefgh"}
        phone = rng.choice(formats).format(**digits)
        text = rng.choice(["手機 {}", "請打{}給我", "call me at {} thanks", "{}"]).format(phone)
        matches = find_pii(text)
        assert [(m.kind, m.value) for m in matches] == [(PiiKind.TW_MOBILE, phone)], text
        assert phone not in mask_text(text)
        tail = f"{digits['f']}{digits['g']}{digits['h']}"
        assert mask_value(PiiKind.TW_MOBILE, phone).endswith(tail)
        assert sum(c == "*" for c in mask_value(PiiKind.TW_MOBILE, phone)) == 3

    for _ in range(200):
        phone = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        matches = find_pii(f"手机号{phone}，谢谢")
        assert [(m.kind, m.value) for m in matches] == [(PiiKind.CN_MOBILE, phone)]
        assert mask_value(PiiKind.CN_MOBILE, phone) == phone[:3] + "****" + phone[-4:]


def test_generated_cards_are_found_in_every_format() -> None:
    rng = random.Random(5)
    for prefix, length in (("4", 16), ("51", 16), ("2221", 16), ("3528", 16), ("62", 16), ("6011", 16)):
        for _ in range(50):
            number = luhn_complete(prefix, length, rng)
            spaced = " ".join(number[i : i + 4] for i in range(0, length, 4))
            dashed = spaced.replace(" ", "-")
            for form in (number, spaced, dashed):
                matches = find_pii(f"卡號：{form}")
                assert [(m.kind, m.value) for m in matches] == [(PiiKind.CREDIT_CARD, form)], form
                assert mask_value(PiiKind.CREDIT_CARD, form).endswith(number[-4:])
                assert sum(c.isdigit() for c in mask_value(PiiKind.CREDIT_CARD, form)) == 4


# --- idempotence -----------------------------------------------------------------------------------

IDEMPOTENCE_SAMPLES = [
    "身分證A123456789，手機0912-345-678，email: john.doe@example.com",
    "卡號 4111 1111 1111 1111，帳號：(822) 1234-5678-9012，戶名：王小明",
    "地址：台北市信義區信義路五段7號101樓；電話 (02) 2345-6789 分機 123",
    "收件人：歐陽娜娜 手机 +86 138 1234 5678 身份证 11010519491231002X",
    "Name: John Smith, Address: 5F, No. 7, Sec. 5, Xinyi Rd., Taipei",
    "請寄到 106台北市大安區復興南路一段390號3樓 謝謝",
    "account number is 1234567890123 and card 5555-5555-5555-4444",
    "居留證 AA00000009 / 電話0223456789 / +886-2-2345-6789",
]


@pytest.mark.parametrize("text", IDEMPOTENCE_SAMPLES)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_text(text)
    assert once != text
    assert mask_text(once) == once
    assert find_pii(once) == []


def test_mask_value_is_idempotent_per_kind() -> None:
    for text in IDEMPOTENCE_SAMPLES:
        for m in find_pii(text):
            once = mask_value(m.kind, m.value)
            assert mask_value(m.kind, once) == once, (m.kind, m.value, once)


# --- API contract ----------------------------------------------------------------------------------


def test_matches_are_sorted_non_overlapping_and_exact() -> None:
    for text in IDEMPOTENCE_SAMPLES:
        matches = find_pii(text)
        assert matches == sorted(matches, key=lambda m: m.start)
        for a, b in itertools.pairwise(matches):
            assert a.end <= b.start
        for m in matches:
            assert isinstance(m, PiiMatch)
            assert text[m.start : m.end] == m.value


def test_kinds_filter() -> None:
    text = "手機0912345678 email a.b@example.com"
    assert mask_text(text, {PiiKind.EMAIL}) == "手機0912345678 email a***@example.com"
    assert mask_text(text, {"tw_mobile"}) == "手機0912***678 email a.b@example.com"
    assert mask_text(text, set()) == text


def test_kind_values_are_stable_strings() -> None:
    assert PiiKind("tw_mobile") is PiiKind.TW_MOBILE
    assert mask_value("email", "x@y.io") == "x***@y.io"
    with pytest.raises(ValueError):
        mask_value("passport", "X")


def test_empty_and_plain_text() -> None:
    assert find_pii("") == []
    assert mask_text("") == ""
    assert mask_text("您好，請問營業時間？") == "您好，請問營業時間？"


# --- performance -----------------------------------------------------------------------------------


def _one_kb_message() -> str:
    base = (
        "您好，我上週訂購的商品還沒收到，訂單編號 20240115123456，金額 NT$1,299。手機 0912-345-678，"
        "email wang.xiaoming@example.com，收件地址：台北市信義區信義路五段7號101樓。信用卡 4111 1111 1111 1111 "
        "被扣款兩次，請退款到帳號：(822) 1234-5678-9012，戶名：王小明。身分證字號 A123456789。工單 KF-000123。"
    )
    return (base * 4).encode()[:1024].decode(errors="ignore")


def test_mask_text_1kb_is_fast() -> None:
    text = _one_kb_message()
    assert len(text.encode()) >= 1000
    for _ in range(20):
        mask_text(text)
    samples = []
    for _ in range(100):
        t0 = time.thread_time_ns()  # CPU time: immune to other processes on a shared runner
        mask_text(text)
        samples.append(time.thread_time_ns() - t0)
    median_ms = statistics.median(samples) / 1e6
    print(f"mask_text 1KB PII-dense median CPU {median_ms * 1000:.0f} us")
    # 1 ms before the normalised second pass (spaced and zero-width-split numbers, #16); that pass costs ~0.3 ms.
    assert median_ms < 1.5


def test_long_digit_runs_do_not_blow_up() -> None:
    text = "1" * 5000 + " " + "1 " * 3000
    t0 = time.thread_time_ns()
    find_pii(text)
    assert (time.thread_time_ns() - t0) / 1e6 < 200
