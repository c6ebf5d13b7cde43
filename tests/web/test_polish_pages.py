"""Console screens rendered over HTTP: empty states that say what to do next, localized notification lists."""

from __future__ import annotations

import re
from typing import Any

from tests.web.test_ticket_list import _login


def test_inbox_empty_states_guide_the_agent(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    h = _login(client, agent)
    mine = client.get("/console")
    assert mine.status_code == 200
    assert "目前沒有指派給你的對話" in mine.text and 'href="/console?view=unassigned"' in mine.text
    assert 'placeholder="🔍 搜尋這個檢視' in mine.text  # the search field says what it searches
    found = client.get("/console", params={"view": "unassigned", "q": "不存在的字"}, headers=h)
    assert "找不到符合「不存在的字」的對話" in found.text and 'href="/console?view=unassigned"' in found.text
    en = client.get("/console", params={"view": "vip", "lang": "en"})
    assert "Nothing in this view right now." in en.text and 'href="/console?view=all"' in en.text


def test_notification_list_labels_every_kind_and_formats_times(client: Any, make: Any, db: Any) -> None:
    from kefu.sla.notifications import localized, notify

    brand = make.brand()
    agent = make.agent("agent", [brand])
    notify(
        db,
        [agent.id],
        "follow_up.due",
        localized("notif_follow_up_due", number="T-9", attempt=1, of=3),
        brand_id=brand.id,
    )
    db.commit()
    _login(client, agent)
    page = client.get("/console/notifications")
    assert page.status_code == 200
    assert "回訪到期：T-9（第 1/3 次）" in page.text and '<span class="badge">回訪</span>' in page.text
    stamp = page.text.split("<time", 1)[1].split("</time>", 1)[0].split(">", 1)[1]
    assert re.search(r"\d{4}/\d{1,2}/\d{1,2}", stamp) and "-" not in stamp, stamp  # 2026/12/6 14:51, not 12-06


def test_demo_shop_and_widget_follow_the_chosen_language(
    client: Any, make: Any, db: Any, settings: Any, monkeypatch: Any
) -> None:
    from kefu.brands.service import create_inbox

    monkeypatch.setattr(settings, "demo_mode", True)
    brand = make.brand()
    create_inbox(db, brand, kind="web_chat", name="Chat", config={}, actor=None)
    db.commit()
    shop = client.get("/demo/shop", params={"lang": "zh-CN", "brand": brand.slug})
    assert shop.status_code == 200, shop.text
    assert 'data-locale="zh-CN"' in shop.text and "演示商店" in shop.text and "Demo storefront" not in shop.text
    js = client.get("/api/v1/widget/widget.js").text
    assert "请直接输入您的问题" in js and "Type your question below" in js


def test_help_centre_counts_one_item_in_the_singular() -> None:
    from kefu.core.catalog import table

    assert table("en")["hc_items_one"].format(n=1) == "1 item" and table("en")["hc_items"].format(n=2) == "2 items"


def test_empty_notification_and_follow_up_lists_say_what_will_appear(client: Any, make: Any) -> None:
    agent = make.agent("agent", [make.brand()])
    _login(client, agent)
    assert "目前沒有通知。案件指派給你" in client.get("/console/notifications").text
    pending = client.get("/console/follow-ups").text
    assert "系統會依回訪規則自動排定回訪" in pending and 'aria-current="page">待回訪' in pending
    assert "No follow-ups completed yet." in client.get("/console/follow-ups?status=done&lang=en").text


def test_case_activity_of_a_merge_is_in_the_readers_language(client: Any, make: Any) -> None:
    brand = make.brand()
    admin = make.agent("admin")
    token = make.token(admin)
    src, dst = (
        client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": s}, headers=token).json()
        for s in ("重複的問題", "原本的問題")
    )
    r = client.post(f"/api/v1/tickets/{dst['id']}/merge", json={"source_ids": [src["id"]]}, headers=token)
    assert r.status_code == 200, r.text
    _login(client, admin)
    page = client.get(f"/console/tickets/{src['id']}?lang=en").text
    assert f'Merged into <a href="/console/tickets/{dst["id"]}">{dst["number"]}</a>' in page
    assert "此案件已合併至" not in page
    target = client.get(f"/console/tickets/{dst['id']}?lang=zh-CN").text
    assert f'已并入工单 <a href="/console/tickets/{src["id"]}">{src["number"]}</a>' in target
