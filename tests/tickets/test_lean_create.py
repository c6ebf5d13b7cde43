"""The create path's shortcuts (docs/PERFORMANCE.md, "Lean create, part 4") equal the ORM paths they replace."""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from kefu.core.errors import InvalidInput
from tests.tickets.helpers import admin_principal


def _state(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in obj.__dict__.items() if not k.startswith("_sa_")}


def test_new_row_is_the_constructor(db: Any, make: Any, count_queries: Any) -> None:
    """Same state and validation as Ticket(**values); transient; after insert_now a change is one UPDATE."""
    from sqlalchemy import inspect, select

    from kefu.core.db import insert_now, new_row, utcnow
    from kefu.tickets.models import Ticket, TicketPriority, TicketStatus

    brand = make.brand()
    now = utcnow()
    values = {
        "brand_id": brand.id,
        "number": "LEAN-000001",
        "subject": "訂單還沒到",
        "description": "",
        "status": "new",  # a plain string: the @validates hook turns it into the member, as the constructor does
        "priority": TicketPriority.HIGH,
        "channel": "api",
        "tags": ["a"],
        "custom_fields": {},
        "created_at": now,
        "updated_at": now,
    }
    built, constructed = new_row(Ticket, dict(values)), Ticket(**values)
    assert _state(built) == _state(constructed)
    assert type(built.status) is TicketStatus and built.status is TicketStatus.NEW
    assert inspect(built).transient
    with pytest.raises(InvalidInput):
        new_row(Ticket, {**values, "priority": "whenever"})
    with pytest.raises(TypeError):
        new_row(Ticket, {**values, "no_such_column": 1})  # the constructor's own error

    insert_now(db, built)
    assert inspect(built).persistent and built.id is not None
    with count_queries() as q:
        built.priority = "low"  # tracked like any loaded object's change (and validated)
        db.flush()
    assert q.count == 1 and "UPDATE" in str(q).upper(), str(q)
    db.expire_all()
    assert db.scalar(select(Ticket.priority).where(Ticket.id == built.id)) == TicketPriority.LOW


def test_new_row_uses_the_constructor_when_an_attribute_has_other_listeners(db: Any) -> None:
    """A set listener new_row could not reproduce (not a @validates hook) makes it call the constructor."""
    from sqlalchemy import event

    from kefu.core import db as core_db
    from kefu.tickets.models import TicketLink

    seen: list[Any] = []

    def listener(target: Any, value: Any, oldvalue: Any, initiator: Any) -> None:
        seen.append(value)

    core_db._ROWS.pop(TicketLink, None)
    event.listen(TicketLink.kind, "set", listener)
    try:
        link = core_db.new_row(TicketLink, {"brand_id": 1, "source_id": 1, "target_id": 2, "kind": "related"})
        assert seen == ["related"] and link.kind == "related"
    finally:
        event.remove(TicketLink.kind, "set", listener)
        core_db._ROWS.pop(TicketLink, None)
    assert core_db._row_plan(TicketLink) is not None


def test_loaded_values_only_when_everything_is_loaded(db: Any, make: Any) -> None:
    """A new ticket's TicketOut from its loaded values equals the one read through the attributes."""
    from kefu.core.db import loaded_values
    from kefu.tickets.schemas import TicketOut
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    t = create_ticket(
        db, brand_id=brand.id, subject="s", description="d", actor=admin_principal(make.agent("agent", [brand]))
    )
    fields = tuple(TicketOut.model_fields)
    values = loaded_values(t, fields)
    assert values is not None
    assert TicketOut.model_validate(values) == TicketOut.model_validate(t)
    db.commit()
    db.expire(t, ["subject"])
    assert loaded_values(t, fields) is None  # the attribute read loads it instead


class _Kind(StrEnum):
    A = "a"


class _Level(IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    "details",
    [
        None,
        {},
        {"number": "KF-000001"},
        {"public": True, "activity_id": 7, "note": None},
        {"kind": _Kind.A, "level": _Level.ONE},  # subclasses: the round trip, not the shortcut
        {"ratio": 2.0, "share": 0.5, "nested": {"x": [1, 2.0]}, 3: "int key"},
        {"text": "控制\u0001字元", "tuple": (1, 2)},
    ],
)
def test_normalise_details_is_the_json_round_trip(details: Any) -> None:
    """The shortcut for plain details gives exactly what the JSON round trip gives (hashed and stored alike)."""
    from kefu.audit.chain import _normalise, normalise_details

    expected = _normalise(json.loads(json.dumps(details or {}, ensure_ascii=False, default=str)))
    got = normalise_details(details)
    assert got == expected
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)  # same types as well
    if details:
        assert got is not details  # never the caller's dict itself


