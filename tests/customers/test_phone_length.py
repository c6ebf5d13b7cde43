"""A number too long to key (more digits than Customer/Callback.phone_key holds) is a 422 on every path that sets it.

PostgreSQL raised on the varchar(32) overflow at flush (a 500 or a generic DataError text), SQLite silently stored
it; one rule (kefu.customers.phones.check_phone) now refuses it before anything is written, in the reader's language.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

LONG = "0912" + "3" * 36  # 40 digits in 40 characters: within the 64-character phone column, not a phone number
ZH_TW = {"Accept-Language": "zh-TW"}


def _customers(db: Any, brand_id: int) -> int:
    from kefu.customers.models import Customer

    return int(db.scalar(select(func.count()).select_from(Customer).where(Customer.brand_id == brand_id)))


def _refused(r: Any, db: Any, brand_id: int, before: int) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "電話號碼" in r.json()["detail"]
    db.expire_all()
    assert _customers(db, brand_id) == before


def test_the_rule_in_one_place() -> None:
    from kefu.core.errors import InvalidInput
    from kefu.customers.phones import KEY_MAX, check_phone

    assert check_phone("+886 912-345-678") is None and check_phone(None) is None and check_phone("") is None
    assert check_phone("分機 12") is None  # too few digits to be a number: kept as typed, never keyed (as before)
    assert check_phone("+" + "1" * (KEY_MAX - 1)) is None  # the longest key that fits
    for bad in ("+" + "1" * KEY_MAX, LONG, "1" * 65, "0912345678 " * 6):
        with pytest.raises(InvalidInput):
            check_phone(bad)


def test_customers_api_create_and_update(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("admin", [brand])) | ZH_TW
    before = _customers(db, brand.id)
    r = client.post("/api/v1/customers", json={"brand_id": brand.id, "name": "長號", "phone": LONG}, headers=h)
    _refused(r, db, brand.id, before)
    ok = client.post("/api/v1/customers", json={"brand_id": brand.id, "name": "短號", "phone": "0912345678"}, headers=h)
    assert ok.status_code == 201, ok.text
    r = client.patch(f"/api/v1/customers/{ok.json()['id']}", json={"phone": LONG}, headers=h)
    _refused(r, db, brand.id, before + 1)


def test_logged_call_and_callback_booking(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    h = make.token(make.agent("admin", [brand])) | ZH_TW
    create_inbox(db, brand, kind="phone", name="專線", config={}, actor=None)
    db.commit()
    before = _customers(db, brand.id)
    call = {"brand_id": brand.id, "phone": LONG, "direction": "inbound", "outcome": "resolved"}
    call["duration_seconds"] = 60
    _refused(client.post("/api/v1/channels/phone/calls", json=call, headers=h), db, brand.id, before)
    when = "2030-01-07T10:00:00+08:00"
    r = client.post(
        "/api/v1/callbacks",
        json={"brand_id": brand.id, "phone": LONG, "scheduled_at": when, "source": "agent"},
        headers=h,
    )
    _refused(r, db, brand.id, before)


def test_pbx_caller_too_long_is_refused_not_stored(client: Any, make: Any, db: Any) -> None:
    from kefu.brands.service import create_inbox
    from kefu.channels.phone.telephony import sign

    brand = make.brand()
    hotline = create_inbox(db, brand, kind="phone", name="專線", config={"secret": "s3cret"}, actor=None)
    db.commit()
    before = _customers(db, brand.id)
    body = json.dumps({"call_id": "c-long", "event": "ringing", "caller": LONG}).encode()
    stamp = str(int(time.time()))
    headers = {"X-Kefu-Timestamp": stamp, "X-Kefu-Signature": sign("s3cret", stamp, body)}
    r = client.post(
        f"/api/v1/channels/phone/{hotline.id}/events",
        content=body,
        headers=headers | ZH_TW | {"Content-Type": "application/json"},
    )
    _refused(r, db, brand.id, before)
