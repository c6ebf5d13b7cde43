"""Detection sees through spacing, invisible characters and compatibility forms (NFKC) before matching."""

from __future__ import annotations

import pytest

from kefu.privacy.pii import PiiKind, find_pii, mask_text, normalize_for_detection

ZW = "\u200b"


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("身分證 A 123 456 789", PiiKind.TW_NATIONAL_ID, "3456"),
        ("ID: a-123-456-789", PiiKind.TW_NATIONAL_ID, "3456"),
        (f"A1{ZW}23{ZW}456789", PiiKind.TW_NATIONAL_ID, "3456"),
        ("電話 09 12 34 56 78", PiiKind.TW_MOBILE, "345"),
        (f"0912{ZW}345{ZW}678", PiiKind.TW_MOBILE, "345"),
        ("0912 / 345 / 678", PiiKind.TW_MOBILE, "345"),
        (
            "\U0001d7ce\U0001d7d7\U0001d7cf\U0001d7d0\U0001d7d1\U0001d7d2\U0001d7d3\U0001d7d4\U0001d7d5\U0001d7d6",
            PiiKind.TW_MOBILE,
            "345",
        ),
        ("⓪⑨①②③④⑤⑥⑦⑧", PiiKind.TW_MOBILE, "345"),
        (f"卡號 4111{ZW}1111{ZW}1111{ZW}1111", PiiKind.CREDIT_CARD, "41111111"),
        (f"a{ZW}b@example.com", PiiKind.EMAIL, "ab@"),
        ("身分證 110101 19900307 1233", PiiKind.CN_NATIONAL_ID, "19900307"),
        ("手機 138 0013 8000", PiiKind.CN_MOBILE, "0013"),
    ],
)
def test_evasions_are_detected_and_masked(text: str, kind: PiiKind, secret: str) -> None:
    assert kind in {m.kind for m in find_pii(text)}
    masked = mask_text(text)
    norm, _ = normalize_for_detection(masked)
    assert secret not in norm.replace(" ", "").replace("-", "").replace("/", ""), masked


def test_normalization_keeps_offsets_and_ordinary_text() -> None:
    text = f"我的電話 09{ZW} 12 34 56 78 謝謝"
    norm, src = normalize_for_detection(text)
    assert "0912345678" in norm and len(src) == len(norm)
    assert all(text[src[i]] == norm[i] or not text[src[i]].isascii() for i in range(len(norm)))
    for benign in ("page 2 of 3", "共 3 件，2024 年 1 月 5 日", "訂單 12 34 56 78 90", "版本 v1.2.3"):
        assert find_pii(benign) == [], benign