def test_configuration_tokens_see_the_transactions_pending_changes(db: Any, make: Any) -> None:
    """Read on the connection, the tokens still come after an autoflush: a pending watched row bumps them first."""
    from kefu.core import configcache
    from kefu.tickets.models import TicketCategory

    brand = make.brand()
    db.commit()
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert configcache.cached(db, brand.id, "test.lean", load) == 1
    db.commit()
    assert configcache.cached(db, brand.id, "test.lean", load) == 1  # unchanged configuration: cached
    db.commit()
    db.add(TicketCategory(brand_id=brand.id, key="lean", label_zh="精簡", label_en="Lean"))  # pending, not flushed
    assert configcache.cached(db, brand.id, "test.lean", load) == 2  # the autoflush bumped the brand's token
    db.rollback()


def test_run_prebuilt_writes_what_connection_execute_writes(db: Any, make: Any, count_queries: Any) -> None:
    """Same stored row (datetime, enum, JSON binds processed alike), cursor events fired, rowcount, driver tuples."""
    from sqlalchemy import insert, select

    from kefu.core.db import run_prebuilt, utcnow
    from kefu.tickets.models import Ticket

    brand = make.brand()
    table = Ticket.__table__
    stmt = insert(table).returning(table.c.id)
    now = utcnow()
    values = {
        "brand_id": brand.id,
        "subject": "訂單還沒到\x07",  # the text rule (a cursor listener, when installed) treats both alike
        "description": "請幫忙查詢",
        "status": "open",
        "priority": "high",
        "channel": "api",
        "tags": ["a", "b"],
        "custom_fields": {"order": "A-1", "n": 2},
        "search_vector": "",
        "created_at": now,
        "updated_at": now,
    }
    conn = db.connection()
    (full_id,) = conn.execute(stmt, {**values, "number": "PRE-000001"}).one()
    with count_queries() as q:
        rows, _count = run_prebuilt(conn, stmt, {**values, "number": "PRE-000002"})
    assert q.count == 1 and "INSERT INTO tickets" in str(q), str(q)
    assert len(rows) == 1 and type(rows[0][0]) is int
    lean_id = rows[0][0]

    def stored(ticket_id: int) -> dict[str, Any]:
        row = db.execute(select(table).where(table.c.id == ticket_id)).one()._asdict()
        return {k: v for k, v in row.items() if k not in ("id", "number")}

    assert stored(lean_id) == stored(full_id)
    db.rollback()


def test_run_prebuilt_errors_and_full_path(db: Any, make: Any) -> None:
    """Driver errors are SQLAlchemy's (IntegrityError); what the context would add (onupdate, expanding) goes the
    full way; an UPDATE's rowcount is the driver's."""
    from sqlalchemy import bindparam, insert, select, update
    from sqlalchemy.exc import IntegrityError

    from kefu.conversations.models import Conversation
    from kefu.core.db import _lean_plan, run_prebuilt
    from kefu.tickets.models import TicketCounter

    brand = make.brand()
    conn = db.connection()
    counters = TicketCounter.__table__
    if conn.execute(select(counters.c.brand_id).where(counters.c.brand_id == brand.id)).first() is None:
        run_prebuilt(conn, insert(counters), {"brand_id": brand.id, "value": 5})
    nested = conn.begin_nested()
    with pytest.raises(IntegrityError):
        run_prebuilt(conn, insert(counters), {"brand_id": brand.id, "value": 6})
    nested.rollback()
    bump = update(counters).where(counters.c.brand_id == bindparam("b")).values(value=counters.c.value + 1)
    assert run_prebuilt(conn, bump, {"b": brand.id}) == ([], 1)
    assert run_prebuilt(conn, bump, {"b": -1}) == ([], 0)

    convs = Conversation.__table__
    touched = update(convs).where(convs.c.id == bindparam("cid")).values(subject=bindparam("s"))
    assert _lean_plan(conn.dialect, touched, ("cid", "s")) is None  # updated_at's onupdate: the full path sets it
    expanding = update(counters).where(counters.c.brand_id.in_(bindparam("ids", expanding=True))).values(value=0)
    assert _lean_plan(conn.dialect, expanding, ("ids",)) is None
    assert run_prebuilt(conn, expanding, {"ids": [brand.id]}) == ([], 1)
    db.rollback()


