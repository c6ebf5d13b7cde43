"""Side paths of access control: attachment downloads (agents, visitors, signed links), mass assignment of brand_id,
open redirects, widget flooding."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _widget(client: Any, inbox_id: int) -> dict[str, str]:
    r = client.post("/api/v1/widget/session", json={"inbox_id": inbox_id})
    assert r.status_code == 200, r.text
    return {"x-kefu-visitor": r.json()["visitor_token"]}


def _chat_inbox(db: Any, brand: Any) -> Any:
    from kefu.brands.service import create_inbox

    inbox = create_inbox(db, brand, kind="web_chat", name="chat", config={}, actor=None, bot=False)
    db.commit()
    return inbox


def test_attachment_download_needs_its_conversation(client: Any, make: Any, db: Any) -> None:
    """Visitor X's file: X and B's agents get it; visitor Y, an agent of brand A, a forged token get 404/401."""
    a, b = make.brand(), make.brand()
    inbox = _chat_inbox(db, b)
    x, y = _widget(client, inbox.id), _widget(client, inbox.id)
    up = client.post("/api/v1/widget/attachments", files={"file": ("p.png", PNG, "image/png")}, headers=x)
    assert up.status_code == 201, up.text
    att = up.json()["id"]
    url = f"/api/v1/channels/attachments/{att}"
    assert client.get(url, headers=x).status_code == 200
    assert client.get(url, params={"vt": x["x-kefu-visitor"]}).status_code == 200
    assert client.get(url, headers=y).status_code == 404  # same inbox, another visitor
    assert client.get(url, params={"vt": y["x-kefu-visitor"]}).status_code == 404
    assert client.get(url, headers={"x-kefu-visitor": "forged.token"}).status_code == 401
    assert client.get(url, headers=make.token(make.agent("agent", [b]))).status_code == 200
    for role in ("agent", "supervisor", "auditor"):
        assert client.get(url, headers=make.token(make.agent(role, [a]))).status_code == 404, role
    # A visitor cannot pull another conversation's file into their own by naming its id in a message.
    r = client.post(
        "/api/v1/widget/messages", json={"body": "hi", "client_id": "c1", "attachment_ids": [att]}, headers=y
    )
    assert r.status_code == 201 and not r.json().get("attachments"), r.text


def test_expired_visitor_token_is_refused(client: Any, make: Any, db: Any) -> None:
    from kefu.channels.web_chat.token import issue, verify

    inbox = _chat_inbox(db, make.brand())
    old = issue(inbox.id, "v-old", now=time.time() - 400 * 86400)
    assert verify(old) is None
    r = client.get("/api/v1/widget/messages", headers={"x-kefu-visitor": old})
    assert r.status_code == 401


def test_signed_media_link_expires_and_caches_never_outlive_it(client: Any, make: Any, db: Any) -> None:
    from kefu.channels import media
    from kefu.channels.storage import store

    brand = make.brand()
    row = store(db, brand_id=brand.id, conversation_id=None, filename="p.png", content_type="image/png", data=PNG)
    db.commit()
    fresh = media.public_url(row.id, "p.png")
    path = fresh.split("://", 1)[-1].split("/", 1)[1]
    r = client.get(f"/{path}")
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=86400"
    nearly = media.public_url(row.id, "p.png", now=time.time() - media.PUBLIC_URL_TTL_SECONDS + 120)
    r = client.get("/" + nearly.split("://", 1)[-1].split("/", 1)[1])
    assert r.status_code == 200
    assert 0 < int(r.headers["cache-control"].rsplit("=", 1)[1]) <= 120
    expired = media.public_url(row.id, "p.png", now=time.time() - media.PUBLIC_URL_TTL_SECONDS - 1)
    assert client.get("/" + expired.split("://", 1)[-1].split("/", 1)[1]).status_code == 404
    token = path.split("/")[-2]
    assert client.get(f"/api/v1/channels/media/{token[:-2]}xx/p.png").status_code == 404  # tampered


def test_brand_id_in_a_body_never_moves_a_row(client: Any, make: Any, db: Any) -> None:
    """Mass assignment: brand_id sent to an update is refused or ignored; the row stays in its brand."""
    from kefu.customers.models import Customer
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import create_ticket

    a, b = make.brand(), make.brand()
    h = make.token(make.agent("supervisor", [a]))
    t = create_ticket(db, actor=None, brand_id=a.id, subject="s", description="d", customer_id=None)
    c = make.customer(a, name="甲")
    db.commit()
    for url in (f"/api/v1/tickets/{t.id}", f"/api/v1/customers/{c.id}"):
        r = client.patch(url, json={"brand_id": b.id}, headers=h)
        assert r.status_code in (200, 422), (url, r.status_code)
    db.expire_all()
    assert db.get(Ticket, t.id).brand_id == a.id and db.get(Customer, c.id).brand_id == a.id
    # Creating in a brand the caller cannot see is a 404, whatever else the body says.
    r = client.post("/api/v1/tickets", json={"brand_id": b.id, "subject": "x", "description": "y"}, headers=h)
    assert r.status_code == 404
    assert db.scalar(select(Ticket.id).where(Ticket.brand_id == b.id)) is None


def test_no_open_redirects(client: Any, make: Any, db: Any) -> None:
    """`next=` on login and `back=` on the case and conversation pages never send anyone off-site."""
    from kefu.conversations.commands import CreateConversation
    from kefu.conversations.service import create_conversation
    from kefu.tickets.service import create_ticket
    from tests.security.test_brand_walk import PASSWORD

    brand = make.brand()
    agent = make.agent("agent", [brand])
    form = {"email": agent.email, "password": PASSWORD, "next": "https://evil.example/"}
    r = client.post("/login?next=//evil.example/", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cust = make.customer(brand, name="乙")
    t = create_ticket(db, actor=None, brand_id=brand.id, subject="s", description="d", customer_id=cust.id)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat"), actor=None
    )
    db.commit()
    for page in (f"/console/tickets/{t.id}", f"/console/conversations/{conv.id}"):
        for back in ("https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:alert(1)"):
            r = client.get(page, params={"back": back})
            assert r.status_code == 200, (page, r.status_code)
            assert f'href="{back}' not in r.text and 'href="//evil' not in r.text, (page, back)


def test_widget_messages_are_rate_limited(client: Any, make: Any, db: Any) -> None:
    from kefu.channels.web_chat import service

    inbox = _chat_inbox(db, make.brand())
    x, y = _widget(client, inbox.id), _widget(client, inbox.id)
    codes = [
        client.post("/api/v1/widget/messages", json={"body": f"m{i}", "client_id": f"c{i}"}, headers=x).status_code
        for i in range(service.MESSAGES_PER_MINUTE + 1)
    ]
    assert codes[:-1] == [201] * service.MESSAGES_PER_MINUTE and codes[-1] == 429
    # Another visitor of the same inbox is not held back by the first one's flood.
    assert client.post("/api/v1/widget/messages", json={"body": "hi", "client_id": "c0"}, headers=y).status_code == 201


def test_foreign_and_missing_ids_answer_alike(client: Any, make: Any, db: Any) -> None:
    """404 bodies for another brand's row and for no row at all are the same (no existence oracle across brands)."""
    from tests.security.test_brand_walk import build_brand_b

    ids = build_brand_b(db, make)["ids"]
    h = make.token(make.agent("supervisor", [make.brand()]))
    for url, table in [
        ("/api/v1/tickets/{}", "tickets"),
        ("/api/v1/customers/{}", "customers"),
        ("/api/v1/conversations/{}", "conversations"),
        ("/api/v1/complaints/{}", "complaints"),
        ("/api/v1/kb/faqs/{}", "kb_faqs"),
        ("/api/v1/organizations/{}", "organizations"),
    ]:
        foreign, missing = ids[table], 987654
        a = client.get(url.format(foreign), headers=h)
        b = client.get(url.format(missing), headers=h)
        assert a.status_code == b.status_code == 404, url
        assert a.json()["detail"].replace(str(foreign), "N") == b.json()["detail"].replace(str(missing), "N"), url


