"""Brands, customers (tiers, identities, merge), conversations, tickets, pagination, isolation, errors."""

from __future__ import annotations

from typing import Any

from kefu.conversations.commands import CreateConversation


def test_brand_and_inbox_admin(client: Any, make: Any) -> None:
    h = make.token(make.agent("admin"))
    r = client.post("/api/v1/brands", json={"slug": "orange", "name": "橘子", "ticket_prefix": "OR"}, headers=h)
    assert r.status_code == 201, r.text
    bid = r.json()["id"]
    assert [t["level"] for t in r.json()["tiers"]] == [1, 2, 3]
    assert client.post("/api/v1/brands", json={"slug": "orange", "name": "dup"}, headers=h).status_code == 409
    r = client.post(
        f"/api/v1/brands/{bid}/inboxes",
        json={"kind": "line", "name": "LINE OA", "config": {"channel_secret": "s3cr3t"}},
        headers=h,
    )
    assert r.status_code == 201 and "config" not in r.json()
    assert client.post(f"/api/v1/brands/{bid}/inboxes", json={"kind": "fax", "name": "x"}, headers=h).status_code == 422
    bad_tz = client.post("/api/v1/brands", json={"slug": "tz", "name": "x", "timezone": "Mars/Base"}, headers=h)
    assert bad_tz.status_code == 422


def test_customer_tiers_follow_spend(client: Any, make: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    c = client.post(
        "/api/v1/customers",
        json={"brand_id": brand.id, "name": "王小明", "cumulative_spend": "9999"},
        headers=h,
    ).json()
    assert c["tier"] == 1
    c = client.post(f"/api/v1/customers/{c['id']}/purchases", json={"amount": "1"}, headers=h).json()
    assert c["tier"] == 2
    c = client.post(f"/api/v1/customers/{c['id']}/purchases", json={"amount": "40000"}, headers=h).json()
    assert c["tier"] == 3 and c["cumulative_spend"] == "50000.00"


def test_the_case_page_shows_the_customers_membership_tier_as_the_brand_names_it(client: Any, make: Any) -> None:
    """#21 on the agent's path: the tier reached by spend is next to the customer on the case, in three locales."""
    brand = make.brand()
    agent = make.agent("agent", [brand])
    h = make.token(agent)
    c = client.post(
        "/api/v1/customers", json={"brand_id": brand.id, "name": "王小明", "cumulative_spend": "50000"}, headers=h
    ).json()
    assert c["tier"] == 3
    t = client.post(
        "/api/v1/tickets", json={"brand_id": brand.id, "subject": "點數", "customer_id": c["id"]}, headers=h
    ).json()
    client.headers.pop("Authorization", None)
    client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    shown = (("zh-TW", "會員等級：金卡會員"), ("zh-CN", "会员等级：金卡会员"), ("en", "Membership tier: Gold member"))
    for lang, text in shown:
        page = client.get(f"/console/tickets/{t['id']}?lang={lang}")
        assert page.status_code == 200 and text in page.text.split('id="cust-h"')[1].split("</section>")[0], lang


def test_identities_link_and_merge_into_one_timeline(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.customers.service import find_or_create_by_identity

    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))  # pii:reveal: identities in cleartext (agents see them masked)
    web = client.post(
        "/api/v1/customers", json={"brand_id": brand.id, "name": "Amy", "email": "Amy@Example.com"}, headers=h
    ).json()
    assert {(i["kind"], i["external_id"]) for i in web["identities"]} == {("email", "amy@example.com")}
    # Email from the same address links to the same customer.
    same, created = find_or_create_by_identity(db, brand.id, "email", "amy@example.com")
    assert same.id == web["id"] and not created
    # A LINE user shows up as a separate customer until an agent merges them.
    line_cust, created = find_or_create_by_identity(db, brand.id, "line", "Uabc", "雅婷")
    assert created
    chat = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=web["id"], channel="web_chat"), actor=None
    )
    add_message(db, chat, sender_type="customer", body="chat first")
    mail = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=web["id"], channel="email"), actor=None
    )
    add_message(db, mail, sender_type="customer", body="then email")
    line = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=line_cust.id, channel="line"), actor=None
    )
    add_message(db, line, sender_type="customer", body="then LINE")
    db.commit()
    r = client.post(f"/api/v1/customers/{web['id']}/merge", json={"source_id": line_cust.id}, headers=h)
    assert r.status_code == 200, r.text
    assert ("line", "Uabc") in {(i["kind"], i["external_id"]) for i in r.json()["identities"]}
    tl = client.get(f"/api/v1/customers/{web['id']}/timeline", headers=h).json()["items"]
    assert [(m["body"], m["conversation_channel"]) for m in reversed(tl)] == [
        ("chat first", "web_chat"),
        ("then email", "email"),
        ("then LINE", "line"),
    ]
    # The merged record now resolves to the survivor.
    again, _ = find_or_create_by_identity(db, brand.id, "line", "Uabc")
    assert again.id == web["id"]
    assert (
        client.post(f"/api/v1/customers/{web['id']}/merge", json={"source_id": line_cust.id}, headers=h).status_code
        == 409
    )