def test_run_prebuilt_without_the_cursor_path(db: Any, make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQLAlchemy release without Connection._cursor_execute: the same answers through Connection.execute."""
    from sqlalchemy import bindparam, insert, update

    from kefu.core import db as core_db
    from kefu.tickets.models import TicketCounter

    monkeypatch.setattr(core_db, "_CURSOR_EXECUTE", False)
    brand = make.brand()
    conn = db.connection()
    counters = TicketCounter.__table__
    conn.execute(counters.delete().where(counters.c.brand_id == brand.id))
    rows, _count = core_db.run_prebuilt(
        conn, insert(counters).returning(counters.c.value), {"brand_id": brand.id, "value": 5}
    )
    assert rows == [(5,)]  # (an INSERT … RETURNING's rowcount is the driver's: -1 on psycopg's full path)
    bump = update(counters).where(counters.c.brand_id == bindparam("b")).values(value=counters.c.value + 1)
    assert core_db.run_prebuilt(conn, bump, {"b": brand.id}) == ([], 1)
    db.rollback()


def test_ticket_numbers_past_six_digits_and_in_the_insert(db: Any, make: Any, count_queries: Any) -> None:
    """The number is the brand's prefix, "-", at least six digits, on both databases; PostgreSQL draws and formats it
    inside the ticket's INSERT (no statement of its own)."""
    from sqlalchemy import text, update

    from kefu.tickets.models import TicketCounter
    from kefu.tickets.service import create_ticket

    brand = make.brand(ticket_prefix="SIX")
    pg = db.get_bind().dialect.name == "postgresql"
    first = create_ticket(db, brand_id=brand.id, subject="第一張", actor=None)
    assert first.number == "SIX-000001"
    if pg:
        db.execute(text(f"SELECT setval('ticket_number_seq_{brand.id}', 999998)"))
    else:
        db.execute(update(TicketCounter).where(TicketCounter.brand_id == brand.id).values(value=999998))
    with count_queries() as q:
        last_six = create_ticket(db, brand_id=brand.id, subject="六位數", actor=None)
    seven = create_ticket(db, brand_id=brand.id, subject="七位數", actor=None)
    assert (last_six.number, seven.number) == ("SIX-999999", "SIX-1000000")
    assert (last_six.number, seven.number) == (f"SIX-{999999:06d}", f"SIX-{1000000:06d}")  # next_number's format
    if pg:
        assert not [s for s in q.statements if "kefu_next_ticket_number" in s and "INSERT" not in s], str(q)
        assert [s for s in q.statements if "INSERT INTO tickets" in s and "kefu_next_ticket_number" in s], str(q)
    db.commit()
    assert db.get(type(seven), seven.id).number == "SIX-1000000"


def test_the_first_message_rides_in_the_tickets_insert(db: Any, make: Any, count_queries: Any) -> None:
    """Ticket and first entry stored as the ORM would store them (JSON, flags, times); PostgreSQL in one statement;
    afterwards both are persistent and a change to either is one UPDATE."""
    from sqlalchemy import inspect, select

    from kefu.tickets.models import Ticket, TicketActivity
    from kefu.tickets.service import create_ticket

    brand = make.brand(ticket_prefix="ONE")
    pg = db.get_bind().dialect.name == "postgresql"
    with count_queries() as q:
        ticket = create_ticket(
            db, brand_id=brand.id, subject="發票", actor=None, tags=["b", "a"], comment={"body": "已收到，處理中"}
        )
    inserts = [s for s in q.statements if "INSERT INTO ticket_activities" in s]
    assert len(inserts) == 1, str(q)
    assert ("INSERT INTO tickets" in inserts[0]) is pg, str(q)  # SQLite: its own INSERT after the ticket's
    entry = db.scalars(select(TicketActivity).where(TicketActivity.ticket_id == ticket.id)).one()
    assert inspect(ticket).persistent and inspect(entry).persistent
    assert ticket.number == "ONE-000001" and ticket.tags == ["a", "b"]
    assert (entry.kind, entry.body, entry.public, entry.data, entry.brand_id) == (
        "comment",
        "已收到，處理中",
        True,
        {},
        brand.id,
    )
    assert entry.created_at == ticket.first_response_at == ticket.last_public_update_at
    with count_queries() as q:
        entry.data = {"edited": True}
        ticket.priority = "low"  # not the subject: its search document is a flush hook's extra statements
        db.flush()
    assert q.count == 2 and all(s.lstrip().upper().startswith("UPDATE") for s in q.statements), str(q)
    db.commit()
    db.expire_all()
    stored = db.execute(
        select(Ticket.priority, Ticket.number, TicketActivity.data, TicketActivity.body)
        .join(TicketActivity, TicketActivity.ticket_id == Ticket.id)
        .where(Ticket.id == ticket.id)
    ).one()
    assert tuple(stored) == ("low", "ONE-000001", {"edited": True}, "已收到，處理中")


def test_attach_loaded_falls_back_to_add_when_a_relationship_holds_an_object() -> None:
    """attach_loaded skips add()'s cascade walk only when no relationship is in the state; else add() cascades."""
    from sqlalchemy import ForeignKey, Integer, String, create_engine, inspect
    from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, mapped_column, relationship

    from kefu.core.db import attach_loaded

    class Base(DeclarativeBase):
        pass

    class Parent(Base):
        __tablename__ = "p"
        id = mapped_column(Integer, primary_key=True)
        name = mapped_column(String, default="")
        kids = relationship("Kid", back_populates="parent")

    class Kid(Base):
        __tablename__ = "k"
        id = mapped_column(Integer, primary_key=True)
        parent_id = mapped_column(ForeignKey("p.id"), nullable=True)
        parent = relationship("Parent", back_populates="kids")

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        plain = Parent(id=1, name="a")
        make_transient_to_detached(plain)
        attach_loaded(session, plain)
        assert inspect(plain).persistent and not session.new and not session.dirty
        holding = Parent(id=2, name="b")
        kid = Kid(id=5)
        holding.kids.append(kid)
        make_transient_to_detached(holding)
        attach_loaded(session, holding)
        assert inspect(holding).persistent and kid in session.new  # add()'s save-update cascade reached it
    engine.dispose()
