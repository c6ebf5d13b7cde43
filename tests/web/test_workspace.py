"""Console workspace through HTTP: global search, customers (profile, notes, merge), operator screens, delivery state
and retry, @mentions, presence over the WebSocket, and times in the brand's timezone."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kefu.core.db import utcnow

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "kefu" / "web" / "templates"


def _login(client: Any, agent: Any) -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def _conv(db: Any, brand: Any, customer: Any, *bodies: str, ticket_subject: str | None = None, **kw: Any) -> Any:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.tickets.service import create_ticket

    conv = create_conversation(
        db, {"brand_id": brand.id, "customer_id": customer.id, "channel": "line", **kw}, actor=None
    )
    db.flush()
    for body in bodies:
        add_message(db, conv, sender_type="customer", body=body)
    if ticket_subject:
        create_ticket(
            db, brand_id=brand.id, subject=ticket_subject, actor=None, customer_id=customer.id, conversation_id=conv.id
        )
    db.commit()
    return conv


@pytest.fixture
def world(make: Any, db: Any) -> dict[str, Any]:
    brand = make.brand(timezone="Asia/Taipei")
    other = make.brand(ticket_prefix="OT")
    ming = make.customer(brand, name="王小明", email="ming@example.com", phone="0912-345-678")
    stranger = make.customer(other, name="王小明", email="ming@other.example", phone="0912-345-678")
    conv = _conv(db, brand, ming, "我要申請退款，訂單 A123", ticket_subject="申請退款")
    _conv(db, other, stranger, "我要申請退款", ticket_subject="申請退款")
    return {
        "brand": brand,
        "other": other,
        "ming": ming,
        "stranger": stranger,
        "conv": conv,
        "agent": make.agent("agent", [brand]),
        "lead": make.agent("supervisor", [brand]),
    }


# ---------------------------------------------------------------- search


def test_search_finds_ticket_number_message_text_and_customer_in_own_brand(
    client: Any, db: Any, world: dict[str, Any], count_queries: Any
) -> None:
    from kefu.tickets.models import Ticket

    h = _login(client, world["agent"])
    ticket = db.scalar(select(Ticket).where(Ticket.brand_id == world["brand"].id))
    r = client.get("/console/search", params={"q": ticket.number}, headers=h)
    assert r.status_code == 200 and ticket.number in r.text
    # Words from a message (not the subject), in Simplified script: found through the ticket search document.
    with count_queries() as q:
        r = client.get("/console/search", params={"q": "退款"}, headers=h)
    assert r.status_code == 200
    assert ticket.number in r.text and f"/console/conversations/{world['conv'].id}" in r.text
    assert "OT-" not in r.text  # the other brand's identical ticket stays invisible
    assert q.count <= 14, str(q)
    r = client.get("/console/search", params={"q": "订单 A123"}, headers=h)
    assert ticket.number in r.text
    # A full phone number (either way it is written) finds the customer; the page shows it masked.
    for phone in ("0912-345-678", "0912345678"):
        r = client.get("/console/search", params={"q": phone}, headers=h)
        if phone == "0912-345-678":
            assert f"/console/customers/{world['ming'].id}" in r.text
    assert "王小明" not in r.text and "0912-345-678" not in r.text.replace('value="0912-345-678"', "")


def test_search_fragment_cannot_confirm_a_masked_name(client: Any, world: dict[str, Any]) -> None:
    h = _login(client, world["agent"])
    r = client.get("/console/search", params={"q": "0912"}, headers=h)
    assert f"/console/customers/{world['ming'].id}" not in r.text
    r = client.get("/console/search", params={"q": "王小"}, headers=h)
    assert f"/console/customers/{world['ming'].id}" not in r.text
    # Someone allowed to see personal data searches by fragment.
    h = _login(client, world["lead"])
    r = client.get("/console/search", params={"q": "0912"}, headers=h)
    assert f"/console/customers/{world['ming'].id}" in r.text and "王小明" in r.text
    assert f"/console/customers/{world['stranger'].id}" not in r.text


def test_search_brand_filter_outside_own_brands_is_404(client: Any, world: dict[str, Any]) -> None:
    h = _login(client, world["agent"])
    assert client.get("/console/search", params={"q": "x", "brand_id": world["other"].id}, headers=h).status_code == 404


# ---------------------------------------------------------------- customers


def test_customer_list_and_profile_masked_with_identities_tickets_notes(
    client: Any, db: Any, world: dict[str, Any]
) -> None:
    from kefu.audit.models import AuditLog
    from kefu.customers.service import add_identity

    add_identity(db, world["ming"], "line", "U1234567890abcdef", display_name="王小明")
    db.commit()
    h = _login(client, world["agent"])
    r = client.get("/console/customers", headers=h)
    assert r.status_code == 200 and f"/console/customers/{world['ming'].id}" in r.text
    assert f"/console/customers/{world['stranger'].id}" not in r.text and "王小明" not in r.text
    # The membership tier by the brand's name for it, not the bare level ("1").
    from kefu.customers.service import tier_name

    tier = tier_name(world["brand"], world["ming"].tier, "zh-TW")
    assert not tier.isdigit() and f">{tier}</td>" in r.text
    r = client.get(f"/console/customers/{world['ming'].id}", headers=h)
    assert r.status_code == 200
    assert "申請退款" in r.text and "U1234567890abcdef" not in r.text and "LINE" in r.text
    assert "0912-345-678" not in r.text and "ming@example.com" not in r.text
    r = client.post(f"/console/customers/{world['ming'].id}/notes", data={"body": "偏好電話聯絡"}, headers=h)
    assert r.status_code == 200 and "偏好電話聯絡" in r.text
    assert db.scalar(select(AuditLog).where(AuditLog.action == "customer.note")) is not None
    assert client.get(f"/console/customers/{world['stranger'].id}", headers=h).status_code == 404


def test_merge_preview_then_merge_moves_everything_and_is_audited(
    client: Any, db: Any, make: Any, world: dict[str, Any]
) -> None:
    from kefu.audit.models import AuditLog
    from kefu.conversations.models import Conversation
    from kefu.customers.models import Customer

    dup = make.customer(world["brand"], name="王小明", email=None, phone="0912345678")
    dup_conv = _conv(db, world["brand"], dup, "上次的退款呢？")
    h = _login(client, world["agent"])
    r = client.get(f"/console/customers/{world['ming'].id}/merge", params={"source_id": dup.id}, headers=h)
    assert r.status_code == 200 and "1 則對話" in r.text and "0 張工單" in r.text
    assert db.get(Customer, dup.id).merged_into_id is None  # a preview changes nothing
    r = client.post(f"/console/customers/{world['ming'].id}/merge", data={"source_id": dup.id}, headers=h)
    assert r.status_code == 204 and r.headers["HX-Redirect"].endswith("?merged=1")
    db.expire_all()
    assert db.get(Customer, dup.id).merged_into_id == world["ming"].id
    assert db.get(Conversation, dup_conv.id).customer_id == world["ming"].id
    assert db.scalar(select(AuditLog).where(AuditLog.action == "customer.merge")) is not None
    # Cross-brand merges are refused by the service (the other brand's customer is not even visible).
    r = client.get(
        f"/console/customers/{world['ming'].id}/merge", params={"source_id": world["stranger"].id}, headers=h
    )
    assert r.status_code == 404


def test_merge_preview_with_a_wrong_number_says_why_beside_the_field(client: Any, world: dict[str, Any]) -> None:
    """A typo showed the field's label (重複客戶的編號) as its error; a bad id, an error page instead of the profile."""
    h = _login(client, world["agent"])
    url = f"/console/customers/{world['ming'].id}/merge"
    r = client.get(url, params={"source_id": "abc", "lang": "zh-TW"}, headers=h)
    assert r.status_code == 422 and "請輸入重複客戶的編號（數字" in r.text and 'value="abc"' in r.text
    assert (
        'aria-invalid="true" aria-describedby="merge-source-error"' in r.text
        and 'action="/console/customers/' in r.text
    )
    r = client.get(url, params={"source_id": "abc", "lang": "en"}, headers=h)
    assert "Enter the duplicate customer&#39;s number" in r.text
    r = client.get(url, params={"source_id": world["ming"].id, "lang": "zh-TW"}, headers=h)
    assert r.status_code == 422 and 'id="merge-source-error"' in r.text and 'action="/console/customers/' in r.text
    r = client.get(url, params={"source_id": 99999999, "lang": "zh-CN"}, headers=h)
    assert r.status_code == 404 and 'id="merge-source-error"' in r.text and 'action="/console/customers/' in r.text