def test_a_visitor_never_gets_an_internal_notes_file(client: Any, make: Any, db: Any) -> None:
    """A file an agent keeps on an internal note of the visitor's own conversation stays internal: the visitor's
    download of its (sequential, guessable) id is the same 404 as any other conversation's file; a reply's file is
    theirs."""
    brand = make.brand()
    inbox = _chat_inbox(db, brand)
    x = _widget(client, inbox.id)
    r = client.post("/api/v1/widget/messages", json={"body": "hello", "client_id": "c1"}, headers=x)
    assert r.status_code == 201, r.text
    conv_id = r.json()["conversation_id"]
    agent = make.token(make.agent("agent", [brand]))
    sent = {}
    for kind, note in (("note", "true"), ("reply", "false")):
        r = client.post(
            f"/api/v1/channels/conversations/{conv_id}/messages",
            data={"body": f"the {kind}", "is_note": note},
            files={"files": (f"{kind}.png", PNG, "image/png")},
            headers=agent,
        )
        assert r.status_code == 201, r.text
        sent[kind] = r.json()["attachments"][0]["id"]
    url = "/api/v1/channels/attachments/{}"
    assert client.get(url.format(sent["reply"]), headers=x).status_code == 200
    assert client.get(url.format(sent["note"]), headers=x).status_code == 404
    assert client.get(url.format(sent["note"]), params={"vt": x["x-kefu-visitor"]}).status_code == 404
    assert client.get(url.format(sent["note"]), headers=agent).status_code == 200  # agents still read it
    # Naming the note's file in a message of their own does not pull it (or its name) into the visitor's view.
    r = client.post(
        "/api/v1/widget/messages", json={"body": "x", "client_id": "c2", "attachment_ids": [sent["note"]]}, headers=x
    )
    assert r.status_code == 201 and not r.json().get("attachments"), r.text
    assert "note.png" not in client.get("/api/v1/widget/messages", headers=x).text


def test_foreign_and_missing_ids_in_a_body_answer_alike(client: Any, make: Any, db: Any) -> None:
    """An id in a body naming another brand's row answers as no row at all: a bot answer's vote (it named B's
    conversation id) and a manual dispatch (it told B's active agents from missing ones)."""
    from kefu.tickets.service import create_ticket
    from tests.security.test_brand_walk import build_brand_b

    world = build_brand_b(db, make)
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    ticket = create_ticket(db, actor=None, brand_id=brand.id, subject="s", description="d", customer_id=None)
    db.commit()
    for url, field, foreign in [
        ("/api/v1/bot/feedback", "message_id", world["ids"]["messages"]),
        (f"/api/v1/routing/tickets/{ticket.id}/dispatch", "agent_id", world["agent"].id),
    ]:
        extra = {"helpful": False} if field == "message_id" else {}
        a = client.post(url, json={field: foreign, **extra}, headers=h)
        b = client.post(url, json={field: 987654, **extra}, headers=h)
        assert a.status_code == b.status_code and a.status_code in (404, 422), (url, a.text, b.text)
        assert a.json()["detail"].replace(str(foreign), "N") == b.json()["detail"].replace("987654", "N"), url
