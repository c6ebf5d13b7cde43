"""Core: settings, migrations vs models, after-commit events, job queue, append-only audit log."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from tests.migration_rows import brand_and_customer


def test_settings_refuse_default_secret_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from kefu.core.config import DEV_SECRET, Settings

    with pytest.raises(ValidationError, match="KEFU_SECRET_KEY"):
        Settings(env="prod", secret_key=DEV_SECRET)
    with pytest.raises(ValidationError, match="KEFU_SECRET_KEY"):
        Settings(env="test", secret_key=DEV_SECRET)
    assert Settings(env="dev", secret_key=DEV_SECRET).env == "dev"
    with pytest.raises(ValidationError):
        Settings(env="prod", secret_key="short")
    ok = Settings(env="prod", secret_key="x" * 40)
    assert ok.env == "prod"
    monkeypatch.setenv("KEFU_REDIS_URL", "redis://127.0.0.1:6379/3")
    s = Settings()
    assert s.effective_bus_backend == "redis" and s.effective_jobs_backend == "redis"
    assert Settings(redis_url=None).effective_bus_backend == "memory"


def test_one_settings_tree_reads_every_variable_and_refuses_malformed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    from pydantic import ValidationError

    from kefu.channels import config as channel_config
    from kefu.core.config import Settings, get_settings, parse_allow_entry
    from kefu.privacy.net import allow_from_env

    env = {
        "KEFU_OUTBOX_MAX_ATTEMPTS": "3",
        "KEFU_OUTBOX_BASE_DELAY_SECONDS": "0.5",
        "KEFU_CHANNELS_BACKGROUND": "0",
        "KEFU_SMTP_PORT": "2526",
        "KEFU_WIDGET_MAX_IMAGE_MB": "2",
        "KEFU_WIDGET_TOKEN_DAYS": "7",
        "KEFU_OLD_SECRET_KEYS": "first-old-secret, second-old-secret",
        "KEFU_OUTBOUND_ALLOW": "10.0.0.1/8,fd00::/8",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = get_settings()
    assert s.channels.outbox_max_attempts == 3 and s.channels.outbox_base_delay_seconds == 0.5
    assert s.channels.channels_background is False and s.channels.smtp_port == 2526
    assert channel_config.max_image_bytes() == 2 * 1024 * 1024 and channel_config.token_days() == 7
    assert [k.get_secret_value() for k in s.old_secret_keys] == ["first-old-secret", "second-old-secret"]
    assert "first-old-secret" not in repr(s)  # SecretStr keeps old keys out of logs and tracebacks
    assert s.outbound_allow == ["10.0.0.1/8", "fd00::/8"]  # validated entries, parsed by the SSRF guard
    assert [parse_allow_entry(e)[0] for e in s.outbound_allow] == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    ]
    assert allow_from_env() == ["10.0.0.1/8", "fd00::/8"]  # as written; the guard parses them (host bits allowed)
    monkeypatch.setenv("KEFU_OLD_SECRET_KEYS", '["json-listed"]')
    assert [k.get_secret_value() for k in get_settings().old_secret_keys] == ["json-listed"]  # env change re-read
    # Malformed values fail loudly, naming the variable, instead of silently becoming the default.
    for key, bad in (
        ("KEFU_OUTBOX_MAX_ATTEMPTS", "eight"),
        ("KEFU_OUTBOX_MAX_ATTEMPTS", "0"),
        ("KEFU_CHANNELS_SWEEP_SECONDS", "fast"),
        ("KEFU_SMTP_PORT", "70000"),
        ("KEFU_OUTBOUND_ALLOW", "10.0.0.0/33"),
        ("KEFU_CHANNELS_BACKGROUND", "maybe"),
    ):
        monkeypatch.setenv(key, bad)
        with pytest.raises(ValidationError) as err:
            Settings()
        assert key.removeprefix("KEFU_").lower() in str(err.value) or key in str(err.value), (key, str(err.value))
        monkeypatch.setenv(key, env.get(key, "5"))


def test_models_match_migrations(engine: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import kefu.models  # noqa: F401
    from kefu.core.db import Base

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(db_url: str, engine: Any) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrations_downgrade_and_upgrade(tmp_path: Any) -> None:
    from sqlalchemy import create_engine, inspect

    from kefu.core.migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url, "base")
    eng = create_engine(url)
    assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
    eng.dispose()
    upgrade(url)


def test_domain_value_checks_migration_maps_stray_values_and_keeps_child_rows(tmp_path: Any) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import IntegrityError

    from kefu.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0901")
    upgrade(url, "0903")  # 2001's parents: the state right before the CHECK constraints
    engine = create_engine(url)
    now = "2026-01-01 00:00:00"
    with engine.begin() as conn:
        brand_and_customer(conn, now)
        conn.execute(
            text(
                "INSERT INTO conversations (id, brand_id, customer_id, channel, status, last_message_at, created_at, "
                "updated_at) VALUES (1, 1, 1, 'carrier-pigeon', 'weird', :now, :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, brand_id, conversation_id, channel, sender_type, is_note, body, "
                "content_type, attachments, meta, created_at) "
                "VALUES (1, 1, 1, 'line', 'robot', 0, 'hi', 'text', '[]', '{}', :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO tickets (id, brand_id, number, subject, description, status, priority, channel, tags, "
                "custom_fields, created_at, updated_at) "
                "VALUES (1, 1, 'KF-1', 's', '', 'open', 'whatever-i-like', 'api', '[]', '{}', :now, :now)"
            ),
            {"now": now},
        )
    upgrade(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT status, channel FROM conversations")).one() == ("open", "api")
        # The tables were recreated with foreign keys off: the message of the conversation survived.
        assert conn.execute(text("SELECT sender_type FROM messages")).one() == ("system",)
        assert conn.execute(text("SELECT priority FROM tickets")).one() == ("normal",)
        indexes = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_messages_bot_replies'")).one()
        assert "WHERE" in indexes[0]  # the partial index kept its condition
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE tickets SET priority = 'whatever-i-like'"))
    engine.dispose()


def test_events_publish_only_after_commit(db: Any, make: Any, events: list[Any]) -> None:
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    events.clear()
    create_ticket(db, brand_id=brand.id, subject="rolled back", actor=None)
    assert events == []
    db.rollback()
    assert events == []
    t = create_ticket(db, brand_id=brand.id, subject="kept", actor=None)
    assert events == []
    db.commit()
    assert [(e.type, e.data["id"]) for e in events] == [("ticket.created", t.id)]
    assert f"brand:{brand.id}" in events[0].topics


def test_jobs_enqueued_after_commit_and_retried(db: Any, jobs: Any) -> None:
    from kefu.core.jobs import enqueue, job

    calls: list[int] = []
    lock = threading.Lock()

    @job("test.flaky")
    def flaky(payload: dict[str, Any]) -> None:
        with lock:
            calls.append(payload["n"])
            if len(calls) < 3:
                raise RuntimeError("transient")

    enqueue(db, "test.flaky", {"n": 7})
    db.rollback()
    assert jobs.drain(1)
    assert calls == []
    enqueue(db, "test.flaky", {"n": 7})
    db.commit()
    assert jobs.drain(10)
    assert calls == [7, 7, 7] and jobs.failed == []


def test_job_that_always_fails_is_recorded(jobs: Any) -> None:
    from kefu.core.jobs import job

    @job("test.broken")
    def broken(payload: dict[str, Any]) -> None:
        raise ValueError("permanent")

    jobs.enqueue("test.broken", {})
    assert jobs.drain(10)
    assert jobs.failed and jobs.failed[0][0] == "test.broken"


def test_audit_log_is_append_only(db: Any, make: Any) -> None:
    from sqlalchemy.exc import DBAPIError

    from kefu.audit.service import record

    entry = record(db, None, "test.action", details={"k": "v"})
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("UPDATE audit_log SET action = 'tampered' WHERE id = :i"), {"i": entry.id})
    db.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": entry.id})
    db.rollback()


def test_concurrent_ticket_numbers_are_unique(db_url: str, tmp_path: Any) -> None:
    """Many threads, each with its own connection and transaction, never reuse a number."""
    from kefu.brands.service import create_brand
    from kefu.core.db import Database
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import create_ticket

    if db_url.startswith("sqlite"):
        from kefu.core.migrate import upgrade

        db_url = f"sqlite:///{tmp_path / 'concurrent.db'}"
        upgrade(db_url)
    database = Database(db_url)
    import uuid

    slug = f"conc-{uuid.uuid4().hex[:8]}"
    with database.session() as s:
        brand_id = create_brand(s, slug=slug, name="c", ticket_prefix="CC").id
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                with database.session() as s:
                    create_ticket(s, brand_id=brand_id, subject="x", actor=None)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    from sqlalchemy import select

    with database.session() as s:
        numbers = list(s.scalars(select(Ticket.number).where(Ticket.brand_id == brand_id)))
    assert len(numbers) == 60 and len(set(numbers)) == 60
    assert max(numbers) == "CC-000060"
    database.dispose()


def test_postgresql_ticket_numbers_continue_from_the_counter(db: Any) -> None:
    """A brand's sequence starts after its counter row (databases upgraded with tickets keep their numbering)."""
    from sqlalchemy import update

    from kefu.brands.service import create_brand
    from kefu.tickets.models import TicketCounter
    from kefu.tickets.service import create_ticket

    brand = create_brand(db, slug="seq-brand", name="s", ticket_prefix="SQ")
    db.execute(update(TicketCounter).where(TicketCounter.brand_id == brand.id).values(value=41))
    first = create_ticket(db, brand_id=brand.id, subject="a", actor=None)
    second = create_ticket(db, brand_id=brand.id, subject="b", actor=None)
    assert (first.number, second.number) == ("SQ-000042", "SQ-000043")


def test_get_settings_follows_the_environment_and_audit_keys_follow_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """get_settings reads KEFU_* from os.environ's raw mapping and the audit keys are memoised per Settings object."""
    from kefu.audit.chain import audit_keys
    from kefu.core.config import get_settings

    first = get_settings()
    assert get_settings() is first  # unchanged environment: the same object
    kid, keys = audit_keys()
    assert audit_keys() == (kid, keys)
    monkeypatch.setenv("KEFU_SECRET_KEY", "r" * 48)
    second = get_settings()
    assert second is not first and second.secret_key == "r" * 48
    assert audit_keys()[1][kid] != keys[kid]  # a new secret derives a new key
    monkeypatch.setenv("KEFU_AUDIT_KEY_ID", "k7")
    assert audit_keys()[0] == "k7"
    monkeypatch.undo()
    assert get_settings().secret_key == first.secret_key and audit_keys()[1][kid] == keys[kid]
