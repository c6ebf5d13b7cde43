"""A team lead reviews the compensation ledger in the console (#17 补偿机制): totals, approve, grant, reject with a
reason (inline error without one), in zh-TW, zh-CN and en; agents read but cannot decide."""

from __future__ import annotations

import re
from typing import Any

from tests.tickets.helpers import Clock


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"], "HX-Request": "true"}


def test_lead_reviews_the_ledger_with_forms(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from kefu.compensation.service import propose_manual
    from tests.tickets.helpers import admin_principal

    brand = make.brand()
    customer = make.customer(brand, name="王小明")
    p = admin_principal(make.agent("admin"))
    first = propose_manual(db, p, customer_id=customer.id, basis_minutes=30, note="漏回覆退款申請")
    second = propose_manual(db, p, customer_id=customer.id, basis_minutes=15, note="轉錯部門")
    db.commit()
    lead = make.agent("supervisor", [brand])
    h = _login(client, lead)

    page = client.get("/console/compensations?lang=zh-TW")
    assert page.status_code == 200 and "補償帳" in page.text and "60 分鐘服務時長" in page.text
    assert re.search(r'id="tot-proposed-minutes"><td>待審核</td><td>2</td><td>90 分鐘服務時長</td>', page.text)

    r = client.post(f"/console/compensations/{first.id}/approve?lang=zh-TW", data={}, headers=h)
    assert r.status_code == 200 and re.search(rf'id="cp-{first.id}" class="st-approved"', r.text)
    r = client.post(f"/console/compensations/{first.id}/grant?lang=zh-TW", data={}, headers=h)
    assert r.status_code == 200 and 'id="tot-granted-minutes"><td>已發放</td><td>1</td>' in r.text
    r = client.post(f"/console/compensations/{second.id}/reject?lang=zh-TW", data={"note": " "}, headers=h)
    assert r.status_code == 422 and 'role="alert"' in r.text and 'aria-invalid="true"' in r.text
    assert "請填寫駁回原因" in r.text
    r = client.post(f"/console/compensations/{first.id}/approve?lang=en", data={}, headers=h)  # granted already
    assert r.status_code == 422 and "already been decided" in r.text
    r = client.post(f"/console/compensations/{second.id}/reject?lang=zh-TW", data={"note": "重複"}, headers=h)
    assert r.status_code == 200 and "已駁回" in r.text and "重複" in r.text

    only = client.get("/console/compensations?status=granted&lang=zh-CN")
    assert only.status_code == 200 and "补偿台账" in only.text and f'id="cp-{second.id}"' not in only.text
    en = client.get("/console/compensations?lang=en")
    assert "Compensation ledger" in en.text and "Handling error" in en.text

    agent = make.agent("agent", [brand])
    ha = _login(client, agent)
    assert client.get("/console/compensations?lang=en").status_code == 200
    assert client.post(f"/console/compensations/{second.id}/approve", data={}, headers=ha).status_code == 403


def test_lead_proposes_outage_compensation_from_the_notice_page(client: Any, make: Any, db: Any, clock: Clock) -> None:
    from kefu.notices.broadcasts import Audience, broadcast_outage
    from kefu.tickets.service import create_ticket
    from tests.tickets.helpers import tw

    brand = make.brand(timezone="Asia/Taipei")
    clock.set(tw(2026, 3, 2, 9, 30))
    for name in ("吳先生", "鄭小姐"):
        c = make.customer(brand, name=name)
        create_ticket(db, brand_id=brand.id, subject="付款失敗", actor=None, customer_id=c.id).tags = ["pay"]
    window = Audience(tag="pay", since=tw(2026, 3, 2, 9, 0), until=tw(2026, 3, 2, 10, 0))
    row = broadcast_outage(db, brand.id, None, title="付款服務暫停", body="付款暫時失敗。", audience=window)
    db.commit()
    lead = make.agent("supervisor", [brand])
    h = _login(client, lead)
    page = client.get(f"/console/notices/{row.id}?lang=zh-TW")
    assert page.status_code == 200 and "為受影響客戶提出補償" in page.text
    url = f"/console/compensations/outages/{row.id}?lang=zh-TW"
    r = client.post(url, data={"outage_minutes": "abc"}, headers=h)
    assert r.status_code == 422 and "請填寫整數分鐘" in r.text
    r = client.post(url, data={"outage_minutes": ""}, headers=h)  # the notice's window: 60 minutes
    assert r.status_code == 200 and "已新增 2 筆補償提案" in r.text
    assert client.post(url, data={}, headers=h).text.count("已新增 0 筆補償提案") == 1  # once per customer
    ledger = client.get("/console/compensations?status=proposed&lang=zh-TW").text
    assert ledger.count("60 分鐘服務時長") == 2 and ledger.count("系統故障<br>") == 2
    ha = _login(client, make.agent("agent", [brand]))
    assert client.post(url, data={}, headers=ha).status_code == 403
    assert "為受影響客戶提出補償" not in client.get(f"/console/notices/{row.id}?lang=zh-TW").text


def test_a_missed_sla_target_is_named_in_the_reader_language(client: Any, make: Any, db: Any) -> None:
    """The ledger stored the missed target's name in the brand's language (後續進度更新 on a zh-CN page)."""
    from kefu.compensation.models import Compensation

    brand = make.brand()
    customer = make.customer(brand, name="李强")
    for key, note in [("next_update", "後續進度更新"), ("identity_verified", "身分驗證")]:
        db.add(
            Compensation(
                brand_id=brand.id,
                customer_id=customer.id,
                reason="sla_breach",
                source_key=f"sla:1:{key}",
                basis_minutes=26,
                factor=2.0,
                amount=52,
                unit="minutes",
                note=note,
            )
        )
    db.commit()
    _login(client, make.agent("supervisor", [brand]))
    cn = client.get("/console/compensations?lang=zh-CN").text
    assert "后续进度更新" in cn and "身份验证" in cn and "後續進度更新" not in cn and "身分驗證" not in cn
    en = client.get("/console/compensations?lang=en").text
    assert "Next update" in en and "Identity verified" in en and "後續進度更新" not in en
    tw = client.get("/console/compensations?lang=zh-TW").text
    assert "後續進度更新" in tw