def test_an_anonymous_widget_visitor_reads_as_one_number_and_a_web_chat_identity(
    client: Any, db: Any, make: Any, world: dict[str, Any]
) -> None:
    """A visitor without a name was headed "#21 #21" and their identity badge read the raw kind "web"."""
    from kefu.customers.service import add_identity

    visitor = make.customer(world["brand"], name=None, email=None, phone=None)
    add_identity(db, visitor, "web", "7MNpQ2x9visitor")
    db.commit()
    _login(client, world["agent"])
    page = client.get(f"/console/customers/{visitor.id}", params={"lang": "zh-TW"}).text
    assert f'<h1 id="cu-h">#{visitor.id}</h1>' in page
    assert '<span class="badge ch ch-web">網頁客服</span>' in page
    en = client.get(f"/console/customers/{visitor.id}", params={"lang": "en"}).text
    assert '<span class="badge ch ch-web">Web chat</span>' in en


def test_auditor_cannot_write_notes_or_merge(client: Any, make: Any, world: dict[str, Any]) -> None:
    h = _login(client, make.agent("auditor", [world["brand"]]))
    assert client.get(f"/console/customers/{world['ming'].id}", headers=h).status_code == 200
    assert client.post(f"/console/customers/{world['ming'].id}/notes", data={"body": "x"}, headers=h).status_code == 403


