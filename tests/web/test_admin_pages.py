"""Admin and console pages through HTTP (no browser): channel settings, bot review queue, agent assist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq


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
    # The bot switch reads as one sentence per locale (it once glued "First handled by" to a full-width colon in en).
    en = client.get(f"/admin?tab=inboxes&brand_id={brand.id}&lang=en").text
    assert "The bot answers first" in en and "：" not in en.split('role="switch"', 1)[1].split("</label>", 1)[0]
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
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            questions=["忘記密碼"],
            answer="請重設",
            category=None,
            intent="password",
            is_published=True,
        ),
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


def test_sla_and_complaint_views(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.sla.models import TicketSla
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    agent = make.agent("agent", [brand])
    convs = {}
    for name, category in (("逾時客戶", None), ("客訴客戶", "complaint"), ("一般客戶", None)):
        cust = make.customer(brand, name=name)
        conv = create_conversation(
            db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat"), actor=None
        )
        add_message(db, conv, sender_type="customer", body=f"{name}的訊息")
        create_ticket(
            db,
            brand_id=brand.id,
            subject=name,
            actor=None,
            customer_id=cust.id,
            category=category,
            conversation_id=conv.id,
        )
        convs[name] = conv
    db.flush()
    row = db.get(TicketSla, convs["逾時客戶"].ticket_id)
    if row is None:
        row = TicketSla(ticket_id=convs["逾時客戶"].ticket_id, brand_id=brand.id, policy_name="x", policy={})
        db.add(row)
    row.status = "breached"
    db.commit()
    _login(client, agent)
    sla = client.get("/console", params={"view": "sla"}).text
    assert "逾時客戶" in sla and "一般客戶" not in sla
    complaints = client.get("/console", params={"view": "complaints"}).text
    assert "客訴客戶" in complaints and "一般客戶" not in complaints


def test_assist_panel_renders_summary(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import add_message, create_conversation

    brand = make.brand()
    agent = make.agent("agent", [brand])
    cust = make.customer(brand, name="李")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat"), actor=None
    )
    add_message(db, conv, sender_type="customer", body="<b>我的訂單</b>還沒到")
    db.commit()
    _login(client, agent)
    r = client.get(f"/console/conversations/{conv.id}/assist")
    assert r.status_code == 200
    assert "&lt;b&gt;我的訂單&lt;/b&gt;還沒到" in r.text and "<b>我的訂單" not in r.text


def test_console_masks_pii_for_agents_not_supervisors(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.service import add_message, create_conversation

    brand = make.brand()
    agent = make.agent("agent", [brand])
    sup = make.agent("supervisor", [brand])
    cust = make.customer(brand, name="王小明", email="wang.xiaoming@example.com", phone="0912-345-678")
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="line"), actor=None
    )
    add_message(db, conv, sender_type="customer", body="我的手機是 0912-345-678，信用卡 4111 1111 1111 1111")
    db.commit()
    _login(client, agent)
    page = client.get(f"/console/conversations/{conv.id}").text
    assert "0912-345-678" not in page and "4111 1111 1111 1111" not in page and "wang.xiaoming" not in page
    assert "王○明" in page and "1111" in page
    client.cookies.clear()
    _login(client, sup)
    page = client.get(f"/console/conversations/{conv.id}").text
    assert "0912-345-678" in page and "王小明" in page


def test_sla_and_routing_admin(client: Any, make: Any, db: Any) -> None:
    import json

    from kefu.routing.models import RoutingRule, TeamRouting
    from kefu.routing.service import install_default_routing
    from kefu.sla.models import SlaCalendar, SlaPolicyRecord
    from kefu.sla.service import install_defaults

    brand = make.brand()
    admin = make.agent("admin")
    from kefu.auth.service import create_team

    team = create_team(db, brand_id=brand.id, slug="finance", name="財務組", description="", actor=None)
    install_defaults(db, brand.id, None)
    install_default_routing(db, brand.id, None)
    db.commit()
    h = _login(client, admin)
    page = client.get(f"/admin?tab=sla&brand_id={brand.id}")
    assert (page.status_code == 200 and "business_minutes" in page.text) or "minutes" in page.text
    policy = db.scalars(select(SlaPolicyRecord).where(SlaPolicyRecord.brand_id == brand.id)).first()
    from kefu.admin.forms import calendar_fields, policy_fields

    bad = client.post(
        f"/admin/sla/policies/{policy.id}",
        data={**policy_fields(policy.definition), "warn_mode": "minutes", "warn_value": "x", "active": "1"},
        headers=h,
    )
    assert bad.status_code == 422 and "field-error" in bad.text
    ok = client.post(f"/admin/sla/policies/{policy.id}", data=policy_fields(policy.definition), headers=h)
    assert ok.status_code == 200
    db.expire_all()
    assert db.get(SlaPolicyRecord, policy.id).is_active is False
    cal = db.scalars(select(SlaCalendar).where(SlaCalendar.brand_id == brand.id)).first()
    fields = calendar_fields(cal.config)
    fields["holidays"] = "2026-12-25 公司紀念日"
    r = client.post(f"/admin/sla/calendars/{cal.id}", data=fields, headers=h)
    assert r.status_code == 200, r.text
    db.expire_all()
    assert "2026-12-25" in json.dumps(db.get(SlaCalendar, cal.id).config)
    r = client.post(
        "/admin/routing/rules",
        data={"brand_id": brand.id, "name": "退款→財務", "cond_category": "refund", "team_id": team.id},
        headers=h,
    )
    assert r.status_code == 200, r.text
    rule = db.scalar(select(RoutingRule).where(RoutingRule.name == "退款→財務"))
    assert rule is not None and rule.team_id == team.id
    r = client.post(f"/admin/routing/teams/{team.id}", data={"strategy": "round_robin", "auto_assign": "1"}, headers=h)
    assert r.status_code == 200
    db.expire_all()
    assert db.get(TeamRouting, team.id).strategy == "round_robin"


def test_brand_admin_creates_and_edits_tiers(client: Any, make: Any, db: Any) -> None:

    from kefu.brands.models import Brand

    admin = make.agent("admin")
    h = _login(client, admin)
    r = client.post(
        "/admin/brands",
        data={
            "slug": "jade",
            "name": "翡翠商城",
            "ticket_prefix": "JD",
            "default_locale": "zh-CN",
            "timezone": "Asia/Shanghai",
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    brand = db.scalar(select(Brand).where(Brand.slug == "jade"))
    assert brand is not None and brand.ticket_prefix == "JD" and len(brand.tiers) == 3
    again = client.post("/admin/brands", data={"slug": "jade-2", "name": "翡翠二館", "ticket_prefix": "JD"}, headers=h)
    assert again.status_code == 422 and db.scalar(select(Brand).where(Brand.slug == "jade-2")) is None, again.text
    tiers = {"tier_level_0": "1", "tier_name_0": "普通", "tier_min_0": "0"}
    tiers |= {"tier_level_1": "2", "tier_name_1": "黄金", "tier_min_1": "5000"}
    r = client.post(
        f"/admin/brands/{brand.id}",
        data={"name": "翡翠", "default_locale": "zh-CN", "timezone": "Asia/Shanghai", **tiers},
        headers=h,
    )
    assert r.status_code == 200, r.text
    db.expire_all()
    assert [t["name"] for t in db.get(Brand, brand.id).tiers] == ["普通", "黄金"]
    bad = client.post(
        f"/admin/brands/{brand.id}",
        data={
            "name": "x",
            "default_locale": "zh-CN",
            "timezone": "Asia/Shanghai",
            "tier_level_0": "1",
            "tier_name_0": "x",
            "tier_min_0": "10",
        },
        headers=h,
    )
    assert bad.status_code == 422  # the lowest tier must start at 0
    sup = make.agent("supervisor")
    client.cookies.clear()
    h2 = _login(client, sup)
    assert client.post("/admin/brands", data={"slug": "nope", "name": "x"}, headers=h2).status_code == 403