def test_identity_conflict(client: Any, make: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    a = client.post("/api/v1/customers", json={"brand_id": brand.id, "email": "a@example.com"}, headers=h).json()
    b = client.post("/api/v1/customers", json={"brand_id": brand.id, "name": "b"}, headers=h).json()
    r = client.post(
        f"/api/v1/customers/{b['id']}/identities",
        json={"kind": "email", "external_id": "a@example.com"},
        headers=h,
    )
    assert r.status_code == 409 and str(a["id"]) in r.json()["detail"]


def test_ticket_numbers_lifecycle_and_first_response(client: Any, make: Any) -> None:
    brand = make.brand(ticket_prefix="TW")
    agent = make.agent("agent", [brand])
    h = make.token(agent)
    cust = client.post("/api/v1/customers", json={"brand_id": brand.id, "name": "李"}, headers=h).json()
    conv = client.post(
        "/api/v1/conversations",
        json={"brand_id": brand.id, "customer_id": cust["id"], "channel": "web_chat"},
        headers=h,
    ).json()
    t1 = client.post(
        "/api/v1/tickets",
        json={
            "brand_id": brand.id,
            "subject": "一",
            "customer_id": cust["id"],
            "conversation_id": conv["id"],
        },
        headers=h,
    ).json()
    t2 = client.post("/api/v1/tickets", json={"brand_id": brand.id, "subject": "二"}, headers=h).json()
    assert (t1["number"], t2["number"]) == ("TW-000001", "TW-000002")
    assert t1["status"] == "new"
    assert client.get("/api/v1/tickets/by-number/tw-000002", headers=h).json()["id"] == t2["id"]
    # Internal note does not count as a first response; a reply does.
    client.post(f"/api/v1/conversations/{conv['id']}/messages", json={"body": "note", "is_note": True}, headers=h)
    assert client.get(f"/api/v1/tickets/{t1['id']}", headers=h).json()["first_response_at"] is None
    client.post(f"/api/v1/conversations/{conv['id']}/messages", json={"body": "您好"}, headers=h)
    assert client.get(f"/api/v1/tickets/{t1['id']}", headers=h).json()["first_response_at"] is not None
    r = client.patch(f"/api/v1/tickets/{t1['id']}", json={"assignee_id": agent.id}, headers=h).json()
    assert r["status"] == "open" and r["assignee_id"] == agent.id
    r = client.patch(f"/api/v1/tickets/{t1['id']}", json={"status": "resolved"}, headers=h).json()
    assert r["resolved_at"] is not None
    r = client.patch(f"/api/v1/tickets/{t1['id']}", json={"status": "closed"}, headers=h).json()
    assert r["closed_at"] is not None
    bad = client.patch(f"/api/v1/tickets/{t1['id']}", json={"status": "pending"}, headers=h)
    assert bad.status_code == 409 and bad.headers["content-type"].startswith("application/problem+json")
    r = client.patch(f"/api/v1/tickets/{t1['id']}", json={"status": "open"}, headers=h).json()  # reopen
    assert r["status"] == "open" and r["closed_at"] is None


def test_ticket_filters_and_keyset_pagination(client: Any, make: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    ids = []
    for i in range(23):
        body = {
            "brand_id": brand.id,
            "subject": f"t{i}",
            "priority": "high" if i % 2 else "normal",
            "category": "refund" if i % 3 == 0 else "logistics",
            "tags": ["vip"] if i % 5 == 0 else [],
        }
        ids.append(client.post("/api/v1/tickets", json=body, headers=h).json()["id"])
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"brand_id": brand.id, "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/tickets", params=params, headers=h).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
    high = client.get(
        "/api/v1/tickets", params={"brand_id": brand.id, "priority": "high", "limit": 200}, headers=h
    ).json()["items"]
    assert len(high) == 11
    refunds = client.get(
        "/api/v1/tickets", params={"brand_id": brand.id, "category": "refund", "limit": 200}, headers=h
    ).json()["items"]
    assert len(refunds) == 8
    vip = client.get("/api/v1/tickets", params={"brand_id": brand.id, "tag": "vip", "limit": 200}, headers=h).json()[
        "items"
    ]
    assert len(vip) == 5
    by_created = client.get(
        "/api/v1/tickets", params={"brand_id": brand.id, "sort": "created_at", "limit": 3}, headers=h
    ).json()
    assert by_created["next_cursor"]
    bad = client.get("/api/v1/tickets", params={"cursor": "%%%not-a-cursor"}, headers=h)
    assert bad.status_code == 422


def test_cross_brand_isolation(client: Any, make: Any) -> None:
    a, b = make.brand(), make.brand()
    ha = make.token(make.agent("agent", [a]))
    hb = make.token(make.agent("agent", [b]))
    cust = client.post("/api/v1/customers", json={"brand_id": a.id, "name": "A's"}, headers=ha).json()
    t = client.post("/api/v1/tickets", json={"brand_id": a.id, "subject": "A only"}, headers=ha).json()
    assert client.get(f"/api/v1/customers/{cust['id']}", headers=hb).status_code == 404
    assert client.get(f"/api/v1/tickets/{t['id']}", headers=hb).status_code == 404
    assert client.get(f"/api/v1/customers/{cust['id']}/timeline", headers=hb).status_code == 404
    assert client.post("/api/v1/tickets", json={"brand_id": a.id, "subject": "x"}, headers=hb).status_code == 404
    assert all(x["id"] != t["id"] for x in client.get("/api/v1/tickets", headers=hb).json()["items"])
    assert [x["id"] for x in client.get("/api/v1/brands", headers=hb).json()] == [b.id]


def test_validation_errors_are_problem_json(client: Any, make: Any) -> None:
    h = make.token(make.agent("admin"))
    r = client.post("/api/v1/tickets", json={"subject": ""}, headers=h)
    assert r.status_code == 422
    body = r.json()
    assert body["title"] == "Validation failed" and body["errors"]
    assert client.get("/api/v1/tickets/999999", headers=h).json()["status"] == 404
    assert client.get("/api/v1/nope", headers=h).headers["content-type"].startswith("application/problem+json")


def test_message_dedupe_by_provider_id(db: Any, make: Any) -> None:
    from kefu.conversations.service import add_message, create_conversation

    brand = make.brand()
    cust = make.customer(brand, name="x")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="line"), actor=None
    )
    m1, created1 = add_message(db, conv, sender_type="customer", body="hi", provider_message_id="evt-1")
    m2, created2 = add_message(db, conv, sender_type="customer", body="hi", provider_message_id="evt-1")
    assert created1 and not created2 and m1.id == m2.id