# ---------------------------------------------------------------- operator screens


def test_deadline_board_groups_overdue_and_due_soon(client: Any, db: Any, world: dict[str, Any]) -> None:
    from kefu.complaints.service import create_complaint, create_regulator_case

    old = utcnow() - timedelta(days=10)
    c = create_complaint(
        db, brand_id=world["brand"].id, actor=None, complainant_name="王小明", description="商品瑕疵求償",
        channel="phone", product="吸塵器", received_at=old,
    )  # fmt: skip
    rc = create_regulator_case(
        db, brand_id=world["brand"].id, actor=None, agency="消保官", subject="消費爭議協調",
        received_at=utcnow() - timedelta(days=14, hours=12),
    )  # fmt: skip
    create_regulator_case(
        db, brand_id=world["other"].id, actor=None, agency="消保官", subject="別的品牌", received_at=utcnow()
    )
    db.commit()
    h = _login(client, world["agent"])
    r = client.get("/console/complaints", headers=h)
    assert r.status_code == 200
    overdue = r.text.split('id="cp-overdue"')[1].split("</section>")[0]
    assert "吸塵器" in overdue and "客訴・確認收件" in overdue
    soon = r.text.split('id="cp-soon"')[1].split("</section>")[0]
    assert "消費爭議協調" in soon
    assert "別的品牌" not in r.text
    assert c.ticket_id and rc.ticket_id


def test_deadline_page_writes_every_time_in_one_format_in_the_brands_zone(client: Any, db: Any, make: Any) -> None:
    from kefu.complaints.service import create_regulator_case
    from kefu.core.l10n import format_datetime
    from kefu.sla.models import ProgressLapse
    from kefu.tickets.service import create_ticket

    brand = make.brand(timezone="America/New_York")
    agent = make.agent("agent", [brand])
    now = utcnow()
    rc = create_regulator_case(
        db, brand_id=brand.id, actor=None, agency="消保官", subject="消費爭議協調",
        received_at=now - timedelta(days=14, hours=12),
    )  # fmt: skip
    tk = create_ticket(db, brand_id=brand.id, subject="進度逾時", actor=None, priority="urgent")
    lapse_due = (now - timedelta(days=2)).replace(microsecond=0)
    db.add(
        ProgressLapse(
            ticket_id=tk.id, brand_id=brand.id, interval_minutes=30, last_update_at=lapse_due - timedelta(minutes=30),
            due_at=lapse_due, noticed_at=lapse_due,
        )
    )  # fmt: skip
    db.commit()
    assert rc.ticket_id
    h = _login(client, agent)
    for lang in ("zh-TW", "zh-CN", "en"):
        page = client.get(f"/console/deadlines?lang={lang}", headers=h).text
        times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)
        assert len(times) == 2, (lang, times)
        for iso, shown in times:
            # The brand's zone and the locale's one pattern (with the year): the same as format_datetime writes.
            assert shown == format_datetime(datetime.fromisoformat(iso), lang, "America/New_York"), (lang, shown)


