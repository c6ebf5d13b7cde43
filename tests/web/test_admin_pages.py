"""Admin and console pages through HTTP (no browser): channel settings, bot review queue, agent assist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_inbox_settings_keep_secrets_and_audit_keys_only(client: Any, make: Any, db: Any) -> None:
    from kefu.audit.models import AuditLog
    from kefu.brands.models import Inbox
    from kefu.brands.service import create_inbox

    brand = make.brand()
    admin = make.agent("admin")
    inbox = create_inbox(db, brand, kind="line", name="LINE", config={"channel_secret": "old-secret"}, actor=None)
    db.commit()
    h = _login(client, admin)
    page = client.get(f"/admin?tab=inboxes&brand_id={brand.id}")
    assert page.status_code == 200 and "old-secret" not in page.text
    form = {
        "name": "LINE OA",
        "is_active": "1",
        "cfg_channel_secret": "",
        "cfg_channel_access_token": "tok-123",
        "cfg_api_base": "http://127.0.0.1:9/line",
        "cfg_initial_status": "bot",
    }
    r = client.post(f"/admin/inboxes/{inbox.id}", data=form, headers=h)
    assert r.status_code == 200, r.text
    db.expire_all()
    row = db.get(Inbox, inbox.id)
    assert row.name == "LINE OA"
    assert row.config["channel_secret"] == "old-secret"  # blank secret keeps the stored one
    assert row.config["channel_access_token"] == "tok-123" and row.config["initial_status"] == "bot"
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "inbox.update").order_by(AuditLog.id.desc()))
    assert "tok-123" not in str(entry.details) and "channel_access_token" in entry.details["config_keys"]
    bad = client.post(f"/admin/inboxes/{inbox.id}", data={**form, "cfg_api_base": ""}, headers={"HX-Request": "1"})
    assert bad.status_code == 403  # no CSRF token


def test_review_queue_page_attaches_question(client: Any, make: Any, db: Any) -> None:
    from kefu.bot.models import BotReviewItem
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    sup = make.agent("supervisor", [brand])
    faq = create_faq(
        db,
        None,
        brand_id=brand.id,
        locale="zh-TW",
        questions=["忘記密碼"],
        answer="請重設",
        category=None,
        intent="password",
        is_published=True,
    )
    item = BotReviewItem(brand_id=brand.id, text="密碼想不起來", reason="low_confidence", candidates=[])
    db.add(item)
    db.commit()
    h = _login(client, sup)
    page = client.get(f"/admin?tab=review&brand_id={brand.id}")
    assert "密碼想不起來" in page.text
    r = client.post(f"/admin/review/{item.id}", data={"brand_id": brand.id, "faq_id": faq.id}, headers=h)
    assert r.status_code == 200 and "密碼想不起來" not in r.text
    db.expire_all()
    assert "密碼想不起來" in db.get(type(faq), faq.id).questions
