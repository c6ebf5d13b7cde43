"""Video and sign-language sessions (#17, seeds 002, 003 「手語視頻客服」), accessibility needs on call-backs."""

from __future__ import annotations

import re
from typing import Any

from tests.tickets.helpers import Clock, tw

JITSI = "https://meet.example.org/kefu-{token}"


def _skilled(db: Any, agent: Any, *skills: str) -> Any:
    agent.skills = list(skills)
    db.commit()
    return agent


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return dict(r.json())


def test_sign_language_video_session_goes_to_a_signing_agent_with_an_unguessable_per_brand_link(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.callbacks import service
    from kefu.callbacks.models import Callback

    brand = make.brand(timezone="Asia/Taipei")
    other = make.brand(timezone="Asia/Taipei", ticket_prefix="OT")
    admin = make.agent("admin")
    h = make.token(admin)
    plain = make.agent("agent", [brand])
    video_only = _skilled(db, make.agent("agent", [brand]), "video")
    signer = _skilled(db, make.agent("agent", [brand]), "Video", "sign_language")
    elsewhere = _skilled(db, make.agent("agent", [other]), "video", "sign_language")
    clock.set(tw(2026, 3, 6, 16, 10))  # Friday afternoon in Taipei
    slug = brand.slug

    # No video provider configured: the option is not offered and every API refuses it clearly.
    slots = client.get(f"/api/v1/public/brands/{slug}/callback-slots").json()
    assert slots["video_offered"] is False
    refused = _problem(client.get(f"/api/v1/public/brands/{slug}/callback-slots", params={"mode": "video"}), 409)
    assert "video provider" in refused["detail"]
    start = next(s for s in slots["slots"] if s["local"] == "2026-03-09 10:00")["start"]
    ask = {"scheduled_at": start, "phone": "0912-345-678", "name": "林小姐", "topic": "開戶身分核對"}
    sign = {**ask, "video": {"needs_sign_language": True}}
    _problem(client.post(f"/api/v1/public/brands/{slug}/callbacks", json=sign), 409)
    agent_ask = {**sign, "brand_id": brand.id}
    _problem(client.post("/api/v1/callbacks", json=agent_ask, headers=h), 409)
    portal = client.get(f"/portal/{slug}/callback?mode=video&sign=1&lang=en")
    assert portal.status_code == 200 and "Video session" not in portal.text

    # Admin sets the brand's meeting-URL template (https, {token} once).
    for bad in ("http://meet.example.org/{token}", "https://meet.example.org/room", "https://x/{token}/{token}"):
        r = client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"video": {"url_template": bad}}}, headers=h)
        assert r.status_code == 422, bad
    conf = {"settings": {"video": {"url_template": JITSI, "provider": "jitsi"}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=conf, headers=h).is_success
    # The other brand's admin uses the admin form (an empty field would turn video off again).
    from tests.web.test_admin_pages import _login

    hdr = _login(client, admin)
    form = {"name": other.name, "default_locale": "zh-TW", "timezone": "Asia/Taipei"}
    form |= {"tier_level_0": "1", "tier_name_0": "一般", "tier_min_0": "0"}
    bad_form = client.post(
        f"/admin/brands/{other.id}", data={**form, "video_url_template": "ftp://x/{token}"}, headers=hdr
    )
    assert bad_form.status_code == 422
    tpl = "https://video.other.example/r/{token}?lang=zh"
    assert client.post(f"/admin/brands/{other.id}", data={**form, "video_url_template": tpl}, headers=hdr).is_success
    client.cookies.clear()

    # Sign-language slots exist only where a signing agent is free: one signer, so one place per slot.
    sl = client.get(f"/api/v1/public/brands/{slug}/callback-slots", params={"mode": "video", "sign_language": True})
    assert sl.status_code == 200 and sl.json()["video_offered"] is True
    assert {s["left"] for s in sl.json()["slots"]} == {1}
    r = client.post(f"/api/v1/public/brands/{slug}/callbacks", json=sign)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["mode"] == "video" and first["local"] == "2026-03-09 10:00"
    token = first["video_url"].removeprefix("https://meet.example.org/kefu-")
    assert first["video_url"].startswith("https://meet.example.org/kefu-") and re.fullmatch(r"[\w-]{40,}", token)
    cb = db.query(Callback).filter_by(video_token=token).one()
    assert (cb.assignee_id, cb.needs_sign_language) == (signer.id, True)

    # The signer is taken at 10:00: no second sign-language session then; a plain video session still fits.
    taken = client.post(f"/api/v1/public/brands/{slug}/callbacks", json={**sign, "phone": "0922000111"})
    _problem(taken, 409)
    left = client.get(f"/api/v1/public/brands/{slug}/callback-slots", params={"mode": "video", "sign_language": True})
    assert start not in [s["start"] for s in left.json()["slots"]]
    plain_video = {**ask, "phone": "0933000111", "video": {}}
    r = client.post(f"/api/v1/public/brands/{slug}/callbacks", json=plain_video)
    assert r.status_code == 201, r.text
    second = db.query(Callback).filter(Callback.video_token == r.json()["video_url"].rsplit("-", 1)[-1]).one_or_none()
    second = second or db.query(Callback).filter(Callback.phone == "0933000111").one()
    assert second.assignee_id == video_only.id  # never the agent without the video skill
    assert r.json()["video_url"] != first["video_url"]

    # A certified partner interpreter on the booking: the video agent needs no signing skill, the ref is kept.
    partner = {"needs_sign_language": True, "interpreter_org": "中華民國聾人協會", "interpreter_cert": "TSL-2026-0142"}
    at = tw(2026, 3, 9, 14, 0).isoformat()
    body = {"brand_id": brand.id, "scheduled_at": at, "phone": "0944000111", "video": partner}
    r = client.post("/api/v1/callbacks", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["interpreter_cert"] == "TSL-2026-0142" and r.json()["assignee_id"] == video_only.id
    no_ref = {**body, "video": {"needs_sign_language": True, "interpreter_org": "中華民國聾人協會"}}
    _problem(client.post("/api/v1/callbacks", json=no_ref, headers=h), 422)

    # The customer's reminder an hour ahead carries the room link.
    from kefu.notices.models import CustomerNotice
    from kefu.notices.service import remind_callbacks

    clock.set(tw(2026, 3, 9, 9, 0))
    db.expire_all()  # the brand's video settings changed through the API (another session)
    remind_callbacks(db, clock())
    db.commit()
    sent = [n.body for n in db.query(CustomerNotice).filter_by(ticket_id=cb.ticket_id, kind="callback_reminder")]
    assert sent and all(first["video_url"] in b for b in sent)

    # The case moving to an agent without the skills does not take the video session along.
    h_plain = make.token(plain)
    assert client.patch(f"/api/v1/tickets/{cb.ticket_id}", json={"assignee_id": plain.id}, headers=h).is_success
    clock.set(tw(2026, 3, 9, 10, 0))
    service.sweep(db, clock())
    db.commit()
    db.refresh(cb)
    assert (cb.assignee_id, cb.status) == (signer.id, "due")
    queue = client.get("/api/v1/callbacks", params={"mine": True}, headers=make.token(signer)).json()["items"]
    assert [(i["mode"], i["video_url"]) for i in queue] == [("video", first["video_url"])]
    assert client.get("/api/v1/callbacks", params={"mine": True}, headers=h_plain).json()["items"] == []
    # The signer's console queue shows the session, its sign-language need and the room link.
    from tests.web.test_admin_pages import _login

    _login(client, signer)
    page = client.get("/console/callbacks?mine=true&lang=en")
    assert page.status_code == 200 and "Sign language" in page.text and first["video_url"] in page.text
    client.cookies.clear()

    # Another brand: its own template, its own agents; no access across brands.
    start_o = client.get(f"/api/v1/public/brands/{other.slug}/callback-slots", params={"mode": "video"}).json()
    r = client.post(
        f"/api/v1/public/brands/{other.slug}/callbacks",
        json={**sign, "scheduled_at": start_o["slots"][0]["start"], "phone": "0955000111"},
    )
    assert r.status_code == 201 and r.json()["video_url"].startswith("https://video.other.example/r/"), r.text
    h_else = make.token(elsewhere)
    cross = {"brand_id": brand.id, "scheduled_at": at, "phone": "0966000111", "video": {}}
    assert client.post("/api/v1/callbacks", json=cross, headers=h_else).status_code in (403, 404)
    assert all(i["brand_id"] == other.id for i in client.get("/api/v1/callbacks", headers=h_else).json()["items"])
    assert client.post(f"/api/v1/callbacks/{cb.id}/cancel", headers=h_else).status_code == 404


def test_deaf_customer_gets_no_phone_call_back_a_badge_and_video_instead(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    from kefu.tickets.service import create_ticket
    from tests.web.test_admin_pages import _login

    brand = make.brand(timezone="Asia/Taipei")
    admin = make.agent("admin")
    agent = _skilled(db, make.agent("agent", [brand]), "video", "sign_language")
    h = make.token(agent)
    cust = make.customer(brand, name="陳小姐", phone="0912000222")
    ticket = create_ticket(db, brand_id=brand.id, subject="開戶", actor=None, customer_id=cust.id, channel="line")
    from kefu.conversations.commands import CreateConversation
    from kefu.conversations.service import create_conversation

    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="line", status="open"), actor=None
    )
    db.commit()
    clock.set(tw(2026, 3, 6, 16, 10))

    # The agent records what the customer said, with their consent (without it: refused).
    url = f"/api/v1/customers/{cust.id}/accessibility"
    _problem(client.put(url, json={"needs": ["deaf"]}, headers=h), 422)
    _problem(client.put(url, json={"needs": ["hearing_dog"], "consent": True}, headers=h), 422)
    r = client.put(url, json={"needs": ["deaf"], "note": "台灣手語", "consent": True}, headers=h)
    assert r.status_code == 200, r.text
    opts = r.json()["options"]
    assert (r.json()["source"], opts["callback_modes"], opts["avoid"]) == ("agent", [], ["phone"])
    assert opts["sign_language"] is True and "sms" in opts["prefer"]

    # No phone call-back for a deaf customer from an agent. The public form with their number is booked like any
    # other (its answer must not tell a stranger who typed the number that its owner is deaf); agents see the badge.
    at = tw(2026, 3, 9, 11, 0).isoformat()
    phone = {"brand_id": brand.id, "scheduled_at": at, "phone": "0912000222", "ticket_id": ticket.id}
    assert "deaf" in _problem(client.post("/api/v1/callbacks", json=phone, headers=h), 409)["detail"]
    slot = client.get(f"/api/v1/public/brands/{brand.slug}/callback-slots").json()["slots"][0]["start"]
    public = {"scheduled_at": slot, "phone": "0912000222"}
    assert client.post(f"/api/v1/public/brands/{brand.slug}/callbacks", json=public).status_code == 201
    # Video (sign language) is the way once the brand has a provider; the options say so.
    conf = {"settings": {"video": {"url_template": JITSI}}}
    assert client.patch(f"/api/v1/brands/{brand.id}", json=conf, headers=make.token(admin)).is_success
    assert client.get(url, headers=h).json()["options"]["callback_modes"] == ["video"]
    r = client.post("/api/v1/callbacks", json={**phone, "video": {"needs_sign_language": True}}, headers=h)
    assert r.status_code == 201 and r.json()["needs"] == ["deaf"] and r.json()["assignee_id"] == agent.id, r.text

    # A customer declares low vision on the portal booking form (consent ticked); without consent: refused.
    page = client.get(f"/portal/{brand.slug}/callback?lang=zh-TW")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None and "視訊客服＋手語" in page.text and 'value="low_vision"' in page.text
    first = re.search(r'<option value="([^"]+)"', page.text)
    assert first is not None
    form = {"csrf_token": csrf.group(1), "slot": first.group(1), "phone": "0977000333", "need": "low_vision"}
    assert client.post(f"/portal/{brand.slug}/callback", data=form).status_code == 422
    ok = client.post(f"/portal/{brand.slug}/callback", data={**form, "need_consent": "1"})
    assert ok.status_code == 200, ok.text
    deaf_phone = client.post(
        f"/portal/{brand.slug}/callback", data={**form, "phone": "0988000444", "need": "deaf", "need_consent": "1"}
    )
    assert deaf_phone.status_code == 409 and "聽障" in deaf_phone.text
    from kefu.customers.accessibility import needs_of
    from kefu.customers.models import Customer

    who = db.query(Customer).filter_by(brand_id=brand.id, phone="0977000333").one()
    assert needs_of(db, who.id) == ["low_vision"]
    opts = client.get(f"/api/v1/customers/{who.id}/accessibility", headers=h).json()["options"]
    assert opts["plain_text_email"] is True and opts["haptic_notices"] is True and opts["avoid"] == []

    # Agents see the badge on the case page and in the conversation side panel.
    _login(client, agent)
    case = client.get(f"/console/tickets/{ticket.id}")
    assert case.status_code == 200 and "聽障（手語）" in case.text and "不安排電話回撥" in case.text
    chat = client.get(f"/console/conversations/{conv.id}")
    assert chat.status_code == 200 and "聽障（手語）" in chat.text and "不安排電話回撥" in chat.text

    # Other brands' agents neither read nor set the needs.
    h_else = make.token(make.agent("agent", [make.brand()]))
    assert client.get(url, headers=h_else).status_code == 404
    assert client.put(url, json={"needs": [], "consent": True}, headers=h_else).status_code == 404
    # Withdrawn: the row goes, phone call-backs are possible again.
    assert client.put(url, json={"needs": [], "consent": True}, headers=h).json()["needs"] == []
    assert client.post("/api/v1/callbacks", json=phone, headers=h).status_code == 201


def test_accessibility_needs_are_exported_and_erased_and_not_in_the_audit_log(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    import json

    from kefu.audit.models import AuditLog
    from kefu.customers.models import CustomerAccessibility

    brand = make.brand()
    sup = make.token(make.agent("supervisor", [brand]))
    cust = make.customer(brand, name="王先生", email="wang@example.com")
    db.commit()
    url = f"/api/v1/customers/{cust.id}/accessibility"
    r = client.put(url, json={"needs": ["blind"], "note": "使用讀屏軟體", "consent": True}, headers=sup)
    assert r.status_code == 200, r.text
    doc = json.loads(
        client.post(f"/api/v1/customers/{cust.id}/export", json={"reason": "當事人申請"}, headers=sup).content
    )
    assert [(a["needs"], a["note"], a["source"]) for a in doc["accessibility"]] == [
        (["blind"], "使用讀屏軟體", "agent")
    ]
    audit = [a for a in db.query(AuditLog).all() if a.action == "customer.accessibility"]
    assert (
        audit
        and "blind" not in json.dumps([a.details for a in audit])
        and "讀屏" not in json.dumps([a.details for a in audit], ensure_ascii=False)
    )
    erased = client.post(
        f"/api/v1/customers/{cust.id}/erase", json={"reason": "當事人請求刪除", "confirm": True}, headers=sup
    )
    assert erased.status_code == 200, erased.text
    db.expire_all()
    assert db.get(CustomerAccessibility, cust.id) is None


def test_a_public_booking_neither_reads_nor_rewrites_the_needs_of_a_numbers_customer(
    client: Any, make: Any, db: Any, clock: Clock
) -> None:
    """Anyone may type anyone's phone number into the public booking: the answer must not tell whether that number's
    customer is deaf (a 409 did), and the needs they declare must not replace the customer's recorded ones (health
    data, and a false "deaf" would have stopped their phone call-backs). A number new to the brand keeps its needs."""
    from kefu.customers.accessibility import needs_of

    brand = make.brand(timezone="Asia/Taipei")
    cust = make.customer(brand, name="陳小姐", phone="0912000222")
    db.commit()
    clock.set(tw(2026, 3, 6, 16, 10))
    h = make.token(make.agent("supervisor", [brand]))
    url = f"/api/v1/customers/{cust.id}/accessibility"
    assert client.put(url, json={"needs": ["deaf"], "consent": True}, headers=h).status_code == 200
    book = f"/api/v1/public/brands/{brand.slug}/callbacks"
    slots = [s["start"] for s in client.get(f"/api/v1/public/brands/{brand.slug}/callback-slots").json()["slots"]]
    r = client.post(book, json={"scheduled_at": slots[0], "phone": "0912000222"})
    assert r.status_code == 201, r.text  # the same answer as for any other number
    # Before the number's second (last, kefu.callbacks.service.book caps open ones at 2 a number) booking below:
    unconsented = {"accessibility": ["blind"], "accessibility_consent": False}
    for number in ("0912000222", "0955000666"):  # the same refusal for a known and an unknown number
        r = client.post(book, json={"scheduled_at": slots[2], "phone": number, **unconsented})
        assert r.status_code == 422 and "consent" in r.text.lower(), r.text
    declared = {"accessibility": ["blind"], "accessibility_consent": True}
    r = client.post(book, json={"scheduled_at": slots[1], "phone": "0912-000-222", **declared})
    assert r.status_code == 201, r.text
    db.expire_all()
    assert needs_of(db, cust.id) == ["deaf"]  # recorded by an agent, untouched by a stranger's form
    r = client.post(book, json={"scheduled_at": slots[2], "phone": "0933000444", **declared})
    assert r.status_code == 201, r.text
    from kefu.customers.models import Customer

    new = db.query(Customer).filter_by(brand_id=brand.id, phone="0933000444").one()
    assert needs_of(db, new.id) == ["blind"]