def test_conversation_assign_and_messages_resume(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("agent", [brand])
    h = make.token(agent)
    cust = client.post("/api/v1/customers", json={"brand_id": brand.id}, headers=h).json()
    conv = client.post(
        "/api/v1/conversations", json={"brand_id": brand.id, "customer_id": cust["id"]}, headers=h
    ).json()
    for i in range(5):
        client.post(f"/api/v1/conversations/{conv['id']}/messages", json={"body": f"m{i}"}, headers=h)
    first = client.get(f"/api/v1/conversations/{conv['id']}/messages", params={"limit": 2}, headers=h).json()
    assert [m["body"] for m in first["items"]] == ["m0", "m1"]
    rest = client.get(
        f"/api/v1/conversations/{conv['id']}/messages", params={"after_id": first["next_after_id"]}, headers=h
    ).json()
    assert [m["body"] for m in rest["items"]] == ["m2", "m3", "m4"] and rest["next_after_id"] is None
    r = client.patch(
        f"/api/v1/conversations/{conv['id']}", json={"assignee_id": agent.id, "status": "pending"}, headers=h
    )
    assert r.json()["assignee_id"] == agent.id and r.json()["status"] == "pending"
    mine = client.get("/api/v1/conversations", params={"assignee_id": agent.id}, headers=h).json()["items"]
    assert [c["id"] for c in mine] == [conv["id"]]


def test_organizations_and_kb(client: Any, make: Any) -> None:
    brand = make.brand()
    sup = make.token(make.agent("supervisor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    team = client.post("/api/v1/teams", json={"brand_id": brand.id, "slug": "b2b", "name": "法人"}, headers=sup).json()
    org = client.post(
        "/api/v1/organizations",
        json={"brand_id": brand.id, "name": "晨光科技", "dedicated_team_id": team["id"]},
        headers=sup,
    )
    assert org.status_code == 201 and org.json()["dedicated_team_id"] == team["id"]
    cust = client.post(
        "/api/v1/customers", json={"brand_id": brand.id, "organization_id": org.json()["id"]}, headers=agent
    ).json()
    t = client.post(
        "/api/v1/tickets",
        json={"brand_id": brand.id, "subject": "B2B", "customer_id": cust["id"]},
        headers=agent,
    ).json()
    assert t["organization_id"] == org.json()["id"]
    faq = {
        "brand_id": brand.id,
        "locale": "zh-TW",
        "questions": ["忘記密碼", " 忘記密碼 ", "重設密碼"],
        "answer": "請點忘記密碼",
    }
    assert client.post("/api/v1/kb/faqs", json=faq, headers=agent).status_code == 403
    r = client.post("/api/v1/kb/faqs", json=faq, headers=sup)
    assert r.status_code == 201 and r.json()["questions"] == ["忘記密碼", "重設密碼"]
    assert len(client.get("/api/v1/kb/faqs", params={"brand_id": brand.id}, headers=agent).json()) == 1


def test_out_of_range_ids_are_422_not_500(client: Any, make: Any) -> None:
    h = make.token(make.agent("admin"))
    r = client.get(f"/api/v1/tickets/{2**70}", headers=h)
    assert r.status_code in (404, 422), r.text
    r = client.get(f"/api/v1/customers/{2**63}", headers=h)
    assert r.status_code in (404, 422), r.text


def test_a_created_customer_answers_what_a_read_answers(client: Any, make: Any) -> None:
    """The create's answer and a later GET agree (it said spend "0" where the stored Numeric(14, 2) reads "0.00")."""
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    for spend in ({}, {"cumulative_spend": "12.5"}):
        created = client.post("/api/v1/customers", json={"brand_id": brand.id, "name": "王小明", **spend}, headers=h)
        assert created.status_code == 201, created.text
        read = client.get(f"/api/v1/customers/{created.json()['id']}", headers=h)
        assert created.json() == read.json()
        assert created.json()["cumulative_spend"] == ("12.50" if spend else "0.00")


def test_brands_never_share_a_ticket_prefix(client: Any, make: Any, db: Any) -> None:
    """Numbers are drawn per brand and unique install-wide: two brands on one prefix both drew KF-000001 and the
    second brand could open no ticket (an IntegrityError on every create, inbound mail and chat included)."""
    from kefu.tickets.creation import create_ticket

    a, b = make.brand(), make.brand()  # neither names a prefix
    assert a.ticket_prefix != b.ticket_prefix
    numbers = []
    for brand in (a, b):
        customer = make.customer(brand, name="客戶")
        numbers.append(create_ticket(db, brand_id=brand.id, customer_id=customer.id, subject="s", actor=None).number)
        db.commit()
    assert numbers[0] != numbers[1] and all(n.endswith("-000001") for n in numbers)
    h = make.token(make.agent("admin")) | {"Accept-Language": "zh-TW"}
    body = {"slug": "third", "name": "x", "ticket_prefix": a.ticket_prefix}
    taken = client.post("/api/v1/brands", json=body, headers=h)
    assert taken.status_code == 409 and a.ticket_prefix in taken.json()["detail"], taken.text
    assert "前綴" in taken.json()["detail"]
    free = client.post("/api/v1/brands", json={"slug": "third-shop", "name": "x"}, headers=h)
    assert free.status_code == 201 and free.json()["ticket_prefix"] not in {a.ticket_prefix, b.ticket_prefix}


def test_free_prefix_follows_the_slug() -> None:
    """KF first; then the slug's letters and digits (a leading digit dropped), numbered when taken, ≤ 8 characters."""
    from unittest.mock import MagicMock

    from kefu.brands.service import free_prefix

    def pick(slug: str, taken: set[str]) -> str:
        session = MagicMock()
        session.scalars.return_value = list(taken)
        return free_prefix(session, slug)

    assert pick("orange", set()) == "KF"
    assert pick("orange-mall", {"KF"}) == "ORANGE"
    assert pick("orange-mall", {"KF", "ORANGE"}) == "ORANGE2"
    assert pick("9-lives", {"KF"}) == "LIVES"
    assert pick("---", {"KF"}) == "B"
    long = pick("abcdefghij", {"KF", "ABCDEF", *{f"ABCDEF{n}" for n in range(2, 10)}})
    assert long == "ABCDEF10" and len(long) <= 8


def test_customer_timeline_is_ordered_by_message_time_not_id(client: Any, make: Any, db: Any) -> None:
    from datetime import UTC, datetime

    from kefu.conversations.service import add_message, create_conversation

    brand = make.brand()
    customer = make.customer(brand, name="王小明", email="ming@example.com")
    h = make.token(make.agent("agent", [brand]))
    mail = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="email"), actor=None
    )
    chat = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=customer.id, channel="web_chat"), actor=None
    )
    db.flush()
    # Today's e-mail was stored first (lowest id, e.g. an import or a slow mail fetch); the chats are from November.
    today, _ = add_message(db, mail, sender_type="customer", body="今天的信")
    today.created_at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    times = [datetime(2026, 11, d, 10, 0, tzinfo=UTC) for d in (3, 20, 20)]  # the last two at the same instant
    olds = []
    for i, at in enumerate(times):
        m, _ = add_message(db, chat, sender_type="customer", body=f"十一月 {i}")
        m.created_at = at
        olds.append(m)
    db.commit()
    newest_first = [today.id, olds[2].id, olds[1].id, olds[0].id]  # created_at desc, id desc on a tie

    r = client.get(f"/api/v1/customers/{customer.id}/timeline", headers=h)
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == newest_first
    # Pages follow the same order: each next_cursor (given back as before_id) continues where the page ended.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"before_id": cursor} if cursor else {})}
        page = client.get(f"/api/v1/customers/{customer.id}/timeline", params=params, headers=h).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first

    # One statement per page, still bounded (LIMIT) and, on SQLite, led by an index on the customer's conversations
    # and the messages' (conversation_id, created_at, id) index, which the seek reads as a range (created_at < the
    # cursor's) instead of every message of each conversation: a top-N sort of this customer's remaining rows only.
    from sqlalchemy import event

    from kefu.conversations.service import customer_timeline

    statements: list[tuple[str, Any]] = []
    engine = db.get_bind().engine

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not statement.upper().startswith(("SAVEPOINT", "RELEASE")):  # the test session's own savepoints
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        rows, nxt = customer_timeline(db, customer, before_id=olds[2].id, limit=1, include_notes=True)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert [m.id for m, _ in rows] == [olds[1].id] and nxt == olds[1].id
    assert len(statements) == 1 and "LIMIT" in statements[0][0].upper()
    if engine.dialect.name == "sqlite":
        plan = " ".join(
            str(r) for r in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statements[0][0], statements[0][1])
        )
        assert "SEARCH conversations USING INDEX ix_conversations_customer" in plan, plan  # _id or _created
        assert "ix_messages_conversation_created_id (conversation_id=? AND created_at<?)" in plan, plan
        assert "SCAN messages" not in plan, plan


def test_migration_2780_gives_brands_sharing_a_prefix_their_own(tmp_path: Any) -> None:
    """Brands that already share a prefix: the oldest keeps it, the others get one from their slug, then the
    database refuses a shared prefix (SQLite; the migration's SQL is plain UPDATE + a unique constraint)."""
    import pytest
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import IntegrityError

    from kefu.core.migrate import upgrade
    from tests.migration_rows import brand

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "2770")
    engine = create_engine(url)
    with engine.begin() as conn:
        for bid, slug, prefix in ((1, "orange", "KF"), (2, "kf", "KF"), (3, "apple-store", "KF"), (4, "pear", "PR")):
            brand(conn, bid, slug, prefix)
    upgrade(url, "2780")
    with engine.begin() as conn:
        prefixes = dict(conn.execute(text("SELECT id, ticket_prefix FROM brands")).all())
    assert prefixes == {1: "KF", 2: "KF2", 3: "APPLES", 4: "PR"}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        brand(conn, 5, "late", "PR")
