"""Side paths in three locales: SLA target names, service tiers and brand time zones are the reader's language."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_admin_pages import _login

ENGLISH_SEED_LABELS = ("reply within", "business day", "dispute closure", "status update every", "CSAT survey within")


@pytest.mark.parametrize(
    ("lang", "first_response", "milestone"),
    [
        ("zh-TW", "首次回覆：上班時間 8 小時內", "成立專案小組：24 小時內"),
        ("zh-CN", "首次响应：8 个工作小时内", "成立专项小组：24 小时内"),
        ("en", "First response: within 8 business hours", "Task force formed: within 24 hours"),
    ],
)
def test_sla_targets_named_in_the_page_locale(
    client: Any, make: Any, db: Any, lang: str, first_response: str, milestone: str
) -> None:
    from kefu.sla.service import install_defaults
    from kefu.tickets.service import create_ticket

    brand = make.brand(default_locale=lang)
    admin = make.agent("admin", [brand])
    install_defaults(db, brand.id, None)
    ticket = create_ticket(db, actor=None, brand_id=brand.id, subject="查詢", description="d")
    db.commit()
    _login(client, admin)
    case = client.get(f"/console/tickets/{ticket.id}", params={"lang": lang})
    assert case.status_code == 200
    assert first_response in case.text
    admin_sla = client.get("/admin", params={"tab": "sla", "brand_id": brand.id, "lang": lang}).text
    assert milestone in admin_sla
    for internal in ("task_force", "identity_verified"):
        assert f">{internal}" not in admin_sla and f"{internal} (" not in admin_sla
    settings = client.get("/admin", params={"tab": "brands", "lang": lang}).text
    if lang != "en":
        for english in ENGLISH_SEED_LABELS:
            assert english not in case.text and english not in settings, english


def test_zone_names_with_offset() -> None:
    from datetime import UTC, datetime

    from kefu.core.l10n import format_zone

    winter = datetime(2026, 1, 15, tzinfo=UTC)
    assert format_zone("Asia/Taipei", "zh-TW", winter) == "台灣時間（UTC+8）"
    assert format_zone("Asia/Taipei", "zh-CN", winter) == "台湾时间（UTC+8）"
    assert format_zone("Asia/Taipei", "en", winter) == "Taiwan Time (UTC+8)"
    assert format_zone("America/New_York", "en", winter) == "United States (New York) Time (UTC-5)"
    assert format_zone("America/New_York", "en", datetime(2026, 7, 1, tzinfo=UTC)).endswith("(UTC-4)")  # DST
    assert format_zone("Asia/Kolkata", "zh-TW", winter) == "印度時間（UTC+5:30）"
    assert format_zone("UTC", "zh-CN", winter) == "协调世界时（UTC）"


@pytest.mark.parametrize(("lang", "name"), [("zh-TW", "台灣時間"), ("zh-CN", "台湾时间"), ("en", "Taiwan Time")])
def test_pages_show_the_brand_zone_by_name(client: Any, make: Any, db: Any, lang: str, name: str) -> None:
    from kefu.conversations.commands import CreateConversation
    from kefu.conversations.service import create_conversation

    brand = make.brand(timezone="Asia/Taipei")
    cust = make.customer(brand, name="王小明")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat"), actor=None
    )
    db.commit()
    _login(client, make.agent("admin", [brand]))
    page = client.get(f"/console/conversations/{conv.id}", params={"lang": lang}).text
    assert f"{name}（UTC+8）" in page or f"{name} (UTC+8)" in page
    assert "Asia/Taipei" not in page
    brands = client.get("/admin", params={"tab": "brands", "lang": lang}).text
    assert f'<option value="Asia/Taipei" label="{name}' in brands
