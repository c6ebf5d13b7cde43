"""Abuse-review findings: upload size promises, lookup lock-outs, NUL bytes, hostile WebSocket frames, merge notes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.tickets.helpers import admin_principal

PROGRESS = "/api/v1/public/tickets/progress"
CONFIRM = "/api/v1/public/tickets/confirm"
GOOD_CSV = "id,locale,category,question,answer\r\nq-1,en,Loans,Mortgage rate?,See the table.\r\n"


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"]}


# ---------------------------------------------------------------- 1. upload size: one number for page, API, limit


def test_kb_import_page_promises_the_size_the_body_limit_allows(client: Any, make: Any) -> None:
    """The page names the file limit, and both import routes accept a body of that size."""
    from kefu.knowledge.bulk import MAX_FILE_BYTES
    from kefu.security.asgi import body_limit

    for path in ("/admin/kb/import", "/admin/kb/import/preview", "/api/v1/kb/import"):
        assert body_limit(path) > MAX_FILE_BYTES, path
    brand = make.brand()
    _login(client, make.agent("supervisor", [brand]))
    mb = MAX_FILE_BYTES // (1024 * 1024)
    for lang, text in (
        ("zh-TW", f"檔案大小上限 {mb} MB"),
        ("zh-CN", f"文件大小上限 {mb} MB"),
        ("en", f"up to {mb} MB"),
    ):
        client.cookies.set("kefu_lang", lang)
        page = client.get("/admin/kb/import", params={"brand_id": brand.id})
        assert page.status_code == 200 and text in page.text, lang


def test_too_large_kb_import_is_a_friendly_page_or_413_problem_and_writes_nothing(
    client: Any, make: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the limit: a localized page (admin), an inline form error (htmx), 413 problem+json (API); no rows."""
    from kefu.knowledge import bulk
    from kefu.knowledge.models import FaqEntry

    monkeypatch.setattr(bulk, "MAX_FILE_BYTES", 2 * 1024 * 1024)  # the route limit follows the one number
    brand = make.brand()
    h = _login(client, make.agent("supervisor", [brand]))
    big = (GOOD_CSV + "q-2,en,Loans,Big?," + "x" * (3 * 1024 * 1024) + "\r\n").encode()
    files = {"file": ("kb.csv", big, "text/csv")}
    for lang, text in (("zh-TW", "上限為 2 MB"), ("zh-CN", "上限为 2 MB"), ("en", "the limit is 2 MB")):
        client.cookies.set("kefu_lang", lang)
        page = client.post("/admin/kb/import", data={"brand_id": str(brand.id)}, files=files, headers=h)
        assert page.status_code == 413 and page.headers["content-type"].startswith("text/html"), page.text[:300]
        assert text in page.text, lang
    inline = client.post(
        "/admin/kb/import/preview",
        data={"brand_id": str(brand.id)},
        files=files,
        headers={**h, "HX-Request": "true", "X-Kefu-Locale": "en"},
    )
    assert inline.status_code == 413 and "<html" not in inline.text and "the limit is 2 MB" in inline.text
    api = client.post(
        "/api/v1/kb/import", params={"brand_id": brand.id}, content=big, headers={**h, "Content-Type": "text/csv"}
    )
    assert api.status_code == 413 and api.headers["content-type"].startswith("application/problem+json")
    assert db.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.brand_id == brand.id)) == 0
    small = {"file": ("kb.csv", GOOD_CSV.encode(), "text/csv")}
    ok = client.post("/admin/kb/import", data={"brand_id": str(brand.id)}, files=small, headers=h)
    assert ok.status_code == 200, ok.text[:300]


# ---------------------------------------------------------------- 2. lookup throttle: per address, not per number


def _customer_ticket(db: Any, make: Any, prefix: str = "LK") -> Any:
    from kefu.tickets.service import create_ticket

    brand = make.brand(ticket_prefix=prefix)
    p = admin_principal(make.agent("admin"))
    cust = make.customer(brand, name="Real", email="real@example.com")
    ticket = create_ticket(db, brand_id=brand.id, subject="我的訂單", actor=p, customer_id=cust.id)
    db.commit()
    return ticket


