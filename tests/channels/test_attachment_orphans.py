"""Attachment files that a crash before COMMIT left without their row are swept after the grace period: a file
without a row is removed, a fresh one and a referenced one are kept, a dry run deletes nothing (both databases;
the CLI and the periodic job run the same sweep)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

HOUR = 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_sweep_removes_only_old_files_without_a_row(db: Any, make: Any, session_factory: Any, _data_dir: Path) -> None:
    from kefu.channels.storage import store, sweep_orphans, write_file

    brand = make.brand()
    kept = store(db, brand_id=brand.id, conversation_id=None, filename="a.png", content_type="image/png", data=b"a")
    db.commit()
    # A process killed between store()'s file write and its COMMIT: the file is there, the row never was.
    crashed, _ = write_file(brand.id, b"crashed before commit")
    fresh, _ = write_file(brand.id, b"its transaction may still be open")
    leftover = _data_dir / "attachments" / str(brand.id) / "ab" / "half-written.tmp"  # killed mid-write
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half")
    for rel in (kept.path, crashed):
        _age(_data_dir / rel, 2 * HOUR)
    _age(leftover, 2 * HOUR)
    seen: list[int] = []

    dry = sweep_orphans(session_factory, grace=HOUR, dry_run=True, batch=2, progress=lambda r: seen.append(r.scanned))
    assert (dry.scanned, dry.referenced, dry.fresh, dry.orphans, dry.deleted) == (4, 1, 1, 2, 0)
    assert sorted(dry.paths) == sorted([crashed, leftover.relative_to(_data_dir).as_posix()])
    assert seen and seen[-1] == 4  # progress after every batch
    assert all((_data_dir / p).exists() for p in (kept.path, crashed, fresh))  # a dry run deletes nothing

    done = sweep_orphans(session_factory, grace=HOUR)
    assert (done.orphans, done.deleted, done.orphan_bytes) == (2, 2, len(b"crashed before commit") + 4)
    assert not (_data_dir / crashed).exists() and not leftover.exists()
    assert (_data_dir / kept.path).read_bytes() == b"a"  # referenced: kept however old
    assert (_data_dir / fresh).exists()  # younger than the grace period: kept
    again = sweep_orphans(session_factory, grace=HOUR)
    assert (again.scanned, again.orphans) == (2, 0)


def test_sweep_with_no_attachments_folder_finds_nothing(session_factory: Any) -> None:
    from kefu.channels.storage import sweep_orphans

    assert sweep_orphans(session_factory).summary()["scanned"] == 0


def test_the_sweep_is_a_periodic_job() -> None:
    from kefu import registry
    from kefu.core.scheduler import periodic_jobs

    registry.load_jobs()
    assert "channels.attachment_orphans" in periodic_jobs()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from kefu.core import runtime
    from kefu.core.config import get_settings
    from tests.conftest import migrated_sqlite

    url = migrated_sqlite(tmp_path / "cli.db")
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    get_settings.cache_clear()
    previous = runtime.install(None)  # a fresh implicit runtime: the database comes from KEFU_DATABASE_URL
    yield url
    get_settings.cache_clear()
    runtime.install(previous)


def test_cli_dry_run_then_sweep(cli_db: str, _data_dir: Path) -> None:
    from kefu.channels.storage import write_file
    from kefu.cli import app

    orphan, _ = write_file(1, b"orphan")
    _age(_data_dir / orphan, 2 * HOUR)
    runner = CliRunner()
    r = runner.invoke(app, ["attachments", "sweep", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert orphan in r.stdout and "DRY RUN" in r.output and "would delete 1 orphans" in r.output
    assert (_data_dir / orphan).exists()
    r = runner.invoke(app, ["attachments", "sweep", "--grace-seconds", "3600"])
    assert r.exit_code == 0, r.output
    assert "deleted 1 orphans" in r.output and "1 files scanned" in r.output
    assert not (_data_dir / orphan).exists()
