"""Side paths of the customer-facing surfaces: what one customer's lookup may show of another customer's data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select

from tests.tickets.helpers import admin_principal

PROGRESS = "/api/v1/public/tickets/progress"


def test_progress_of_a_ticket_merged_into_another_customers_ticket_shows_none_of_it(
    client: Any, db: Any, make: Any
) -> None:
    """A duplicate merged into a stranger's ticket: its customer sees their own ticket closed, nothing of the other."""
    from kefu.tickets.service import add_comment, create_ticket, merge_tickets

    brand = make.brand(ticket_prefix="MG")
    p = admin_principal(make.agent("admin"))
    amy = make.customer(brand, name="Amy", email="amy@example.com")
    bob = make.customer(brand, name="Bob", email="bob@example.com")
    bobs = create_ticket(db, brand_id=brand.id, subject="Bob 的退款 0912345678", actor=p, customer_id=bob.id)
    add_comment(db, bobs, p, "Bob：已退款到帳號 812-1234567", public=True)
    amys = create_ticket(db, brand_id=brand.id, subject="Amy 的問題", actor=p, customer_id=amy.id)
    merge_tickets(db, bobs, [amys], p)
    db.commit()
    r = client.post(PROGRESS, json={"number": amys.number, "contact": "amy@example.com"})
    assert r.status_code == 200, r.text
    body = r.json()
    # The merge note names the survivor's number (useless without Bob's contact); nothing of Bob's ticket shows.
    assert "Bob" not in r.text and "0912345678" not in r.text and "812-1234567" not in r.text, body
    assert body["number"] == amys.number and body["status"] == "closed" and body["merged_into"] is None


