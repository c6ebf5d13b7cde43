"""Idempotency-Key on the agent creates that carry deadlines or are posted by integrations (complaints, regulator
cases, customers, call-backs, compensations, privacy requests, security incidents, PBX call logs, ticket splits,
third-party quality samples): a retried create answers the first one instead of making a second case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select


@dataclass
class Case:
    """One create: who posts it, where, a body, a field change that makes it another request, and its rows."""

    role: str
    path: str
    body: dict[str, Any]
    change: dict[str, Any]
    model: Any
    where: tuple[Any, ...]


def _complaint(make: Any, db: Any, brand: Any) -> Case:
    from kefu.complaints.models import Complaint

    body = {"brand_id": brand.id, "complainant_name": "林小姐", "channel": "email", "description": "客服態度差"}
    return Case(
        "agent", "/api/v1/complaints", body, {"description": "退款未到"}, Complaint, (Complaint.brand_id == brand.id,)
    )


def _regulator_case(make: Any, db: Any, brand: Any) -> Case:
    from kefu.complaints.models import RegulatorCase

    body = {
        "brand_id": brand.id,
        "agency": "臺北市消保官",
        "subject": "消費爭議",
        "reference_no": "北市消字第7號",
        "received_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    where = (RegulatorCase.brand_id == brand.id,)
    return Case("agent", "/api/v1/regulator-cases", body, {"reference_no": "北市消字第8號"}, RegulatorCase, where)


def _customer(make: Any, db: Any, brand: Any) -> Case:
    from kefu.customers.models import Customer

    # No phone or email: those make identities, and a second customer with the same one is refused (409) anyway.
    body = {"brand_id": brand.id, "name": "王小明", "locale": "zh-TW", "vip": True}
    return Case("agent", "/api/v1/customers", body, {"name": "王大明"}, Customer, (Customer.brand_id == brand.id,))


def _callback(make: Any, db: Any, brand: Any) -> Case:
    from kefu.callbacks.models import Callback

    at = (datetime.now(UTC) + timedelta(days=2)).replace(hour=3, minute=0, second=0, microsecond=0)
    body = {"brand_id": brand.id, "scheduled_at": at.isoformat(), "phone": "0912000111", "topic": "帳單有誤"}
    return Case("agent", "/api/v1/callbacks", body, {"topic": "退款"}, Callback, (Callback.brand_id == brand.id,))


def _ticket(make: Any, db: Any, brand: Any) -> tuple[Any, Any]:
    from kefu.tickets.service import create_ticket

    customer = make.customer(brand, name="王小明")
    ticket = create_ticket(db, brand_id=brand.id, subject="退款未到帳", actor=None, customer_id=customer.id)
    db.commit()
    return customer, ticket


def _compensation(make: Any, db: Any, brand: Any) -> Case:
    from kefu.compensation.models import Compensation

    customer, ticket = _ticket(make, db, brand)
    body = {"customer_id": customer.id, "ticket_id": ticket.id, "basis_minutes": 30, "note": "回覆了錯誤的退款金額"}
    where = (Compensation.customer_id == customer.id,)
    return Case("supervisor", "/api/v1/compensations", body, {"basis_minutes": 45}, Compensation, where)


def _privacy_request(make: Any, db: Any, brand: Any) -> Case:
    from kefu.privacy.models import PrivacyRequest

    customer = make.customer(brand, name="王小明")
    body = {"customer_id": customer.id, "kind": "export", "reason": "本人來信申請", "channel": "email"}
    where = (PrivacyRequest.customer_id == customer.id,)
    return Case("agent", "/api/v1/privacy/requests", body, {"reason": "家屬代為申請"}, PrivacyRequest, where)


def _incident(make: Any, db: Any, brand: Any) -> Case:
    from kefu.security.models import SecurityIncident

    detected = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0).isoformat()
    body = {"title": "疑似帳號遭盜用", "level": 3, "brand_id": brand.id, "detected_at": detected}
    where = (SecurityIncident.brand_id == brand.id,)
    return Case("supervisor", "/api/v1/security/incidents", body, {"level": 2}, SecurityIncident, where)


def _phone_call(make: Any, db: Any, brand: Any) -> Case:
    from kefu.conversations.models import Message

    body = {
        "brand_id": brand.id,
        "phone": "+886912345678",
        "name": "王先生",
        "direction": "inbound",
        "duration_seconds": 185,
        "outcome": "follow_up",
        "notes": "客戶反映帳單金額有誤，需財務確認",
    }
    where = (Message.brand_id == brand.id, Message.content_type == "call")
    return Case("agent", "/api/v1/channels/phone/calls", body, {"duration_seconds": 60}, Message, where)


def _split(make: Any, db: Any, brand: Any) -> Case:
    from kefu.tickets.models import Ticket

    _, ticket = _ticket(make, db, brand)
    body = {"subject": "另案：發票抬頭", "description": "客戶另外詢問發票"}
    where = (Ticket.brand_id == brand.id, Ticket.id != ticket.id)
    return Case("agent", f"/api/v1/tickets/{ticket.id}/split", body, {"subject": "另案：退貨"}, Ticket, where)


def _quality_sample(make: Any, db: Any, brand: Any) -> Case:
    from kefu.quality.models import AuditSample

    body = {"brand_id": brand.id, "quarter": "2026Q1", "rate": 0.5, "auditor": "外部稽核"}  # no seed: random
    where = (AuditSample.brand_id == brand.id,)
    return Case("supervisor", "/api/v1/quality/samples", body, {"rate": 0.25}, AuditSample, where)


CASES: dict[str, Callable[[Any, Any, Any], Case]] = {
    "complaint": _complaint,
    "regulator_case": _regulator_case,
    "customer": _customer,
    "callback": _callback,
    "compensation": _compensation,
    "privacy_request": _privacy_request,
    "security_incident": _incident,
    "phone_call": _phone_call,
    "ticket_split": _split,
    "quality_sample": _quality_sample,
}


def _count(db: Any, case: Case) -> int:
    return int(db.scalar(select(func.count()).select_from(case.model).where(*case.where)))


def _reordered(body: dict[str, Any]) -> dict[str, Any]:
    return dict(reversed(list(body.items())))


@pytest.mark.parametrize("name", list(CASES))
def test_a_retried_create_replays_the_first(client: Any, make: Any, db: Any, name: str) -> None:
    brand = make.brand()
    case = CASES[name](make, db, brand)
    # An agent or supervisor without pii:reveal: the replay is masked exactly like the first answer.
    h = {**make.token(make.agent(case.role, [brand])), "Idempotency-Key": f"{name}-1"}
    before = _count(db, case)
    first = client.post(case.path, json=case.body, headers=h)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = client.post(case.path, json=_reordered(case.body), headers=h)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _count(db, case) == before + 1
    other = client.post(case.path, json={**case.body, **case.change}, headers=h)
    assert other.status_code == 422, other.text
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in other.json()["detail"]
    assert _count(db, case) == before + 1
    # Without a key nothing changed: two posts, two rows.
    plain = {k: v for k, v in h.items() if k != "Idempotency-Key"}
    for _ in range(2):
        r = client.post(case.path, json=case.body, headers=plain)
        assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers, r.text
    assert _count(db, case) == before + 3


@pytest.mark.parametrize("name", list(CASES))
def test_a_replay_after_losing_the_brand_is_refused(client: Any, make: Any, db: Any, name: str) -> None:
    brand, elsewhere = make.brand(), make.brand()
    case = CASES[name](make, db, brand)
    agent = make.agent(case.role, [brand])
    h = {**make.token(agent), "Idempotency-Key": f"{name}-moved"}
    first = client.post(case.path, json=case.body, headers=h)
    assert first.status_code == 201, first.text
    admin = make.token(make.agent("admin"))
    moved = client.patch(f"/api/v1/agents/{agent.id}", json={"brand_ids": [elsewhere.id]}, headers=admin)
    assert moved.status_code == 200, moved.text
    again = client.post(case.path, json=case.body, headers=h)
    assert again.status_code == 404, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "Idempotent-Replayed" not in again.headers
    assert _count(db, case) == 1


def test_keys_are_scoped_per_token_and_per_agent(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    case = _complaint(make, db, brand)
    agent = make.agent("agent", [brand])
    key = {"Idempotency-Key": "same-key"}
    first = client.post(case.path, json=case.body, headers={**make.token(agent), **key})
    # Another agent, and another token of the same agent, each own the key separately: new complaints.
    for h in (make.token(make.agent("agent", [brand])), make.token(agent)):
        r = client.post(case.path, json=case.body, headers={**h, **key})
        assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers, r.text
        assert r.json()["id"] != first.json()["id"]
    assert _count(db, case) == 3
