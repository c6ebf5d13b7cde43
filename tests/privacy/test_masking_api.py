"""PII is masked in API responses for principals without pii:reveal; reveals are explicit and audited."""

from __future__ import annotations

import logging
from typing import Any


def _setup(client: Any, make: Any) -> tuple[Any, dict[str, str], dict[str, str], dict[str, Any]]:
    brand = make.brand()
    agent = make.token(make.agent("agent", [brand]))
    sup = make.token(make.agent("supervisor", [brand]))
    body = {
        "brand_id": brand.id,
        "name": "王小明",
        "email": "ming.wang@example.com",
        "phone": "0912-345-678",
        "attributes": {"note": "身分證 A123456789"},
        "identities": [{"kind": "line", "external_id": "U4af4980629abcdef", "display_name": "小明"}],
    }
    cust = client.post("/api/v1/customers", json=body, headers=sup).json()
    return brand, agent, sup, cust


def test_customer_masked_for_agent_cleartext_for_supervisor(client: Any, make: Any) -> None:
    _, agent, sup, cust = _setup(client, make)
    masked = client.get(f"/api/v1/customers/{cust['id']}", headers=agent).json()
    assert masked["name"] == "王○明"
    assert masked["email"] == "m***@example.com"
    assert masked["phone"] == "0912-***-678"
    assert "A123456789" not in masked["attributes"]["note"]
    ident = masked["identities"][0]
    assert ident["external_id"].startswith("U4af") and "0629" not in ident["external_id"]
    assert ident["display_name"] == "小○"
    listed = client.get("/api/v1/customers", headers=agent).json()["items"]
    assert listed[0]["email"] == "m***@example.com"
    clear = client.get(f"/api/v1/customers/{cust['id']}", headers=sup).json()
    assert clear["name"] == "王小明" and clear["email"] == "ming.wang@example.com"


def test_reveal_requires_permission_and_reason_and_is_audited(client: Any, make: Any) -> None:
    brand, agent, sup, cust = _setup(client, make)
    other = make.token(make.agent("supervisor", [make.brand()]))
    url = f"/api/v1/customers/{cust['id']}/reveal"
    assert client.post(url, json={"reason": "客戶來電核對身分"}, headers=agent).status_code == 403
    assert client.post(url, json={"reason": ""}, headers=sup).status_code == 422
    assert client.post(url, json={"reason": "客戶來電核對身分"}, headers=other).status_code == 404
    r = client.post(url, json={"reason": "客戶來電核對身分"}, headers=sup)
    assert r.status_code == 200 and r.json()["phone"] == "0912-345-678"
    admin = make.token(make.agent("admin"))
    audit = client.get("/api/v1/audit", params={"action": "pii.reveal"}, headers=admin).json()["items"]
    assert audit[0]["target_id"] == str(cust["id"]) and audit[0]["details"]["reason"] == "客戶來電核對身分"
    assert audit[0]["brand_id"] == brand.id


def test_messages_tickets_and_timeline_masked_for_agents(client: Any, make: Any) -> None:
    brand, agent, sup, cust = _setup(client, make)
    conv = client.post(
        "/api/v1/conversations",
        json={"brand_id": brand.id, "customer_id": cust["id"], "subject": "退款 0912345678"},
        headers=agent,
    ).json()
    assert "0912345678" not in conv["subject"]
    client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"body": "請寄到 ming.wang@example.com"}, headers=agent
    )
    msgs = client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=agent).json()["items"]
    assert msgs[0]["body"] == "請寄到 m***@example.com"
    tl = client.get(f"/api/v1/customers/{cust['id']}/timeline", headers=agent).json()["items"]
    assert tl[0]["body"] == "請寄到 m***@example.com"
    clear = client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=sup).json()["items"]
    assert clear[0]["body"] == "請寄到 ming.wang@example.com"
    revealed = client.post(f"/api/v1/conversations/{conv['id']}/reveal", json={"reason": "查帳核對地址"}, headers=sup)
    assert revealed.json()["items"][0]["body"] == "請寄到 ming.wang@example.com"
    assert (
        client.post(
            f"/api/v1/conversations/{conv['id']}/reveal", json={"reason": "查帳核對地址"}, headers=agent
        ).status_code
        == 403
    )
    t = client.post(
        "/api/v1/tickets",
        json={"brand_id": brand.id, "subject": "卡號問題", "description": "信用卡 4111 1111 1111 1111 被盜刷"},
        headers=agent,
    ).json()
    assert "4111 1111 1111 1111" not in t["description"] and t["description"].endswith("1111 被盜刷")
    got = client.get(f"/api/v1/tickets/{t['id']}", headers=sup).json()
    assert "4111 1111 1111 1111" in got["description"]


def test_log_masking_filter_and_factory() -> None:
    from kefu.privacy.logmask import PiiMaskingFilter, install_log_masking, uninstall_log_masking

    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Capture()
    handler.addFilter(PiiMaskingFilter())
    log = logging.getLogger("kefu.test.mask")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("customer %s phone %s count %d", "amy@example.com", "0912345678", 3)
        log.info("inline A123456789")
        try:
            raise ValueError("bad card 4111111111111111")
        except ValueError:
            log.exception("failed")
        install_log_masking()
        install_log_masking()  # idempotent
        handler.filters.clear()
        log.info("after install %s", "amy@example.com")
    finally:
        uninstall_log_masking()
        log.removeHandler(handler)
    text = "\n".join(seen)
    assert "amy@example.com" not in text and "0912345678" not in text and "A123456789" not in text
    assert "4111111111111111" not in text and "count 3" in text and "a***@example.com" in text


def test_mask_for_external_and_export_rows() -> None:
    from kefu.privacy.masking import mask_for_external, mask_record

    assert mask_for_external("我是王小明,電話0912345678") != "我是王小明,電話0912345678"
    row = mask_record({"name": "Amy Chen", "email": "amy@example.com", "phone": "+886912345678", "ticket": "KF-1"})
    assert row == {"name": "A** C***", "email": "a***@example.com", "phone": row["phone"], "ticket": "KF-1"}
    assert row["phone"].endswith("678") and "912345" not in row["phone"]
