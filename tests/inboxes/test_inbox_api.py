"""Inboxes through the API and the admin page: bot on by default for chat channels, PATCH with validated settings,
write-only secrets, and the per-inbox bot switch deciding who answers new conversations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select


def _admin(make: Any) -> tuple[Any, dict[str, str]]:
    brand = make.brand()
    return brand, make.token(make.agent("admin"))


def test_chat_inboxes_start_with_the_bot_and_the_widget_conversation_is_the_bots(
    client: Any, make: Any, db: Any
) -> None:
    from kefu.conversations.models import Conversation

    brand, h = _admin(make)
    made = {}
    for kind in ("web_chat", "line", "messenger", "api", "email", "board"):
        r = client.post(f"/api/v1/brands/{brand.id}/inboxes", json={"kind": kind, "name": kind}, headers=h)
        assert r.status_code == 201, r.text
        made[kind] = r.json()
    assert {k: v["bot_enabled"] for k, v in made.items()} == {
        "web_chat": True, "line": True, "messenger": True, "api": True, "email": False, "board": False,
    }  # fmt: skip
    off = client.post(
        f"/api/v1/brands/{brand.id}/inboxes",
        json={"kind": "line", "name": "agents only", "bot_enabled": False},
        headers=h,
    )
    assert off.json()["bot_enabled"] is False
    # A visitor's first message in the new widget inbox opens a conversation owned by the bot.
    s = client.post("/api/v1/widget/session", json={"inbox_id": made["web_chat"]["id"]}).json()
    m = client.post("/api/v1/widget/messages", json={"body": "hi"}, headers={"X-Kefu-Visitor": s["visitor_token"]})
    assert m.status_code == 201
    conv = db.scalars(select(Conversation).where(Conversation.inbox_id == made["web_chat"]["id"])).one()
    assert conv.status == "bot"


def test_patch_inbox_settings_are_validated_and_secrets_write_only(client: Any, make: Any, db: Any) -> None:
    from kefu.audit.models import AuditLog
    from kefu.brands.models import Inbox

    brand, h = _admin(make)
    ib = client.post(
        f"/api/v1/brands/{brand.id}/inboxes",
        json={"kind": "line", "name": "LINE", "config": {"channel_secret": "s3cr3t"}},
        headers=h,
    ).json()
    assert ib["secrets_set"] == ["channel_secret"] and "s3cr3t" not in str(ib)
    url = f"/api/v1/inboxes/{ib['id']}"
    r = client.patch(
        url,
        json={
            "name": "LINE 官方帳號",
            "bot_enabled": False,
            "settings": {"channel_access_token": "tok-9", "api_base": "https://line.example"},
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["name"] == "LINE 官方帳號" and out["bot_enabled"] is False
    assert out["settings"] == {"api_base": "https://line.example", "initial_status": "open"}
    assert out["secrets_set"] == ["channel_access_token", "channel_secret"] and "tok-9" not in r.text
    assert "tok-9" not in client.get(url, headers=h).text
    db.expire_all()
    assert db.get(Inbox, ib["id"]).config["channel_access_token"] == "tok-9"
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "inbox.update").order_by(AuditLog.id.desc()))
    assert "tok-9" not in str(entry.details)
    # null removes a setting; the bot comes back on.
    r = client.patch(url, json={"bot_enabled": True, "settings": {"api_base": None}}, headers=h).json()
    assert r["settings"] == {"initial_status": "bot"} and r["bot_enabled"] is True
    for bad in (
        {"settings": {"nope": 1}},
        {"settings": {"api_base": "file:///etc/passwd"}},
        {"settings": {"channel_secret": 42}},
        {"settings": {"initial_status": "maybe"}},
        {"colour": "red"},
        {"name": ""},
    ):
        resp = client.patch(url, json=bad, headers=h)
        assert resp.status_code == 422 and resp.headers["content-type"].startswith("application/problem+json"), bad
    email = client.post(f"/api/v1/brands/{brand.id}/inboxes", json={"kind": "email", "name": "mail"}, headers=h)
    assert (
        client.patch(f"/api/v1/inboxes/{email.json()['id']}", json={"bot_enabled": True}, headers=h).status_code == 422
    )
    assert client.patch(url, json={"name": "mail"}, headers=h).status_code == 409
    # Other brands' inboxes do not exist for their agents; agents cannot manage inboxes.
    other = make.brand()
    assert client.get(url, headers=make.token(make.agent("agent", [other]))).status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=make.token(make.agent("agent", [brand]))).status_code == 403


def test_admin_bot_switch_and_greetings(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.models import Inbox
    from kefu.brands.service import create_inbox

    brand = make.brand()
    admin = make.agent("admin")
    inbox = create_inbox(db, brand, kind="web_chat", name="網站", config={}, actor=None)
    db.commit()
    r = client.post("/api/v1/auth/login", json={"email": admin.email, "password": "correct horse 1"})
    h = {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}
    page = client.get(f"/admin?tab=inboxes&brand_id={brand.id}")
    assert 'role="switch"' in page.text and 'value="bot" checked' in page.text
    form = {"name": "網站", "is_active": "1", "cfg_greeting_zh-TW": "您好！", "cfg_greeting_en": "Hello!"}
    assert client.post(f"/admin/inboxes/{inbox.id}", data=form, headers=h).status_code == 200  # switch unchecked
    db.expire_all()
    cfg = db.get(Inbox, inbox.id).config
    assert cfg["initial_status"] == "open" and cfg["greeting"] == {"zh-TW": "您好！", "en": "Hello!"}
    s = client.post("/api/v1/widget/session", json={"inbox_id": inbox.id, "locale": "en"}).json()
    assert s["greeting"] == "Hello!"
    client.post(f"/admin/inboxes/{inbox.id}", data={**form, "cfg_initial_status": "bot"}, headers=h)
    db.expire_all()
    assert db.get(Inbox, inbox.id).config["initial_status"] == "bot"
