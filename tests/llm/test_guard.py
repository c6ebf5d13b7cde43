"""Output checks: numbers by value across scripts and languages, links, cleanup; settings validation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kefu.llm import guard


def test_numbers_compare_by_value_across_forms() -> None:
    assert guard.numbers("退款約 7 個工作天") == {Decimal(7)}
    assert guard.numbers("退款約７個工作天") == {Decimal(7)}  # fullwidth
    assert guard.numbers("退款約七個工作天、九十天內、兩千元、一百二十元") == {
        Decimal(7),
        Decimal(90),
        Decimal(2000),
        Decimal(120),
    }
    assert guard.numbers("Refunds take seven working days, up to 1,500 dollars or 2.5%") == {
        Decimal(7),
        Decimal(1500),
        Decimal("2.5"),
    }
    assert guard.numbers("一起統一處理，請稍候一下，一位專員快一點回覆") == set()  # 一 is rarely a quantity
    assert guard.numbers("步驟：\n1. 登入\n2) 點選訂單\n3、申請退款，約 7 天") == {Decimal(7)}


def test_unsupported_finds_new_numbers_and_links_only() -> None:
    faq = "退款約 7 個工作天，詳見 https://shop.example.com/refund 或來信 help@shop.example.com。"
    assert guard.unsupported("大約七個工作天喔，詳見 shop.example.com/refund", [faq]) == []
    assert guard.unsupported("請寄信到 help@shop.example.com", [faq]) == []
    assert guard.unsupported("大約 10 個工作天", [faq]) == ["number:10"]
    assert guard.unsupported("請看 https://shop.example.com/refund/../admin", [faq]) == [
        "link:shop.example.com/refund/../admin"
    ]
    assert guard.unsupported("寄到 evil@attacker.io", [faq]) == ["link:evil@attacker.io"]
    assert guard.unsupported("去 bit.ly/x 看看", [faq]) == ["link:bit.ly/x"]


def test_clean_output_and_script() -> None:
    assert guard.clean_output("<think>\nreasoning 42\n</think>\n「退款約 7 天」") == "退款約 7 天"
    assert guard.clean_output('"Hello"') == "Hello"
    assert guard.in_script("退款约 7 个工作天", "zh-TW") == "退款約 7 個工作天"
    assert guard.in_script("退款約 7 個工作天", "zh-CN") == "退款约 7 个工作天"


def test_llm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from kefu.core.config import Settings

    s = Settings(llm_base_url="http://127.0.0.1:11434/v1", llm_model="qwen2.5", llm_api_key="sk-secret")
    assert "sk-secret" not in repr(s) and s.llm_allow_networks == [] and s.llm_timeout == 8.0
    monkeypatch.setenv("KEFU_LLM_ALLOW_NETWORKS", "127.0.0.1/32, ::1/128")
    assert Settings().llm_allow_networks == ["127.0.0.1/32", "::1/128"]
    monkeypatch.setenv("KEFU_LLM_ALLOW_NETWORKS", '["10.0.0.1/8"]')
    assert Settings().llm_allow_networks == ["10.0.0.0/8"]
    monkeypatch.setenv("KEFU_LLM_ALLOW_NETWORKS", "localhost")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("KEFU_LLM_ALLOW_NETWORKS")
    with pytest.raises(ValidationError):
        Settings(llm_base_url="file:///etc/passwd")
    assert Settings(llm_base_url="").llm_base_url is None