def test_failed_lookups_block_the_attacker_not_the_customer(
    client: Any, db: Any, make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures on a number from one address lock that address only; the customer elsewhere still gets in."""
    from kefu.tickets import api

    monkeypatch.setattr(api, "client_ip", lambda request: request.headers["x-test-peer"])  # two peers, one client
    t = _customer_ticket(db, make)
    attacker = {"X-Test-Peer": "203.0.113.7"}
    customer = {"X-Test-Peer": "198.51.100.20"}
    for i in range(5):
        r = client.post(PROGRESS, json={"number": t.number, "contact": f"guess{i}@example.com"}, headers=attacker)
        assert r.status_code == 404
    blocked = client.post(PROGRESS, json={"number": t.number, "contact": "real@example.com"}, headers=attacker)
    assert blocked.status_code == 429  # guessing contacts for this number stays throttled
    ok = client.post(PROGRESS, json={"number": t.number, "contact": "real@example.com"}, headers=customer)
    assert ok.status_code == 200, ok.text


def test_enumeration_across_numbers_is_throttled_per_address(db: Any, make: Any) -> None:
    """An address trying many numbers runs out of its own budget; another address is unaffected."""
    from kefu.core.errors import NotFound, TooManyRequests
    from kefu.tickets.progress import MAX_FAILURES_PER_IP, customer_progress

    t = _customer_ticket(db, make)
    for i in range(MAX_FAILURES_PER_IP):
        with pytest.raises(NotFound):
            customer_progress(db, f"LK-{900000 + i}", "a@b.co", ip="10.9.9.9")
    with pytest.raises(TooManyRequests):
        customer_progress(db, t.number, "real@example.com", ip="10.9.9.9")
    assert customer_progress(db, t.number, "real@example.com", ip="10.9.9.10")["number"] == t.number


# ---------------------------------------------------------------- 5. one number normalisation for lookup and confirm


def test_confirm_accepts_the_number_as_the_lookup_does(client: Any, db: Any, make: Any) -> None:
    """Lower case, full-width characters and spaces: confirm finds the ticket the lookup found."""
    from kefu.tickets.progress import normalize_number
    from kefu.tickets.service import update_ticket

    t = _customer_ticket(db, make, prefix="CF")
    update_ticket(db, t, admin_principal(make.agent("admin")), {"status": "resolved"})
    db.commit()
    typed = " " + "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t.number.lower()) + " "
    assert normalize_number(typed) == t.number
    look = client.post(PROGRESS, json={"number": typed, "contact": "real@example.com"})
    assert look.status_code == 200, look.text
    r = client.post(CONFIRM, json={"number": typed, "contact": "real@example.com"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"


# ---------------------------------------------------------------- 6. merge note without another customer's number


def test_cross_customer_merge_note_names_no_other_number(client: Any, db: Any, make: Any) -> None:
    """Merged into a stranger's ticket: a neutral, localized note; merged into one's own: the number."""
    from kefu.tickets.service import create_ticket, merge_tickets

    brand = make.brand(ticket_prefix="MN")
    p = admin_principal(make.agent("admin"))
    amy = make.customer(brand, name="Amy", email="amy@example.com")
    bob = make.customer(brand, name="Bob", email="bob@example.com")
    bobs = create_ticket(db, brand_id=brand.id, subject="Bob", actor=p, customer_id=bob.id)
    amys = create_ticket(db, brand_id=brand.id, subject="Amy", actor=p, customer_id=amy.id)
    amy2 = create_ticket(db, brand_id=brand.id, subject="Amy again", actor=p, customer_id=amy.id)
    amy3 = create_ticket(db, brand_id=brand.id, subject="Amy dup", actor=p, customer_id=amy.id)
    merge_tickets(db, bobs, [amys], p)
    merge_tickets(db, amy2, [amy3], p)
    db.commit()
    r = client.post(PROGRESS, json={"number": amys.number, "contact": "amy@example.com"})
    assert r.status_code == 200, r.text
    assert bobs.number not in r.text
    label = r.json()["last_update"]["body_label"]
    assert label["en"].startswith("This request is being handled together") and "合併" in label["zh-TW"]
    assert "合并" in label["zh-CN"]
    own = client.post(PROGRESS, json={"number": amy3.number, "contact": "amy@example.com"}).json()
    assert own["merged_into"] == amy2.number  # their own survivor: named, and its progress shown
    from kefu.tickets.progress import merge_note

    assert merge_note(db, amy3, amy2)["en"] == f"Merged into {amy2.number}"


# ---------------------------------------------------------------- 4. hostile WebSocket frames


def _recv(ws: Any, op: str) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.receive_text())
        if msg["op"] == op:
            return msg


HOSTILE_FRAMES = ("[" * 100_000, "{" * 70 + "}" * 70, "not json", "[1, 2]", '"text"')


def test_hostile_frames_on_the_widget_socket_get_an_error_and_the_socket_lives_on(client: Any, make: Any) -> None:
    """Deep JSON (RecursionError), non-objects, binary and oversized frames: an error frame or a 1009 close."""
    from starlette.websockets import WebSocketDisconnect

    from kefu.brands.service import create_inbox
    from kefu.web.wsframes import MAX_FRAME_BYTES

    brand = make.brand()
    ib = create_inbox(make.db, brand, kind="web_chat", name="chat", config={}, actor=None, bot=False)
    make.db.commit()
    token = client.post("/api/v1/widget/session", json={"inbox_id": ib.id}).json()["visitor_token"]
    with client.websocket_connect(f"/api/v1/widget/ws?token={token}") as ws:
        _recv(ws, "hello")
        ws.send_text(json.dumps({"op": "resume", "last_id": "x"}))
        _recv(ws, "resumed")
        for frame in HOSTILE_FRAMES:
            ws.send_text(frame)
            assert _recv(ws, "error")["detail"], frame
        ws.send_bytes(b"\x00\x01")
        assert _recv(ws, "error")["detail"] == "text frames only"
        ws.send_text(json.dumps({"op": "message", "body": "還在嗎？", "client_id": "c1"}))
        assert _recv(ws, "ack")["message"]["body"] == "還在嗎？"  # the socket and its conversation intact
        ws.send_text(json.dumps({"op": "ping", "pad": "x" * MAX_FRAME_BYTES}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1009


def test_hostile_frames_on_the_agent_socket_keep_its_subscriptions(client: Any, make: Any) -> None:
    """The console socket: bad frames answered with errors, subscriptions still delivering afterwards."""
    brand = make.brand()
    h = make.token(make.agent("admin", [brand]))
    token = h["Authorization"].split()[1]
    cust = client.post("/api/v1/customers", json={"brand_id": brand.id}, headers=h).json()
    cid = client.post("/api/v1/conversations", json={"brand_id": brand.id, "customer_id": cust["id"]}, headers=h)
    cid = cid.json()["id"]
    with client.websocket_connect(f"/api/v1/ws?token={token}", headers={"Origin": "http://testserver"}) as ws:
        _recv(ws, "hello")
        ws.send_text(json.dumps({"op": "subscribe", "topics": [f"conversation:{cid}:public"]}))
        _recv(ws, "subscribed")
        for frame in HOSTILE_FRAMES:
            ws.send_text(frame)
            assert _recv(ws, "error")["detail"], frame
        ws.send_text(json.dumps({"op": "presence", "conversation_id": cid, "state": ["typing"]}))  # unhashable
        _recv(ws, "error")
        ws.send_text(json.dumps({"op": "unsubscribe", "topics": 5}))  # was a TypeError that dropped the socket
        assert _recv(ws, "unsubscribed")["topics"] == []
        client.post(f"/api/v1/conversations/{cid}/messages", json={"body": "您好"}, headers=h)
        while True:
            msg = json.loads(ws.receive_text())
            if msg.get("event", {}).get("type") == "message.created":
                break


def test_only_the_frame_reader_reads_client_frames() -> None:
    """Structural: every WebSocket route reads frames through kefu.web.wsframes.receive_json."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "kefu"
    raw = re.compile(r"\.receive(_text|_bytes|_json)?\(")
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if p.name != "wsframes.py" and "websocket" in p.read_text().lower() and raw.search(p.read_text())
    ]
    assert offenders == []
