"""Data-subject rights: 12-month export (JSON/PDF), erasure with a ledger, consent history, retention."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation


def _customer_with_history(db: Any, make: Any) -> tuple[Any, Any, Any]:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.core.db import utcnow
    from kefu.customers.service import add_identity
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    cust = make.customer(brand, name="陳美玲", email="meiling@example.com", phone="0912345678", locale="zh-TW")
    add_identity(db, cust, "line", "Uline0001", "美玲")
    recent = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="line"), actor=None
    )
    add_message(db, recent, sender_type="customer", body="我的地址是台北市信義區松仁路100號")
    add_message(db, recent, sender_type="agent", body="好的 meiling@example.com 已收到")
    add_message(db, recent, sender_type="agent", body="內部備註", is_note=True)
    old = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="email"), actor=None
    )
    m, _ = add_message(db, old, sender_type="customer", body="兩年前的信")
    long_ago = utcnow() - timedelta(days=800)
    old.last_message_at = long_ago
    m.created_at = long_ago
    create_ticket(db, actor=None, brand_id=brand.id, subject="退貨", description="電話 0912345678", customer_id=cust.id)
    db.commit()
    return brand, cust, recent


def test_export_json_covers_last_12_months(client: Any, make: Any, db: Any) -> None:
    brand, cust, recent = _customer_with_history(db, make)
    sup = make.token(make.agent("supervisor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    client.put(f"/api/v1/customers/{cust.id}/consents", json={"tracking": False}, headers=sup)
    url = f"/api/v1/customers/{cust.id}/export"
    assert client.post(url, json={"reason": "當事人申請"}, headers=agent).status_code == 403
    r = client.post(url, json={"reason": "當事人申請", "format": "json"}, headers=sup)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith("attachment;")
    doc = json.loads(r.content)
    assert doc["customer"]["email"] == "meiling@example.com"
    assert [c["id"] for c in doc["conversations"]] == [recent.id]
    bodies = [m["body"] for m in doc["conversations"][0]["messages"]]
    assert "內部備註" not in bodies and "我的地址是台北市信義區松仁路100號" in bodies
    assert doc["tickets"][0]["subject"] == "退貨"
    assert "Uline0001" in {i["external_id"] for i in doc["identities"]}
    assert doc["consents"][0] == {**doc["consents"][0], "purpose": "tracking", "granted": False}
    admin = make.token(make.agent("admin"))
    reqs = client.get("/api/v1/privacy/requests", params={"customer_id": cust.id}, headers=admin).json()["items"]
    assert reqs[0]["kind"] == "export" and reqs[0]["details"]["format"] == "json"


def _pdf_text(pdf: bytes) -> list[str]:
    from io import BytesIO

    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(BytesIO(pdf)).pages]


def test_export_pdf_is_well_formed_with_cjk_font(client: Any, make: Any, db: Any) -> None:
    brand, cust, _ = _customer_with_history(db, make)
    sup = make.token(make.agent("supervisor", [brand]))
    r = client.post(f"/api/v1/customers/{cust.id}/export", json={"reason": "當事人申請", "format": "pdf"}, headers=sup)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = r.content
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in pdf and b"/ToUnicode" in pdf  # embedded subset font, extractable text
    assert "陳美玲" in "".join(_pdf_text(pdf))


def test_pdf_text_round_trips_beyond_the_bmp() -> None:
    from kefu.privacy.pdf import render_pdf

    names = ["王😀明", "𠀀𠀁 陳", "㐀 Ext-A 字", "許功蓋 ①②", "Zoë Ñandú"]
    lines = [f"姓名：{n}" for n in names] + ["測" * 200] + [f"第 {i} 行" for i in range(150)]
    pages = _pdf_text(render_pdf("資料匯出 😀", lines, locale="zh-TW"))
    text = "\n".join(pages)
    for name in names:
        assert f"姓名：{name}" in text, name
    assert pages[0].startswith("資料匯出 😀")
    assert len(pages) >= 4 and pages[-1].rstrip().endswith(f"{len(pages)}/{len(pages)}")
    assert text.replace("\n", "").count("測" * 200) == 1  # wrapped character-wise, nothing lost or repeated


def test_erasure_scrubs_links_and_is_idempotent(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.models import Message
    from kefu.customers.models import Customer, CustomerIdentity
    from kefu.privacy.service import ERASED_BODY, was_erased
    from kefu.tickets.models import Ticket

    brand, cust, recent = _customer_with_history(db, make)
    sup = make.token(make.agent("supervisor", [brand]))
    agent = make.token(make.agent("agent", [brand]))
    url = f"/api/v1/customers/{cust.id}/erase"
    assert client.post(url, json={"reason": "當事人請求刪除", "confirm": True}, headers=agent).status_code == 403
    assert client.post(url, json={"reason": "當事人請求刪除"}, headers=sup).status_code == 422
    r = client.post(url, json={"reason": "當事人請求刪除", "confirm": True}, headers=sup)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["changed"] and first["ledger"]["counts"]["identities"] >= 2
    ledger_json = json.dumps(first, ensure_ascii=False)
    assert "meiling" not in ledger_json and "陳美玲" not in ledger_json and len(first["ledger"]["subject_hash"]) == 64
    db.expire_all()
    c = db.get(Customer, cust.id)
    assert (c.name, c.email, c.phone) == ("", None, None)
    assert db.scalar(select(CustomerIdentity.id).where(CustomerIdentity.customer_id == cust.id)) is None
    bodies = {m.sender_type + ("-note" if m.is_note else ""): m.body for m in db.scalars(select(Message))
              if m.conversation_id == recent.id}  # fmt: skip
    assert bodies["customer"] == ERASED_BODY and "meiling@example.com" not in bodies["agent"]
    t = db.scalar(select(Ticket).where(Ticket.brand_id == brand.id))
    assert t.customer_id is None and "0912345678" not in t.description
    assert was_erased(db, brand.id, "email", "MeiLing@example.com")
    assert was_erased(db, brand.id, "line", "Uline0001")
    assert not was_erased(db, brand.id, "email", "someone@example.com")
    again = client.post(url, json={"reason": "重複請求", "confirm": True}, headers=sup).json()
    assert not again["changed"] and again["ledger"]["id"] == first["ledger"]["id"]
    admin = make.token(make.agent("admin"))
    assert len(client.get("/api/v1/privacy/deletions", headers=admin).json()["items"]) >= 1
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=admin).json()["items"]]
    assert "privacy.erase" in actions


def test_consent_history_and_current_state(client: Any, make: Any, db: Any) -> None:
    from kefu.privacy.service import has_consent

    brand = make.brand()
    cust = make.customer(brand, name="x")
    agent = make.token(make.agent("agent", [brand]))
    auditor = make.token(make.agent("auditor", [brand]))
    url = f"/api/v1/customers/{cust.id}/consents"
    start = client.get(url, headers=agent).json()
    assert start["current"] == {"tracking": None, "personalization": None, "secondary_use": None}
    r = client.put(url, json={"tracking": True, "personalization": False, "source": "customer"}, headers=agent)
    assert r.status_code == 200 and r.json()["current"]["tracking"]["granted"] is True
    client.put(url, json={"tracking": True}, headers=agent)  # unchanged: no new event
    client.put(url, json={"tracking": False, "note": "客戶來電撤回"}, headers=agent)
    body = client.get(url, headers=auditor).json()
    assert [(e["purpose"], e["granted"]) for e in body["history"]] == [
        ("tracking", True),
        ("personalization", False),
        ("tracking", False),
    ]
    assert body["current"]["tracking"]["granted"] is False
    assert client.put(url, json={"tracking": True}, headers=auditor).status_code == 403
    assert not has_consent(db, cust.id, "tracking") and not has_consent(db, cust.id, "secondary_use")


def test_retention_deidentifies_old_closed_records_in_batches(db: Any, make: Any, session_factory: Any) -> None:
    from kefu.conversations.models import Message
    from kefu.conversations.service import add_message, create_conversation
    from kefu.core.db import utcnow
    from kefu.customers.models import Customer, CustomerIdentity
    from kefu.customers.service import add_identity
    from kefu.privacy.jobs import retention_sweep
    from kefu.privacy.service import set_retention
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import create_ticket

    brand, kept_brand = make.brand(ticket_prefix="RA"), make.brand(ticket_prefix="RB")
    set_retention(db, kept_brand.id, years=10, enabled=True, actor=None)
    six_years = utcnow() - timedelta(days=6 * 366)
    convs = []
    for b in (brand, kept_brand):
        for i in range(3):
            cust = make.customer(b, name="林志明", email=f"old{i}@example.com")
            add_identity(db, cust, "phone", f"091234567{i}")
            cust.created_at = six_years
            conv = create_conversation(
                db, CreateConversation(brand_id=b.id, customer_id=cust.id, channel="line"), actor=None
            )
            add_message(db, conv, sender_type="customer", body=f"手機 091234567{i} 謝謝")
            conv.status, conv.last_message_at = "closed", six_years
            t = create_ticket(db, actor=None, brand_id=b.id, subject="舊案", description="email old@example.com")
            t.status, t.closed_at, t.updated_at = "closed", six_years, six_years
            convs.append(conv)
    fresh = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=convs[0].customer_id, channel="web_chat"), actor=None
    )
    add_message(db, fresh, sender_type="customer", body="新訊息 0912345670")
    fresh.status = "closed"
    db.commit()
    totals = retention_sweep(session_factory, batch=2, brand_id=None)
    assert totals[brand.id]["conversations"] == 3 and totals[brand.id]["tickets"] == 3
    assert totals[brand.id]["customers"] == 2  # the customer with a fresh conversation keeps their identities
    assert totals[kept_brand.id].get("conversations", 0) == 0
    db.expire_all()
    old_bodies = [db.scalar(select(Message.body).where(Message.conversation_id == c.id)) for c in convs]
    assert all("091234567" not in b for b in old_bodies[:3])
    assert all("091234567" in b for b in old_bodies[3:])
    assert db.scalar(select(Message.body).where(Message.conversation_id == fresh.id)) == "新訊息 0912345670"
    tickets = list(db.scalars(select(Ticket).where(Ticket.brand_id == brand.id)))
    assert all("old@example.com" not in t.description for t in tickets)
    dormant = db.get(Customer, convs[1].customer_id)
    assert dormant.email is None and dormant.name == "林○明"
    assert db.scalar(select(CustomerIdentity.id).where(CustomerIdentity.customer_id == dormant.id)) is None
    assert retention_sweep(session_factory, batch=2)[brand.id] == {}  # nothing left: idempotent


def test_retention_api(client: Any, make: Any, jobs: Any) -> None:
    brand = make.brand()
    admin = make.token(make.agent("admin"))
    sup = make.token(make.agent("supervisor", [brand]))
    url = f"/api/v1/brands/{brand.id}/retention"
    assert client.get(url, headers=sup).json() == {
        "brand_id": brand.id,
        "years": 5,
        "enabled": True,
        "is_default": True,
    }
    assert client.put(url, json={"years": 7}, headers=sup).status_code == 403
    r = client.put(url, json={"years": 7}, headers=admin)
    assert r.status_code == 200 and r.json()["years"] == 7 and not r.json()["is_default"]
    assert client.put(url, json={"years": 0}, headers=admin).status_code == 422
    r = client.post("/api/v1/privacy/retention/run", json={"brand_id": brand.id}, headers=admin)
    assert r.status_code == 202
    jobs.drain()


def test_pdf_names_the_missing_font_package(monkeypatch: Any) -> None:
    from pathlib import Path

    import pytest

    from kefu.privacy import pdf

    monkeypatch.setattr(pdf, "BODY", pdf.FontFile("wqy-microhei", Path("/nonexistent/wqy.ttc"), "fonts-wqy-microhei"))
    with pytest.raises(pdf.MissingFontError, match="fonts-wqy-microhei") as err:
        pdf.render_pdf("標題", ["內容"])
    assert err.value.status == 503
