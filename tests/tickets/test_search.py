"""Ticket search (list_tickets q / GET /api/v1/tickets?q=): conversation content, zh-Hant/zh-Hans, English, PII."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from kefu.conversations.commands import CreateConversation
from tests.tickets.helpers import admin_principal


def _ticket_with_messages(db: Any, brand: Any, customer: Any, subject: str, *bodies: str, **kw: Any) -> Any:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.tickets.service import create_ticket

    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="web_chat"), actor=None
    )
    for i, body in enumerate(bodies):
        add_message(db, conv, sender_type="customer" if i % 2 == 0 else "agent", body=body)
    t = create_ticket(db, brand_id=brand.id, subject=subject, actor=None, conversation_id=conv.id, **kw)
    db.commit()
    return t


def _numbers(db: Any, principal: Any, q: str, **kw: Any) -> set[str]:
    from kefu.tickets.service import list_tickets

    rows, _ = list_tickets(db, principal, q=q, limit=200, **kw)
    return {t.number for t in rows}


def test_tokens_fold_scripts_case_and_mask_pii() -> None:
    from kefu.tickets.search import query_tokens, tokens

    assert tokens("我的帳戶無法登入") == tokens("我的账户无法登入")
    assert tokens("帳戶") == ["账户"] and tokens("錢") == ["钱"]
    assert tokens("Refund DELAYED") == ["refund", "delayed"]
    assert "0912345678" not in tokens("電話 0912345678")
    assert "wang" not in tokens("email wang@example.com")
    assert query_tokens("退款 進度") == ["退款", "进度"]
    assert query_tokens("Ref-AB 退") == ["ref", "ab", "退"]
    assert query_tokens("!!!") == []


def test_traditional_query_finds_simplified_message_and_back(db: Any, make: Any) -> None:
    brand = make.brand()
    cust = make.customer(brand, name="客戶")
    admin = admin_principal(make.agent("admin"))
    hans = _ticket_with_messages(db, brand, cust, "问题", "我的账户被冻结了，无法登录", "请提供订单编号")
    hant = _ticket_with_messages(db, brand, cust, "問題", "發票還沒有寄到", "我們會重新開立發票")
    other = _ticket_with_messages(db, brand, cust, "其他", "謝謝你的幫忙")

    assert _numbers(db, admin, "帳戶被凍結") == {hans.number}  # zh-Hant query, zh-Hans message
    assert _numbers(db, admin, "帳戶凍結") == set()  # bigrams: 户冻 is not in the text
    assert _numbers(db, admin, "账户 冻结") == {hans.number}
    assert _numbers(db, admin, "发票") == {hant.number}  # zh-Hans query, zh-Hant message
    assert _numbers(db, admin, "開立 發票") == {hant.number}
    assert _numbers(db, admin, "冻") == set()  # a lone character only matches a lone character
    assert _numbers(db, admin, "發票 凍結") == set()  # every word must occur in the ticket
    assert other.number not in _numbers(db, admin, "订单")


def test_english_case_insensitive_words_and_ticket_number(db: Any, make: Any) -> None:
    brand = make.brand(ticket_prefix="SR")
    cust = make.customer(brand)
    admin = admin_principal(make.agent("admin"))
    a = _ticket_with_messages(db, brand, cust, "Shipping", "Where is my PARCEL?", "It left our Warehouse today.")
    b = _ticket_with_messages(db, brand, cust, "Refund request", "Please refund order PO-1234567")

    assert _numbers(db, admin, "parcel") == {a.number}
    assert _numbers(db, admin, "WAREHOUSE today") == {a.number}
    assert _numbers(db, admin, "wareh") == set()  # whole words only
    assert _numbers(db, admin, "REFUND") == {b.number}  # subject and message
    assert _numbers(db, admin, "po-1234567") == {b.number}
    assert _numbers(db, admin, b.number.lower()) == {b.number}
    assert _numbers(db, admin, f"  {a.number} ") == {a.number}
    assert _numbers(db, admin, "parcel refund") == set()


def test_search_follows_later_messages_subject_edits_and_split(db: Any, make: Any) -> None:
    from sqlalchemy import select

    from kefu.conversations.models import Conversation
    from kefu.conversations.service import add_message
    from kefu.tickets.service import split_ticket, update_ticket

    brand = make.brand()
    cust = make.customer(brand)
    admin = admin_principal(make.agent("admin"))
    t = _ticket_with_messages(db, brand, cust, "Login problem", "cannot log in")
    conv = db.scalar(select(Conversation).where(Conversation.ticket_id == t.id))
    add_message(db, conv, sender_type="agent", body="請清除瀏覽器快取", is_note=True)
    db.commit()
    assert _numbers(db, admin, "浏览器缓存") == set()  # 快取 ≠ 缓存: words, not meanings
    assert _numbers(db, admin, "瀏覽器") == {t.number}  # internal notes are searchable for agents

    update_ticket(db, t, admin, {"subject": "Password reset"})
    db.commit()
    assert _numbers(db, admin, "password") == {t.number}
    assert _numbers(db, admin, "login") == set()  # old subject gone
    assert _numbers(db, admin, "cannot") == {t.number}

    child = split_ticket(db, t, admin, subject="Split off", conversation_ids=[conv.id])
    db.commit()
    assert _numbers(db, admin, "瀏覽器") == {child.number}


def test_merge_moves_search_content(db: Any, make: Any) -> None:
    from kefu.tickets.service import merge_tickets

    brand = make.brand()
    cust = make.customer(brand)
    admin = admin_principal(make.agent("admin"))
    target = _ticket_with_messages(db, brand, cust, "A", "first thing")
    source = _ticket_with_messages(db, brand, cust, "B", "退貨流程")
    merge_tickets(db, target, [source], admin)
    db.commit()
    assert _numbers(db, admin, "退货") == {target.number}


def test_no_cross_brand_leakage(db: Any, make: Any) -> None:
    b1, b2 = make.brand(ticket_prefix="AA"), make.brand(ticket_prefix="BB")
    t1 = _ticket_with_messages(db, b1, make.customer(b1), "x", "包裹破損")
    t2 = _ticket_with_messages(db, b2, make.customer(b2), "y", "包裹破损")
    agent1 = make.agent("agent", [b1])
    from kefu.auth.permissions import Principal, permissions_for

    p1 = Principal(
        agent_id=agent1.id,
        email=agent1.email,
        name=agent1.name,
        role="agent",
        permissions=permissions_for("agent"),
        brand_ids=frozenset({b1.id}),
        via="token",
        credential_id=0,
    )
    assert _numbers(db, p1, "包裹") == {t1.number}
    assert _numbers(db, p1, t2.number) == set()
    assert _numbers(db, admin_principal(make.agent("admin")), "包裹") == {t1.number, t2.number}


def test_raw_pii_is_not_searchable_and_erasure_clears_text(db: Any, make: Any) -> None:
    from kefu.privacy.service import erase_customer

    brand = make.brand()
    cust = make.customer(brand, name="王小明")
    admin = admin_principal(make.agent("admin"))
    t = _ticket_with_messages(
        db, brand, cust, "聯絡資料", "我的手機 0912345678，email xiaoming.wang@example.com，想問退款進度"
    )
    assert _numbers(db, admin, "退款") == {t.number}
    assert _numbers(db, admin, "0912345678") == set()
    assert _numbers(db, admin, "xiaoming.wang@example.com") == set()
    assert _numbers(db, admin, "xiaoming") == set()

    erase_customer(db, cust.id, admin, reason="test")
    db.commit()
    assert _numbers(db, admin, "退款") == set()  # the customer's own text is erased, and so is its index
    assert _numbers(db, admin, t.number) == {t.number}


def test_pagination_with_q_via_api(client: Any, db: Any, make: Any) -> None:
    brand = make.brand()
    cust = make.customer(brand)
    agent = make.agent("agent", [brand])
    made = {
        _ticket_with_messages(db, brand, cust, f"第 {i} 件", "包裹延遲送達", "已為您查詢物流").number for i in range(7)
    }
    _ticket_with_messages(db, brand, cust, "無關", "謝謝")
    seen: list[str] = []
    cursor = None
    headers = make.token(agent)
    for _ in range(10):
        params: dict[str, Any] = {"q": "包裹 延迟", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/api/v1/tickets", params=params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [t["number"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made
    r = client.get("/api/v1/tickets", params={"q": "包裹", "status": ["closed"]}, headers=headers)
    assert r.json()["items"] == []


def test_backfill_builds_missing_documents(db: Any, make: Any) -> None:
    from sqlalchemy import update

    from kefu.tickets.models import Ticket
    from kefu.tickets.search import backfill

    brand = make.brand()
    admin = admin_principal(make.agent("admin"))
    t = _ticket_with_messages(db, brand, make.customer(brand), "舊資料", "保固維修申請")
    db.execute(update(Ticket).where(Ticket.id == t.id).values(search_vector=None))
    db.commit()
    assert _numbers(db, admin, "维修") == set()
    assert backfill(db.connection()) >= 1
    assert _numbers(db, admin, "维修") == {t.number}


def test_postgresql_rare_token_prefetch_and_ordered_fallback_agree(db: Any, make: Any, monkeypatch: Any) -> None:
    """Rare tokens page from prefetched ids; over the cap, or with all tokens common, the ordered plan is used."""
    import pytest

    from kefu.tickets import search

    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL planning only")
    brand = make.brand()
    cust = make.customer(brand)
    admin = admin_principal(make.agent("admin"))
    made = [_ticket_with_messages(db, brand, cust, f"Order {i}", "refund for PO-7654321 please") for i in range(4)]
    other = _ticket_with_messages(db, brand, cust, "Other", "refund for PO-1111111 please")
    everything = {t.number for t in made}
    conn = db.connection()

    # Unanalyzed table: no statistics, so every token is rare and the ids come from the GIN index.
    monkeypatch.setattr(search, "common_lexemes", lambda c: frozenset())
    assert sorted(search.prefetch_rare(conn, ["po", "7654321"]) or []) == sorted(t.id for t in made)
    assert search.prefetch_rare(conn, ["po", "0000000"]) == []
    assert _numbers(db, admin, "PO-7654321") == everything
    assert _numbers(db, admin, "PO-0000000") == set()
    assert _numbers(db, admin, other.number) == {other.number}  # the number still matches outside the prefetch
    assert db.execute(text("SELECT current_setting('enable_seqscan')")).scalar() == "on"  # restored

    # More matches than the cap: the ordered plan (same answer, paged by the keyset).
    monkeypatch.setattr(search, "PREFETCH_CAP", 2)
    assert search.prefetch_rare(conn, ["refund"]) is None
    assert _numbers(db, admin, "refund") == everything | {other.number}
    assert _numbers(db, admin, "PO-7654321") == everything

    # Every token tracked by pg_stats: the planner's estimates are real, no prefetch.
    monkeypatch.setattr(search, "common_lexemes", lambda c: frozenset({"po", "7654321"}))
    assert search.prefetch_rare(conn, ["po", "7654321"]) is None
    assert _numbers(db, admin, "po 7654321") == everything


def test_common_lexemes_reads_pg_stats_after_analyze(db: Any, make: Any) -> None:
    """After ANALYZE, lexemes in most tickets are known to the planner and an unseen one is not."""
    import pytest

    from kefu.tickets import search

    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL statistics only")
    brand = make.brand()
    cust = make.customer(brand)
    for i in range(30):
        _ticket_with_messages(db, brand, cust, f"包裹 {i}", f"package delayed PO-{i:07d}")
    conn = db.connection()
    conn.execute(text("ANALYZE tickets"))
    search._common_cache.clear()
    try:
        common = search.common_lexemes(conn)
    finally:
        search._common_cache.clear()
    assert {"package", "delayed", "包裹"} <= common
    assert "never-seen" not in common
