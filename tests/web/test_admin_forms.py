"""Admin forms without JSON: labelled fields, server-side validation, localized messages next to the field."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def _setup(db: Any, make: Any) -> tuple[Any, Any, Any]:
    from kefu.auth.service import create_team
    from kefu.routing.service import install_default_routing
    from kefu.sla.service import install_defaults

    brand = make.brand()
    admin = make.agent("admin")
    team = create_team(db, brand_id=brand.id, slug="finance", name="財務組", description="", actor=None)
    install_defaults(db, brand.id, None)
    install_default_routing(db, brand.id, None)
    db.commit()
    return brand, admin, team


def _field_error(html: str, fid: str, name: str) -> str:
    m = re.search(rf'id="{fid}-{name}-err">([^<]*)<', html)
    return m.group(1) if m else ""


def test_no_json_textareas_on_any_admin_tab(client: Any, make: Any, db: Any) -> None:
    brand, admin, _ = _setup(db, make)
    _login(client, admin)
    for tab in ("brands", "agents", "teams", "inboxes", "sla", "routing", "kb", "canned"):
        page = client.get(f"/admin?tab={tab}&brand_id={brand.id}")
        assert page.status_code == 200, tab
        assert "JSON" not in page.text and 'class="code"' not in page.text, tab
        assert "{&#34;" not in page.text and '{"' not in page.text.split("<main", 1)[1], tab


def test_sla_policy_form_saves_and_shows_errors_in_place(client: Any, make: Any, db: Any) -> None:
    from kefu.sla.models import SlaPolicyRecord

    brand, admin, _ = _setup(db, make)
    h = _login(client, admin)
    page = client.get(f"/admin?tab=sla&brand_id={brand.id}&lang=zh-TW")
    assert "首次回覆" in page.text and "上班分鐘" in page.text
    policy = db.scalars(
        select(SlaPolicyRecord).where(SlaPolicyRecord.brand_id == brand.id).order_by(SlaPolicyRecord.id)
    ).first()
    form = {
        "description": "VIP 退款",
        "cond_category": "refund, payment_failure",
        "cond_tier": "",
        "tgt_first_response_amount": "abc",
        "tgt_first_response_unit": "business_minutes",
        "tgt_resolution_amount": "3",
        "tgt_resolution_unit": "business_days",
        "tgt_next_update_unit": "hours",
        "tgt_csat_survey_unit": "hours",
        "warn_mode": "percent",
        "warn_value": "150",
        "calendar": "business",
        "esc_trigger": "breach",
        "esc_climb": "60",
        "active": "1",
    }
    bad = client.post(f"/admin/sla/policies/{policy.id}", data=form, headers=h)
    fid = f"policy-{policy.id}"
    assert bad.status_code == 422
    assert _field_error(bad.text, fid, "tgt_first_response_amount") == "請填正整數。"
    assert _field_error(bad.text, fid, "warn_value") == "請填 1 到 99 之間的數字。"
    assert 'value="VIP 退款"' in bad.text and 'value="refund, payment_failure"' in bad.text  # nothing typed is lost
    assert 'value="abc"' in bad.text
    ok = client.post(
        f"/admin/sla/policies/{policy.id}",
        data={**form, "tgt_first_response_amount": "30", "warn_value": "20"},
        headers=h,
    )
    assert ok.status_code == 200, ok.text
    db.expire_all()
    d = db.get(SlaPolicyRecord, policy.id).definition
    assert d["conditions"]["category"] == ["refund", "payment_failure"]
    assert {"kind": "first_response", "amount": 30, "unit": "business_minutes"} in [
        {k: tg[k] for k in ("kind", "amount", "unit")} for tg in d["targets"]
    ]
    assert d["warn_before_percent"] == 20 and d["description"] == "VIP 退款"


def test_calendar_form_lines_and_year_view(client: Any, make: Any, db: Any) -> None:
    from kefu.sla.models import SlaCalendar

    brand, admin, _ = _setup(db, make)
    h = _login(client, admin)
    cal = db.scalar(select(SlaCalendar).where(SlaCalendar.brand_id == brand.id, SlaCalendar.name == "business"))
    form = {
        "timezone": "Asia/Taipei",
        "mode": "business_hours",
        "hours_mon": "09:00-12:00, 13:00-18:00",
        "hours_tue": "9-18",
        "hours_fri": "09:00-17:00",
        "holidays": "2026-12-25 公司紀念日\n",
        "makeup": "2026-02-07 fri",
        "special": "",
        "holiday_sets": "tw",
    }
    r = client.post(f"/admin/sla/calendars/{cal.id}?lang=en", data=form, headers=h)
    assert r.status_code == 422
    assert "09:00-18:00" in _field_error(r.text, f"calendar-{cal.id}", "hours_tue")
    assert 'value="9-18"' in r.text and "公司紀念日" in r.text
    r = client.post(f"/admin/sla/calendars/{cal.id}", data={**form, "hours_fri": ""}, headers=h)
    assert r.status_code == 422 and "2026-02-07" in r.text  # a make-up day that works like a closed Friday
    r = client.post(f"/admin/sla/calendars/{cal.id}", data={**form, "hours_tue": "09:00-18:00"}, headers=h)
    assert r.status_code == 200, r.text
    db.expire_all()
    config = db.get(SlaCalendar, cal.id).config
    assert config["holidays"] == {"2026-12-25": "公司紀念日"} and config["makeup_workdays"] == {"2026-02-07": "fri"}
    assert config["weekly_hours"]["mon"] == ["09:00-12:00", "13:00-18:00"] and "wed" not in config["weekly_hours"]
    assert config["holiday_sets"] == ["tw"]
    page = client.get(f"/admin?tab=sla&brand_id={brand.id}")
    assert 'class="day holiday"' in page.text and "year-view" in page.text


def test_routing_rule_fields_dry_run_and_order(client: Any, make: Any, db: Any) -> None:
    from kefu.routing.models import RoutingRule

    brand, admin, team = _setup(db, make)
    h = _login(client, admin)
    bad = client.post(
        "/admin/routing/rules?lang=zh-CN", data={"brand_id": brand.id, "name": "", "cond_category": ""}, headers=h
    )
    assert bad.status_code == 422
    assert _field_error(bad.text, "new-rule", "name") == "此项必填。"
    assert _field_error(bad.text, "new-rule", "conditions") == "至少需要设置一个条件。"
    r = client.post(
        "/admin/routing/rules",
        data={
            "brand_id": brand.id,
            "name": "VIP 退款",
            "cond_category": "refund",
            "cond_vip": "yes",
            "team_id": team.id,
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    rule = db.scalar(select(RoutingRule).where(RoutingRule.name == "VIP 退款"))
    assert rule.conditions == {"category": "refund", "vip": True} and rule.team_id == team.id
    dry = client.post(
        "/admin/routing/dry-run?lang=en",
        data={"brand_id": brand.id, "category": "refund", "vip": "1", "priority": "normal"},
        headers=h,
    )
    # The team has the seed team's slug and name: an English reader gets its English name (kefu.auth.labels).
    assert dry.status_code == 200 and "VIP 退款" in dry.text and "Goes to: Finance" in dry.text
    before = [
        r.id
        for r in db.scalars(select(RoutingRule).where(RoutingRule.brand_id == brand.id).order_by(RoutingRule.position))
    ]
    assert before[-1] == rule.id
    client.post(f"/admin/routing/rules/{rule.id}", data={"move": "up"}, headers=h)
    db.expire_all()
    after = [
        r.id
        for r in db.scalars(select(RoutingRule).where(RoutingRule.brand_id == brand.id).order_by(RoutingRule.position))
    ]
    assert after[-2] == rule.id and sorted(after) == sorted(before)


def test_brand_tier_rows_and_team_code_errors(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.models import Brand

    brand, admin, _ = _setup(db, make)
    h = _login(client, admin)
    base = {"name": "翡翠", "default_locale": "zh-TW", "timezone": "Asia/Taipei", "sla_tier": ""}
    rows = {"tier_level_0": "1", "tier_name_0": "一般", "tier_min_0": "100", "tier_level_1": "2", "tier_name_1": "金卡"}
    bad = client.post(f"/admin/brands/{brand.id}", data={**base, **rows, "timezone": "Taipei"}, headers=h)
    fid = f"brand-{brand.id}"
    assert bad.status_code == 422
    assert _field_error(bad.text, fid, "timezone").startswith("不認得這個時區")
    assert _field_error(bad.text, fid, "tier_row_1") == "請把這一列的等級、名稱和門檻填完整。"
    assert 'value="金卡"' in bad.text and 'value="Taipei"' in bad.text
    rows["tier_min_1"] = "5000"
    bad = client.post(f"/admin/brands/{brand.id}", data={**base, **rows}, headers=h)
    assert bad.status_code == 422 and _field_error(bad.text, fid, "tier_min_0") == "最低等級的門檻必須是 0。"
    rows["tier_min_0"] = "0"
    ok = client.post(f"/admin/brands/{brand.id}", data={**base, **rows, "tier_name_2": ""}, headers=h)
    assert ok.status_code == 200, ok.text
    db.expire_all()
    assert [(t["name"], t["min_spend"]) for t in db.get(Brand, brand.id).tiers] == [("一般", 0), ("金卡", 5000)]
    team = client.post("/admin/teams", data={"brand_id": brand.id, "slug": "VIP 團隊", "name": "VIP"}, headers=h)
    assert team.status_code == 422 and "小寫英文字母" in _field_error(team.text, "new-team", "slug")
    assert 'value="VIP 團隊"' in team.text


def test_agent_form_errors_keep_input_but_not_password(client: Any, make: Any, db: Any) -> None:
    brand, admin, _ = _setup(db, make)
    h = _login(client, admin)
    r = client.post(
        "/admin/agents?lang=en",
        data={
            "email": admin.email,
            "name": "Dup",
            "role": "agent",
            "password": "long enough pw",
            "brand_ids": brand.id,
        },
        headers=h,
    )
    assert r.status_code == 422 and _field_error(r.text, "new-agent", "email") == "An account already uses this email."
    assert 'value="Dup"' in r.text and "long enough pw" not in r.text
    me = client.post(f"/admin/agents/{admin.id}?lang=en", data={"role": "agent", "active": "1"}, headers=h)
    assert me.status_code == 422 and _field_error(me.text, f"agent-{admin.id}", "role").startswith("You cannot demote")


def test_inbox_fields_are_labelled_and_ports_checked(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.service import create_inbox

    brand, admin, _ = _setup(db, make)
    inbox = create_inbox(db, brand, kind="email", name="Mail", config={}, actor=None)
    db.commit()
    h = _login(client, admin)
    page = client.get(f"/admin?tab=inboxes&brand_id={brand.id}&lang=zh-TW")
    assert "寄信伺服器（SMTP）" in page.text and ">smtp_host<" not in page.text
    r = client.post(
        f"/admin/inboxes/{inbox.id}",
        data={
            "name": "Mail",
            "cfg_smtp_host": "smtp.example.com",
            "cfg_smtp_port": "二十五",
            "cfg_smtp_password": "s3",
        },
        headers=h,
    )
    assert r.status_code == 422 and _field_error(r.text, f"inbox-{inbox.id}", "cfg_smtp_port") == "請填正整數。"
    assert 'value="smtp.example.com"' in r.text and "s3" not in r.text.split("<main", 1)[1]