def test_incidents_and_privacy_requests_need_audit_read(client: Any, make: Any, world: dict[str, Any]) -> None:
    lead = world["lead"]
    tok = make.token(lead)
    r = client.post(
        "/api/v1/security/incidents",
        json={"title": "客服帳號疑似外洩", "level": 2, "brand_id": world["brand"].id},
        headers=tok,
    )
    assert r.status_code == 201, r.text
    h = _login(client, world["agent"])
    assert client.get("/console/incidents", headers=h).status_code == 403
    assert client.get("/console/privacy-requests", headers=h).status_code == 403
    h = _login(client, lead)
    r = client.get("/console/incidents", headers=h)
    assert r.status_code == 200 and "客服帳號疑似外洩" in r.text and "1 小時通報期限" in r.text
    r = client.post(f"/api/v1/customers/{world['ming'].id}/export", json={"reason": "本人申請"}, headers=tok)
    assert r.status_code in (200, 201), r.text
    r = client.get("/console/privacy-requests", headers=h)
    assert r.status_code == 200 and "資料匯出" in r.text and f"#{world['ming'].id}" in r.text


# ---------------------------------------------------------------- delivery, mentions, presence


def test_failed_delivery_is_shown_and_retried(client: Any, db: Any, world: dict[str, Any]) -> None:
    from kefu.audit.models import AuditLog
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.service import add_message

    conv = world["conv"]
    msg, _ = add_message(db, conv, sender_type="agent", body="已為您辦理退款", agent_id=world["agent"].id)
    db.flush()
    row = OutboxMessage(
        brand_id=world["brand"].id, inbox_id=_inbox(db, world["brand"]).id, conversation_id=conv.id,
        message_id=msg.id, channel="line", recipient="U1", payload={}, idempotency_key="k-retry-1",
        status="dead", attempts=8, last_error="LINE API 500",
    )  # fmt: skip
    db.add(row)
    db.commit()
    h = _login(client, world["agent"])
    r = client.get(f"/console/conversations/{conv.id}", headers=h)
    assert 'data-delivery="failed"' in r.text and "傳送失敗" in r.text and "LINE API 500" in r.text
    assert f"/console/messages/{msg.id}/retry" in r.text
    r = client.post(f"/console/messages/{msg.id}/retry", headers=h)
    assert r.status_code == 204 and r.headers["HX-Trigger"] == "kefu:refresh"
    db.expire_all()
    again = db.get(OutboxMessage, row.id)
    # A fresh set of attempts: the send job (inline in tests) tried once more; this inbox has no token, so it failed
    # for good again, with the new reason shown.
    assert again.attempts == 1 and again.last_error != "LINE API 500"
    assert db.scalar(select(AuditLog).where(AuditLog.action == "message.retry")) is not None
    r = client.get(f"/console/conversations/{conv.id}", headers=h)
    # The new reason has a code: agents read why in their language; the token's name stays for the outbox admin.
    assert 'data-failure="inbox_incomplete"' in r.text and 'data-delivery="failed"' in r.text
    assert "channel_access_token" in again.last_error and "channel_access_token" not in r.text
    if again.status == "pending":
        r = client.get(f"/console/conversations/{conv.id}", headers=h)
        assert 'data-delivery="queued"' in r.text
        # Retrying a queued message is a conflict, not a second send.
        assert client.post(f"/console/messages/{msg.id}/retry", headers=h).status_code == 409


