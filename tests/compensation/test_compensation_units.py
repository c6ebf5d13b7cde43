"""A ledger entry's unit, reason and status stay in their closed sets on every write path, and the ledger page shows
a stored value outside them as written rather than answering 500 (the brand walk's synthetic row once did)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from tests.migration_rows import brand_and_customer
from tests.tickets.helpers import Clock


def _entry(db: Any, make: Any) -> Any:
    from kefu.compensation.service import propose_manual
    from tests.tickets.helpers import admin_principal

    brand = make.brand()
    customer = make.customer(brand, name="王小明")
    row = propose_manual(
        db, admin_principal(make.agent("admin")), customer_id=customer.id, basis_minutes=30, note="轉錯部門"
    )
    db.commit()
    return row


STRAYS = [("unit", "OWNAcompensation"), ("reason", "goodwill"), ("status", "paid")]


@pytest.mark.parametrize(("column", "value"), STRAYS)
def test_a_row_written_past_the_service_is_refused_by_the_database(
    db: Any, make: Any, clock: Clock, column: str, value: str
) -> None:
    """A straight INSERT (an import, a hand-written fix, a test's synthetic row) cannot store a stray value."""
    from kefu.compensation.models import Compensation

    row = _entry(db, make)
    values = {
        "brand_id": row.brand_id,
        "customer_id": row.customer_id,
        "reason": "handling_error",
        "basis_minutes": 10,
        "factor": 2.0,
        "amount": 20,
        "unit": "minutes",
        "status": "proposed",
        "note": "",
        "decision_note": "",
        column: value,
    }
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(insert(Compensation.__table__).values(**values))


@pytest.mark.parametrize(("column", "value"), [("unit", "weeks"), ("reason", "goodwill"), ("status", "paid")])
def test_setting_a_value_outside_the_set_is_a_422(db: Any, make: Any, clock: Clock, column: str, value: str) -> None:
    """Code that sets the attribute directly gets the closed-set 422 at once, not a failed flush later."""
    from kefu.core.errors import InvalidInput

    row = _entry(db, make)
    with pytest.raises(InvalidInput) as err:
        setattr(row, column, value)
    assert err.value.status == 422
    assert getattr(row, column) != value


def test_the_brand_walks_synthetic_entries_render_on_the_ledger(client: Any, make: Any, db: Any) -> None:
    """The walk's row of every brand-owned table (build_brand_b) makes a ledger entry the page can show: once its
    unit was 'OWNAcompensation' (the walk's marker cut to the column) and /console/compensations raised."""
    from tests.security.test_brand_walk import _login, build_brand_b

    own = build_brand_b(db, make, mark="OWNA")
    headers = _login(client, own["agent"])
    page = client.get("/console/compensations?lang=en", headers=headers)
    assert page.status_code == 200
    assert "OWNAcompensation" not in page.text


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_the_ledger_shows_a_stored_value_outside_the_sets_as_written(locale: str) -> None:
    """A value outside today's sets (a unit dropped later, an older backup) shows as written, not a 500."""
    from kefu.privacy.masking import PiiView
    from kefu.web.i18n import translator
    from kefu.web.pages import templates

    row = SimpleNamespace(
        id=7,
        customer_id=3,
        ticket_id=None,
        broadcast_id=None,
        reason="goodwill",
        note="",
        basis_minutes=30,
        factor=2.0,
        amount=4,
        unit="fortnights",
        status="paid",
        decision_note="",
    )
    html = templates.get_template("compensation/_ledger.html").render(
        t=translator(locale),
        pii=PiiView(None),
        rows=[row],
        totals=[("paid", "fortnights", 1, 4)],
        names={3: "王小明"},
        notes={7: ""},
        can_manage=True,
        current="",
        error="",
        error_id=0,
        next_cursor=None,
    )
    assert html.count("4 fortnights") == 2 and "goodwill" in html and html.count("paid") >= 2


def test_the_migration_maps_stray_rows_then_checks(tmp_path: Any) -> None:
    """2790 keeps every row: an unknown unit is recounted in minutes from the row's basis and factor, an unknown
    reason becomes handling_error, an unknown status proposed; afterwards the database refuses them."""
    from sqlalchemy import create_engine, text

    from kefu.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "2320")
    engine = create_engine(url)
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        brand_and_customer(conn, now)
        for cid, reason, unit, status, amount in (
            (1, "outage", "OWNAcompensation", "granted", 7),
            (2, "goodwill", "hours", "paid", 1),
            (3, "sla_breach", "days", "approved", 1),
        ):
            conn.execute(
                text(
                    "INSERT INTO compensations (id, brand_id, customer_id, reason, basis_minutes, factor, amount, "
                    "unit, status, note, decision_note, created_at) "
                    "VALUES (:id, 1, 1, :reason, 45, 1.5, :amount, :unit, :status, '', '', :now)"
                ),
                {"id": cid, "reason": reason, "unit": unit, "status": status, "amount": amount, "now": now},
            )
    upgrade(url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, reason, unit, status, amount FROM compensations ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        (1, "outage", "minutes", "granted", 68),  # 45 min × 1.5, rounded up
        (2, "handling_error", "hours", "proposed", 1),
        (3, "sla_breach", "days", "approved", 1),
    ]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE compensations SET unit = 'weeks' WHERE id = 3"))
    engine.dispose()