def test_identity_claim_link_changes_nothing_until_its_owner_confirms(client: Any, db: Any, make: Any) -> None:
    """A mail scanner or preview fetching the link (GET) must not merge a stranger's chat into the customer."""
    from kefu.customers.claims import record_claim

    brand = make.brand()
    victim = make.customer(brand, name="Victim", email="victim@example.com")
    stranger = make.customer(brand, name="Visitor")
    token = record_claim(db, stranger, "email", "victim@example.com")
    db.commit()
    for lang, title in (("zh-TW", "確認您的電子郵件"), ("zh-CN", "确认您的电子邮箱"), ("en", "Confirm your email")):
        page = client.get("/api/v1/widget/verify", params={"token": token, "lang": lang})
        assert page.status_code == 200 and 'method="post"' in page.text and title in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    db.expire_all()
    assert db.get(type(stranger), stranger.id).merged_into_id is None
    cross = client.post("/api/v1/widget/verify", data={"token": token}, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    db.expire_all()
    assert db.get(type(stranger), stranger.id).merged_into_id is None
    ok = client.post("/api/v1/widget/verify", data={"token": token})
    assert ok.status_code == 200, ok.text
    db.expire_all()
    assert db.get(type(stranger), stranger.id).merged_into_id == victim.id


_HUGE_FIELD = b'id,locale,category,question,answer\n1,zh-TW,c,"' + b"x" * 200_000 + b'",y\n'  # csv.Error


@pytest.mark.parametrize(("body", "fmt"), [(b"[" * 100_000, "json"), (_HUGE_FIELD, "csv")])
def test_unreadable_import_files_are_invalid_input(body: bytes, fmt: str) -> None:
    """Deep JSON (RecursionError) and oversized CSV fields (csv.Error) in an uploaded file are bad input."""
    from kefu.core.errors import InvalidInput
    from kefu.knowledge import bulk

    with pytest.raises(InvalidInput):
        bulk.read_records(body, fmt)


def test_hostile_import_file_is_a_422_not_a_500(client: Any, make: Any) -> None:
    """Files an editor uploads are untrusted input too: unreadable ones are refused as such."""
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    r = client.post(
        "/api/v1/kb/import",
        params={"brand_id": brand.id},
        content=_HUGE_FIELD,
        headers={**h, "Content-Type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_leave_message_with_someone_elses_email_never_makes_the_visitor_that_customer(
    client: Any, db: Any, make: Any
) -> None:
    """The widget's leave-a-message form is a side door to the pre-chat form: the typed contact is only a claim."""
    from kefu.brands.service import create_inbox
    from kefu.conversations.models import Conversation
    from kefu.customers.claims import verified_owner
    from kefu.customers.models import CustomerIdentity
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    inbox = create_inbox(db, brand, kind="web_chat", name="chat", config={}, actor=None, bot=False)
    victim = make.customer(brand, name="Victim", email="victim@example.com")
    create_ticket(db, brand_id=brand.id, subject="Victim 的訂單", actor=None, customer_id=victim.id)
    db.commit()
    token = client.post("/api/v1/widget/session", json={"inbox_id": inbox.id}).json()["visitor_token"]
    # A visitor without a customer record of their own yet (e.g. theirs was erased while the token lived on).
    db.execute(delete(CustomerIdentity).where(CustomerIdentity.kind == "web"))
    db.commit()
    h = {"x-kefu-visitor": token}
    left = client.post(
        "/api/v1/widget/leave-message",
        json={"name": "Mallory", "contact": "victim@example.com", "message": "請回電"},
        headers=h,
    )
    assert left.status_code == 201, left.text
    chat = client.post("/api/v1/widget/messages", json={"body": "我的訂單呢？", "client_id": "c1"}, headers=h)
    assert chat.status_code == 201, chat.text
    db.expire_all()
    conv = db.get(Conversation, chat.json()["conversation_id"])
    assert conv.customer_id != victim.id
    assert not verified_owner(db, conv, victim.id)
    web = db.scalars(select(CustomerIdentity).where(CustomerIdentity.kind == "web")).all()
    assert all(i.customer_id != victim.id for i in web)


# Who may bind an identity to a customer or merge two customers: agents (customers API and service, the workspace)
# and a proven claim (kefu.customers.claims). Customer-facing code never does it on a typed contact.
IDENTITY_BINDERS = {
    "kefu/customers/service.py",
    "kefu/customers/api.py",
    "kefu/customers/claims.py",
    "kefu/workspace/pages.py",
    "kefu/demo/__init__.py",
    "kefu/demo/history.py",  # the demo's past LINE/Messenger chats get the identity their channel would have made
}


def test_identities_are_bound_only_by_agents_or_a_proven_claim() -> None:
    """A new customer-facing path calling add_identity / merge_customers fails here (go through claims instead)."""
    import re
    from pathlib import Path

    src = Path(__file__).parents[2] / "src"
    callers = {
        p.relative_to(src).as_posix()
        for p in src.rglob("*.py")
        if re.search(r"\b(add_identity|merge_customers)\(", p.read_text(encoding="utf-8"))
    }
    assert callers <= IDENTITY_BINDERS, f"identity bound outside agents/claims: {sorted(callers - IDENTITY_BINDERS)}"
    assert callers >= {"kefu/customers/claims.py", "kefu/customers/api.py"}


# Public GET routes that carry a capability (a token in the path, the query or a header): how the test below gets a
# valid one. A new such route must be added here, so that it too is called with a working token.
def _capabilities(client: Any, db: Any, make: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    from datetime import timedelta

    from kefu.brands.service import create_inbox
    from kefu.channels import media
    from kefu.channels.storage import store
    from kefu.core.db import utcnow
    from kefu.customers.claims import record_claim
    from kefu.surveys.models import CampaignRecipient, CsatSurvey, SurveyCampaign
    from kefu.surveys.service import make_token
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    inbox = create_inbox(db, brand, kind="web_chat", name="chat", config={}, actor=None, bot=False)
    db.commit()
    visitor = client.post("/api/v1/widget/session", json={"inbox_id": inbox.id}).json()["visitor_token"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    att = client.post(
        "/api/v1/widget/attachments", files={"file": ("p.png", png, "image/png")}, headers={"x-kefu-visitor": visitor}
    ).json()["id"]
    sent = store(db, brand_id=brand.id, conversation_id=None, filename="a.png", content_type="image/png", data=png)
    cust = make.customer(brand, name="Amy", email="amy@example.com")
    stranger = make.customer(brand, name="Visitor")
    ticket = create_ticket(db, brand_id=brand.id, subject="s", actor=None, customer_id=cust.id)
    now = utcnow()
    csat = CsatSurvey(
        brand_id=brand.id, ticket_id=ticket.id, customer_id=cust.id, channel="email", resolved_at=now,
        expires_at=now + timedelta(days=7),
    )  # fmt: skip
    campaign = SurveyCampaign(brand_id=brand.id, name="c", status="active", dimensions=[{"key": "k"}])
    db.add_all([csat, campaign])
    db.flush()
    recipient = CampaignRecipient(campaign_id=campaign.id, brand_id=brand.id, customer_id=cust.id, sent_at=now)
    db.add(recipient)
    claim = record_claim(db, stranger, "email", "amy@example.com")
    db.commit()
    media_url = media.public_url(sent.id, "a.png")
    ids = {"slug": brand.slug, "inbox_id": inbox.id, "attachment_id": att}
    table: dict[str, dict[str, Any]] = {
        "/api/v1/channels/attachments/{attachment_id}": {"params": {"vt": visitor}},
        "/api/v1/channels/media/{token}/{filename}": {"url": media_url.split("/api/v1/", 1)[-1]},
        "/api/v1/widget/verify": {"params": {"token": claim}},
        "/api/v1/widget/messages": {"headers": {"x-kefu-visitor": visitor}},
        "/api/v1/surveys/csat/{token}": {"ids": {"token": make_token("csat", csat.id)}},
        "/survey/{token}": {"ids": {"token": make_token("csat", csat.id)}},
        "/api/v1/surveys/campaign/{token}": {"ids": {"token": make_token("campaign", recipient.id)}},
        "/survey/c/{token}": {"ids": {"token": make_token("campaign", recipient.id)}},
        "/reset-password": {"params": {"token": "x" * 43}},
    }
    return ids, table


def test_public_get_routes_change_nothing(app: Any, client: Any, make: Any, db: Any, connection: Any) -> None:
    """Opening a link must be safe: scanners, previews and prefetchers fetch them (the claim-link lesson).

    Every GET route reachable without a login is called with working capabilities; none may write a row.
    """
    import re

    from sqlalchemy import event

    from kefu.auth.deps import current_principal
    from kefu.web.pages import page_context
    from tests.security.test_route_matrix import _fill, api_routes

    ids, table = _capabilities(client, db, make)
    writes: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.match(r"\s*(INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE):
            writes.append(statement.split("\n", 1)[0][:120])

    public = []
    for route in api_routes(list(app.routes)):
        calls, stack = set(), list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            calls.add(dep.call)
            stack.extend(dep.dependencies)
        if "GET" in route.methods and current_principal not in calls and page_context not in calls:
            public.append(route)
    assert len(public) > 20
    capability_params = {"token", "vt", "x_kefu_visitor"}
    untested = [
        r.path
        for r in public
        if r.path not in table
        and (
            "{token}" in r.path
            or capability_params & {p.name for p in r.dependant.query_params + r.dependant.header_params}
        )
    ]
    assert not untested, f"add a working capability for these routes to _capabilities: {untested}"
    event.listen(connection, "before_cursor_execute", watch)
    try:
        changed = []
        for route in public:
            spec = table.get(route.path, {})
            url = "/api/v1/" + spec["url"] if "url" in spec else _fill(route.path, {**ids, **spec.get("ids", {})})
            writes.clear()
            r = client.get(url, params=spec.get("params"), headers=spec.get("headers"))
            assert r.status_code < 500, (url, r.status_code)
            if route.path in table:
                assert r.status_code < 400 or route.path == "/reset-password", (url, r.status_code, r.text[:200])
            if writes:
                changed.append(f"{route.path}: {writes}")
    finally:
        event.remove(connection, "before_cursor_execute", watch)
    assert not changed, "GET routes must not write (use a POST form):\n" + "\n".join(changed)


def test_notifications_of_a_brand_the_agent_left_are_no_longer_shown(client: Any, db: Any, make: Any) -> None:
    """The bell, the list and the API read notifications by agent: losing a brand must hide that brand's ones."""
    from kefu.auth.service import set_agent_brands
    from kefu.sla.models import Notification
    from kefu.sla.notifications import notify

    kept, left = make.brand(), make.brand()
    agent = make.agent("agent", [kept, left])
    notify(db, [agent.id], "ticket.assigned", "KEPT-1", brand_id=kept.id, body="留下的案件")
    gone = notify(db, [agent.id], "ticket.assigned", "LEFT-1", brand_id=left.id, body="離開品牌的案件主旨")[0]
    notify(db, [agent.id], "account.login", "ACCOUNT-1", brand_id=None, body="新的登入")
    set_agent_brands(db, agent, [kept.id])
    db.commit()
    h = make.token(agent)
    r = client.get("/api/v1/notifications", headers=h)
    assert r.status_code == 200, r.text
    assert sorted(n["title"] for n in r.json()["items"]) == ["ACCOUNT-1", "KEPT-1"], r.text
    assert client.get("/api/v1/notifications", params={"unread": True}, headers=h).text.count("LEFT-1") == 0
    assert client.post(f"/api/v1/notifications/{gone.id}/read", headers=h).status_code == 404
    assert client.post("/api/v1/notifications/read-all", headers=h).json() == {"updated": 2}
    db.expire_all()
    assert db.get(Notification, gone.id).read_at is None
    csrf = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert csrf.status_code == 200
    page = client.get("/console/notifications")
    assert page.status_code == 200 and "KEPT-1" in page.text
    assert "LEFT-1" not in page.text and "離開品牌" not in page.text
    db.add(Notification(brand_id=left.id, agent_id=agent.id, kind="x", title="LEFT-2", body=""))
    db.commit()
    narrow = make.token(agent, scopes=["kb:read"])  # a token for other work reads its account's notices only
    items = client.get("/api/v1/notifications", headers=narrow).json()["items"]
    assert [n["title"] for n in items] == ["ACCOUNT-1"], items
    badge = client.get("/console/notifications/badge")  # the visible ones were all read: no count
    assert badge.status_code == 200 and "unread-count" not in badge.text, badge.text


def test_a_file_of_no_conversation_is_never_an_attachment_download(client: Any, db: Any, make: Any) -> None:
    """The attachment downloads check the file's conversation; a file without one (a report for the outbox) is served
    only by its own route, whoever asks (even an admin: its own route decides its permission)."""
    from kefu.channels.storage import store

    brand = make.brand()
    row = store(db, brand_id=brand.id, conversation_id=None, filename="r.csv", content_type="text/csv", data=b"a,b\n")
    db.commit()
    admin = make.agent("admin", [brand])
    assert client.get(f"/api/v1/channels/attachments/{row.id}", headers=make.token(admin)).status_code == 404
    assert client.post("/api/v1/auth/login", json={"email": admin.email, "password": "correct horse 1"}).is_success
    assert client.get(f"/console/attachments/{row.id}").status_code == 404


def test_a_token_scoped_to_other_work_cannot_follow_its_agents_topic(client: Any, make: Any) -> None:
    """The agent topic carries notifications and call pop-ups (case data): like the notification list, a token scoped
    to other work (kb:read) is refused it on the WebSocket; an unscoped token of the same agent gets it."""
    import json

    agent = make.agent("agent", [make.brand()])
    for scopes, allowed in ((["kb:read"], False), (None, True)):
        token = make.token(agent, scopes=scopes)["Authorization"].split()[1]
        with client.websocket_connect(f"/api/v1/ws?token={token}", headers={"Origin": "http://testserver"}) as ws:
            ws.send_text(json.dumps({"op": "subscribe", "topics": [f"agent:{agent.id}"]}))
            while (msg := json.loads(ws.receive_text()))["op"] != "subscribed":
                pass
        assert (msg["topics"] == [f"agent:{agent.id}"]) is allowed, (scopes, msg)