def test_failed_send_reason_is_told_in_the_agents_language(client: Any, db: Any, world: dict[str, Any]) -> None:
    from kefu.brands.models import Inbox
    from kefu.channels.models import OutboxMessage
    from kefu.conversations.service import add_message

    conv = world["conv"]
    inbox = Inbox(brand_id=world["brand"].id, kind="email", name="Mail", config={})  # no smtp_host, like the demo
    db.add(inbox)
    msg, _ = add_message(db, conv, sender_type="agent", body="已為您辦理退款", agent_id=world["agent"].id)
    other, _ = add_message(db, conv, sender_type="agent", body="第二則", agent_id=world["agent"].id)
    db.flush()
    common = {"brand_id": world["brand"].id, "conversation_id": conv.id, "recipient": "ming@example.com"}
    row = OutboxMessage(
        **common, inbox_id=inbox.id, message_id=msg.id, channel="email", payload={"message_id": "<m1@kefu>"},
        idempotency_key="k-smtp-1", status="dead", attempts=8, last_error="old",
    )  # fmt: skip
    # A failure stored without a code (a provider's own words): a generic sentence, the raw text in a <details>.
    raw = OutboxMessage(
        **common, inbox_id=inbox.id, message_id=other.id, channel="email", payload={}, idempotency_key="k-smtp-2",
        status="dead", attempts=8, last_error="RetryableSendError: SMTP 421 'try later'",
    )  # fmt: skip
    db.add_all([row, raw])
    db.commit()
    h = _login(client, world["agent"])
    assert client.post(f"/console/messages/{msg.id}/retry", headers=h).status_code == 204
    db.expire_all()
    stored = db.get(OutboxMessage, row.id).last_error
    assert stored == "[no_smtp_host] PermanentSendError: email inbox has no smtp_host"  # kept for logs/outbox admin
    said = {
        "zh-TW": "此信箱尚未設定 SMTP 伺服器，回覆未寄出。請到收件匣設定填寫後重送。",
        "zh-CN": "此邮箱尚未设置 SMTP 服务器，回复未发出。请到收件箱设置中填写后重新发送。",
        "en": "This mailbox has no SMTP server set up, so the reply was not sent.",
    }
    generic = {"zh-TW": "管道傳送失敗，回覆未送出。", "zh-CN": "渠道发送失败，回复未发出。", "en": "could not deliver"}
    for lang, text in said.items():
        page = client.get(f"/console/conversations/{conv.id}?lang={lang}", headers=h).text
        assert text in page and generic[lang] in page, lang
        assert "PermanentSendError" not in page and "email inbox has no smtp_host" not in page
        assert f'hx-post="/console/messages/{msg.id}/retry"' in page  # the retry stays
        detail = re.search(r"<details class=\"err-detail\">.*?</details>", page, re.S)
        assert detail is not None and "SMTP 421" in detail.group(0)


def _inbox(db: Any, brand: Any) -> Any:
    from kefu.brands.models import Inbox

    inbox = Inbox(brand_id=brand.id, kind="line", name="LINE", config={})
    db.add(inbox)
    db.flush()
    return inbox


def test_mention_in_note_notifies_that_agent_only(client: Any, db: Any, make: Any, world: dict[str, Any]) -> None:
    from kefu.sla.models import Notification

    colleague = make.agent("agent", [world["brand"]])
    outsider = make.agent("agent", [world["other"]])
    author = world["agent"]
    h = _login(client, author)
    body = f"@{colleague.name} 請幫忙看退款，@{outsider.name} 也看看，@{author.name}"
    r = client.post(
        f"/console/conversations/{world['conv'].id}/messages", data={"body": body, "mode": "note"}, headers=h
    )
    assert r.status_code == 200
    assert json.loads(r.headers["HX-Trigger"])["kefu:mentioned"]["names"] == [colleague.name]
    rows = list(db.scalars(select(Notification).where(Notification.kind == "mention")))
    assert [n.agent_id for n in rows] == [colleague.id]
    assert rows[0].data["conversation_id"] == world["conv"].id
    # A reply (not a note) mentions nobody.
    client.post(f"/console/conversations/{world['conv'].id}/messages", data={"body": f"@{colleague.name}"}, headers=h)
    assert len(list(db.scalars(select(Notification).where(Notification.kind == "mention")))) == 1


def test_mention_matching_prefers_longer_names() -> None:
    from kefu.auth.models import Agent
    from kefu.workspace.collab import mentioned

    a = Agent(id=1, name="王小", email="wang@example.com")
    b = Agent(id=2, name="王小明", email="ming@example.com")
    c = Agent(id=3, name="Amy", email="amy@example.com")
    assert [x.id for x in mentioned([a, b, c], "請 @王小明 處理")] == [2]
    assert [x.id for x in mentioned([a, b, c], "@amyl 不是 Amy；@wang 是")] == [1]
    assert mentioned([a, b, c], "沒有提及任何人") == []


def _recv(ws: Any, op: str) -> dict[str, Any]:
    for _ in range(20):
        msg = json.loads(ws.receive_text())
        if msg.get("op") == op:
            return dict(msg)
    raise AssertionError(op)


def test_presence_is_relayed_to_other_agents_on_the_conversation_only(
    client: Any, make: Any, world: dict[str, Any]
) -> None:
    conv_id = world["conv"].id
    colleague = make.agent("agent", [world["brand"]])
    t1 = make.token(world["agent"])["Authorization"].split()[1]
    t2 = make.token(colleague)["Authorization"].split()[1]
    t3 = make.token(make.agent("agent", [world["other"]]))["Authorization"].split()[1]
    with (
        client.websocket_connect(f"/api/v1/ws?token={t1}") as ws1,
        client.websocket_connect(f"/api/v1/ws?token={t2}") as ws2,
        client.websocket_connect(f"/api/v1/ws?token={t3}") as ws3,
    ):
        for ws in (ws1, ws2):
            _recv(ws, "hello")
            ws.send_text(json.dumps({"op": "subscribe", "topics": [f"conversation:{conv_id}"]}))
            _recv(ws, "subscribed")
        _recv(ws3, "hello")
        # Not subscribed (another brand's agent cannot be): presence is refused, nothing is relayed.
        ws3.send_text(json.dumps({"op": "presence", "conversation_id": conv_id, "state": "typing"}))
        assert _recv(ws3, "error")
        ws1.send_text(json.dumps({"op": "presence", "conversation_id": conv_id, "state": "typing"}))
        assert _recv(ws1, "presence")["state"] == "typing"
        ev = _recv(ws2, "event")["event"]
        assert ev["type"] == "agent.presence"
        assert ev["data"] == {"conversation_id": conv_id, "agent_id": world["agent"].id, "state": "typing"}
        ws1.send_text(json.dumps({"op": "presence", "conversation_id": conv_id, "state": "shouting"}))
        assert _recv(ws1, "error")


# ---------------------------------------------------------------- times in the brand's timezone


def test_conversation_inbox_and_profile_show_brand_local_time(client: Any, db: Any, world: dict[str, Any]) -> None:
    from kefu.conversations.models import Message

    at = datetime(2026, 3, 1, 1, 5, tzinfo=UTC)  # 09:05 in Taipei
    msg = db.scalar(select(Message).where(Message.conversation_id == world["conv"].id))
    msg.created_at = at
    world["conv"].last_message_at = at
    db.commit()
    h = _login(client, world["agent"])
    h.pop("HX-Request")
    pages = [
        client.get(f"/console/conversations/{world['conv'].id}", headers=h).text,
        client.get("/console?view=all", headers=h).text,
        client.get(f"/console/customers/{world['ming'].id}", headers=h).text,
    ]
    for page in pages:
        text = re.sub(r'datetime="[^"]*"', "", page)  # machine-readable UTC stays in the attribute
        assert "上午9:05" in text and "1:05" not in text  # zh-TW as CLDR writes it, in the brand's zone
    assert "台灣時間（UTC+8）" in pages[0]


def test_no_template_formats_a_time_without_the_brand_zone() -> None:
    """Every time in a template goes through |datetime / |date (or local(...)); a bare .strftime would print UTC."""
    allowed = {
        # Platform-wide job queue (all brands at once): shown in UTC and labelled so.
        "ops/jobs.html",
    }
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        rel = path.relative_to(TEMPLATES).as_posix()
        if rel in allowed:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"\.strftime\(|\|\s*datetimeformat", line):
                offenders.append(f"{rel}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_workspace_pages_render_in_each_locale(client: Any, world: dict[str, Any], locale: str) -> None:
    h = _login(client, world["lead"])
    h.pop("HX-Request")
    expected = {"zh-TW": "客訴期限", "zh-CN": "投诉时限", "en": "Complaint deadlines"}[locale]
    for url in ("/console/search?q=退款", "/console/customers", "/console/complaints", "/console/incidents",
                "/console/privacy-requests", f"/console/customers/{world['ming'].id}"):  # fmt: skip
        r = client.get(url, params={"lang": locale}, headers=h)
        assert r.status_code == 200, (url, r.text[:300])
        assert expected in r.text, url


def test_inbox_search_box_finds_message_words_and_ticket_numbers(client: Any, db: Any, world: dict[str, Any]) -> None:
    from kefu.tickets.models import Ticket

    h = _login(client, world["agent"])
    ticket = db.scalar(select(Ticket).where(Ticket.brand_id == world["brand"].id))
    for q in ("退款", ticket.number, "A123"):
        r = client.get("/console", params={"view": "all", "q": q}, headers=h)
        assert f"/console/conversations/{world['conv'].id}" in r.text, q
    r = client.get("/console", params={"view": "all", "q": "0912"}, headers=h)
    assert f"/console/conversations/{world['conv'].id}" not in r.text


def test_profile_and_board_query_counts_do_not_grow_with_rows(
    client: Any, db: Any, world: dict[str, Any], count_queries: Any
) -> None:
    h = _login(client, world["agent"])
    with count_queries() as q:
        assert client.get(f"/console/customers/{world['ming'].id}", headers=h).status_code == 200
    base = q.count
    for i in range(5):
        _conv(db, world["brand"], world["ming"], f"第 {i} 次來訊", ticket_subject=f"問題 {i}")
    with count_queries() as q:
        assert client.get(f"/console/customers/{world['ming'].id}", headers=h).status_code == 200
    assert q.count == base <= 16, str(q)
    with count_queries() as q:
        assert client.get("/console/complaints", headers=h).status_code == 200
    assert q.count <= 10, str(q)


# ---------------------------------------------------------------- search: phone digits, ticketless conversations


@pytest.mark.parametrize(
    "typed", ["0912-345-678", "0912345678", "+886 912 345 678", "+886-912-345678", "(0912) 345 678"]
)
def test_phone_search_matches_every_spelling_of_the_number(
    client: Any, make: Any, world: dict[str, Any], typed: str
) -> None:
    # Stored in the international form too: both sides are compared as national digits.
    intl = make.customer(world["brand"], name="陳大文", phone="+886 933 222 111")
    h = _login(client, world["agent"])
    r = client.get("/console/search", params={"q": typed}, headers=h)
    assert r.status_code == 200
    assert f"/console/customers/{world['ming'].id}" in r.text
    assert f"/console/customers/{world['stranger'].id}" not in r.text  # same number, other brand
    assert f"/console/customers/{intl.id}" not in r.text
    r = client.get("/console/search", params={"q": "0933222111"}, headers=h)
    assert f"/console/customers/{intl.id}" in r.text
    r = client.get("/console/customers", params={"q": typed}, headers=h)
    assert f"/console/customers/{world['ming'].id}" in r.text


def test_phone_search_without_reveal_needs_the_whole_number(client: Any, world: dict[str, Any]) -> None:
    h = _login(client, world["agent"])
    for partial in ("0912345", "0912-345", "+886 912 345 67", "912345678"):
        r = client.get("/console/search", params={"q": partial}, headers=h)
        assert f"/console/customers/{world['ming'].id}" not in r.text, partial


def test_phone_key_follows_phone_changes_and_erasure(db: Any, make: Any, world: dict[str, Any]) -> None:
    from kefu.customers.phones import phone_key

    assert phone_key("0912-345-678") == phone_key("+886 912 345 678") == phone_key("00886912345678") == "0912345678"
    assert phone_key("+1 (415) 555-0100") == "+14155550100"
    assert phone_key("123") is None and phone_key(None) is None
    c = make.customer(world["brand"], name="林", phone="02-2345-6789")
    assert c.phone_key == "0223456789"
    c.phone = "+886 2 8765 4321"
    db.commit()
    assert c.phone_key == "0287654321"
    c.phone = None
    db.commit()
    assert c.phone_key is None


def test_ticketless_conversation_found_by_message_text_in_either_script(
    client: Any, db: Any, make: Any, world: dict[str, Any], count_queries: Any
) -> None:
    brand, other = world["brand"], world["other"]
    chat = _conv(db, brand, world["ming"], "請問發票可以改抬頭嗎")  # no ticket
    hidden = _conv(db, other, world["stranger"], "請問發票可以改抬頭嗎")
    h = _login(client, world["agent"])
    for q in ("發票 抬頭", "发票"):
        with count_queries() as qc:
            r = client.get("/console/search", params={"q": q}, headers=h)
        assert r.status_code == 200
        assert f"/console/conversations/{chat.id}" in r.text, q
        assert f"/console/conversations/{hidden.id}" not in r.text  # other brand
        assert qc.count <= 14, str(qc)
    r = client.get("/console/search", params={"q": "發票 退貨"}, headers=h)  # every word must appear
    assert f"/console/conversations/{chat.id}" not in r.text


def test_ticketless_message_search_cannot_probe_personal_data(client: Any, db: Any, world: dict[str, Any]) -> None:
    chat = _conv(db, world["brand"], world["ming"], "我的電話是 0977-111-222")
    h = _login(client, world["agent"])
    r = client.get("/console/search", params={"q": "0977"}, headers=h)
    assert f"/console/conversations/{chat.id}" not in r.text
    h = _login(client, world["lead"])  # may reveal personal data: fragment search allowed
    r = client.get("/console/search", params={"q": "0977"}, headers=h)
    assert f"/console/conversations/{chat.id}" in r.text
