"""`kefu` command line: serve, worker, db, demo, user."""

from __future__ import annotations

import getpass
import logging
import sys
from pathlib import Path

import typer

from kefu.core.config import get_settings
from kefu.knowledge.cli import kb_app

app = typer.Typer(help="kefu 客服 — omnichannel customer service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Agent accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
audit_app = typer.Typer(help="Audit trail.", no_args_is_help=True)
privacy_app = typer.Typer(help="Privacy: retention, key rotation.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(privacy_app, name="privacy")
promises_app = typer.Typer(help="The seed documents' promises (docs/PROMISES.md).", no_args_is_help=True)
app.add_typer(promises_app, name="promises")
from kefu.channels.cli import attachments_app, inbound_app  # noqa: E402 - command groups live with their capability
from kefu.jobs_cli import jobs_app  # noqa: E402

app.add_typer(kb_app, name="kb")
app.add_typer(jobs_app, name="jobs")
app.add_typer(inbound_app, name="inbound")
app.add_typer(attachments_app, name="attachments")

try:  # the NLU tools live with the bot package
    from kefu.bot.cli import bot_app, nlu_app  # type: ignore[import-not-found,unused-ignore]

    app.add_typer(nlu_app, name="nlu", help="NLU training and evaluation.")
    app.add_typer(bot_app, name="bot", help="Bot evaluation through the live dialogue engine.")
except ImportError:  # pragma: no cover - bot package not installed
    pass
from kefu.llm.cli import llm_app  # noqa: E402 - `kefu llm check`

app.add_typer(llm_app, name="llm")
from kefu.analytics.cli import analytics_app  # noqa: E402 - `kefu analytics rollup`

app.add_typer(analytics_app, name="analytics")
from kefu.quality.cli import quality_app  # noqa: E402 - `kefu quality plan`

app.add_typer(quality_app, name="quality")


def _logging() -> None:
    from kefu.privacy.logmask import install_log_masking
    from kefu.security.logredact import install_log_redaction

    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    install_log_redaction()  # credentials (tokens, reset links) never reach the logs of any kefu process


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default KEFU_HOST)."),
    port: int = typer.Option(None, help="Port (default KEFU_PORT)."),
    workers: int = typer.Option(1, min=1, help="API processes; >1 needs KEFU_REDIS_URL for realtime fan-out."),
    reload: bool = typer.Option(False, help="Auto-reload on code changes (development)."),
) -> None:
    """Serve the web app and API."""
    import uvicorn

    _logging()
    settings = get_settings()
    if workers > 1 and not settings.redis_url:
        typer.echo("warning: several workers without KEFU_REDIS_URL: realtime events stay in one process", err=True)
    uvicorn.run(
        "kefu.web.main:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers if not reload else 1,
        reload=reload,
        log_level=settings.log_level.lower(),
        ws="websockets-sansio",
        ws_max_size=WS_MAX_SIZE,
        timeout_keep_alive=int(settings.keep_alive_seconds),
    )


# Protocol-level cap on a client WebSocket frame (uvicorn's default is 16 MiB); kefu.web.wsframes answers
# frames above its own, smaller limit with a 1009 close too.
WS_MAX_SIZE = 1024 * 1024


@app.command()
def worker(concurrency: int = typer.Option(4, min=1, help="Jobs run at once.")) -> None:
    """Run background jobs from the database's job table (scale-out mode; Redis, when set, only wakes workers)."""
    from kefu.bootstrap import wire
    from kefu.core.jobs import run_worker_blocking

    _logging()
    settings = get_settings()
    wire(settings)
    run_worker_blocking(settings, concurrency)


@app.command()
def smtp(
    host: str = typer.Option(None, help="Bind address (default KEFU_SMTP_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default KEFU_SMTP_PORT or 2525)."),
) -> None:
    """Receive mail for email inboxes (built-in SMTP server); also sweeps inbound/outbox work."""
    import time

    from kefu.bootstrap import wire
    from kefu.channels.background import Background
    from kefu.channels.email.receiver import start_receiver
    from kefu.core.db import DATABASE
    from kefu.core.jobs import QUEUE

    _logging()
    wired = wire(get_settings())
    factory = wired.get(DATABASE).sessionmaker
    smtp = wired.settings.channels
    controller = start_receiver(host or smtp.smtp_host, port or smtp.smtp_port or 2525, factory)
    wired.get(QUEUE).start()
    sweeper = Background(factory, smtp=False)
    sweeper.start()
    typer.echo(f"kefu smtp listening on {controller.hostname}:{controller.port}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sweeper.stop()
        controller.stop()


@app.command()
def scheduler(tick: float = typer.Option(1.0, help="Seconds between ticks.")) -> None:
    """Run the periodic-job scheduler (one leader at a time across all processes; standbys wait)."""
    import signal
    import threading

    from kefu.bootstrap import wire
    from kefu.core.db import DATABASE
    from kefu.core.jobs import QUEUE
    from kefu.core.scheduler import Scheduler

    _logging()
    wired = wire(get_settings())
    sched = Scheduler(wired.get(DATABASE).sessionmaker, lambda: wired.get(QUEUE), tick=tick)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    sched.start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sched.stop()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply migrations."""
    from kefu.core.migrate import upgrade

    upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base.")) -> None:
    """Revert migrations."""
    from kefu.core.migrate import downgrade

    downgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def demo(
    password: str = typer.Option(
        "kefu-demo-pass", help="Password for the demo agents (printed; change it outside a laptop)."
    ),
) -> None:
    """Load a bilingual demo brand, teams, agents, customers, conversations and tickets (idempotent)."""
    from kefu.core.db import get_database
    from kefu.demo import load_demo

    with get_database().session() as session:
        created = load_demo(session, password=password)
    if created:
        typer.echo("demo data loaded; sign in as admin@kefu.local / " + password)
    else:
        typer.echo("demo data already present")


@user_app.command("create")
def user_create(
    email: str = typer.Option(..., prompt=True),
    name: str = typer.Option(..., prompt=True),
    role: str = typer.Option("agent", help="admin, supervisor, agent or auditor."),
    password: str = typer.Option(None, envvar="KEFU_NEW_PASSWORD", help="Omit to be prompted."),
    brand: list[str] = typer.Option([], help="Brand slug the agent may work in (repeatable)."),
) -> None:
    """Create an agent account."""
    from sqlalchemy import select

    from kefu.auth.service import create_agent
    from kefu.brands.models import Brand
    from kefu.core.db import get_database
    from kefu.core.errors import ProblemError

    pw = password
    if not pw:
        if not sys.stdin.isatty():
            typer.echo("no password given (use --password or KEFU_NEW_PASSWORD)", err=True)
            raise typer.Exit(2)
        pw = getpass.getpass("Password: ")
    try:
        with get_database().session() as session:
            brand_ids = []
            for slug in brand:
                bid = session.scalar(select(Brand.id).where(Brand.slug == slug))
                if bid is None:
                    raise typer.BadParameter(f"unknown brand {slug!r}")
                brand_ids.append(bid)
            agent = create_agent(session, email=email, name=name, password=pw, role=role, brand_ids=brand_ids)
            agent_id = agent.id
    except ProblemError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created agent {agent_id} <{email.lower()}> ({role})")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the audit hash chain; exit 1 if entries were modified, deleted or reordered."""
    from kefu.audit.chain import verify_chain
    from kefu.core.db import get_database

    with get_database().session() as session:
        result = verify_chain(session)
    for problem in result.problems:
        typer.echo(f"FAIL {problem}", err=True)
    typer.echo(f"{'ok' if result.ok else 'TAMPERED'}: {result.checked} entries checked, head seq {result.head_seq}")
    raise typer.Exit(0 if result.ok else 1)


@privacy_app.command("retention")
def privacy_retention(
    brand_id: int = typer.Option(None, help="Only this brand (default all)."),
    batch: int = typer.Option(500, min=1, help="Records per transaction."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be de-identified and why; change nothing."),
    as_of: str = typer.Option(None, "--as-of", help="With --dry-run: evaluate as of this date (YYYY-MM-DD)."),
) -> None:
    """De-identify closed conversations/tickets older than each brand's retention period (cron-friendly)."""
    from kefu.core.db import get_database
    from kefu.privacy.jobs import retention_sweep

    if as_of is not None and not dry_run:
        raise typer.BadParameter("--as-of only previews; combine it with --dry-run.", param_hint="--as-of")
    if dry_run:
        _retention_dry_run(brand_id, as_of)
        return

    totals = retention_sweep(get_database().sessionmaker, batch=batch, brand_id=brand_id)
    for bid, counts in sorted(totals.items()):
        typer.echo(f"brand {bid}: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to do"))


def _retention_dry_run(brand_id: int | None, as_of: str | None) -> None:
    """Print every record a retention run would de-identify (stdout), progress (stderr) and a summary."""
    from datetime import UTC, date, datetime, time

    from sqlalchemy import select

    from kefu.brands.models import Brand
    from kefu.core.db import get_database, utcnow
    from kefu.privacy.retention_preview import preview_brand

    try:
        when = datetime.combine(date.fromisoformat(as_of), time(), tzinfo=UTC) if as_of else utcnow()
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint="--as-of") from exc
    totals = {"conversation": 0, "ticket": 0, "customer": 0}
    with get_database().session() as session:
        stmt = select(Brand).order_by(Brand.id)
        if brand_id is not None:
            stmt = stmt.where(Brand.id == brand_id)
        brands = list(session.scalars(stmt))
        if not brands:
            raise typer.BadParameter(f"no brand {brand_id}", param_hint="--brand-id")
        typer.echo(f"DRY RUN as of {when:%Y-%m-%d}: nothing is changed", err=True)
        for n, brand in enumerate(brands, 1):
            summary, items = preview_brand(session, brand, when)
            setting = f"{summary.years} years, cut-off {summary.cutoff:%Y-%m-%d}" if summary.cutoff else "disabled"
            typer.echo(f"[{n}/{len(brands)}] brand {brand.id} {brand.slug}: retention {setting}", err=True)
            for warning in summary.warnings:
                typer.echo(f"  warning: {warning}", err=True)
            for seen, c in enumerate(items, 1):
                typer.echo(f"{c.brand_id}\t{c.kind}\t{c.record_id}\t{c.label}\t{c.reason}")
                if seen % 1000 == 0:
                    typer.echo(f"  … {seen} records so far", err=True)
            for kind, count in summary.counts.items():
                totals[kind] += count
            typer.echo(f"  brand {brand.id}: " + ", ".join(f"{k}s={v}" for k, v in summary.counts.items()), err=True)
    typer.echo(
        "summary: would de-identify "
        + ", ".join(f"{v} {k}s" for k, v in totals.items())
        + f" in {len(brands)} brand(s)"
    )


@privacy_app.command("rotate-keys")
def privacy_rotate_keys() -> None:
    """Re-encrypt every encrypted column with the current KEFU_SECRET_KEY (old keys in KEFU_OLD_SECRET_KEYS)."""
    from kefu.core.db import get_database
    from kefu.privacy.crypto import rotate_keys

    with get_database().session() as session:
        counts = rotate_keys(session)
    typer.echo(", ".join(f"{k}={v}" for k, v in counts.items()) or "no encrypted columns")


# sysexits.h EX_TEMPFAIL: "try again later". cron, systemd and deploy scripts can tell an outage from a bug (1).
EXIT_TEMPFAIL = 75


def main() -> None:
    """Console entry point: a database or file store that cannot serve now is one line and exit 75, not a traceback."""
    from kefu.core.db import transient_db_error
    from kefu.core.errors import storage_unavailable
    from kefu.core.retry import error_line

    try:
        app()
    except Exception as exc:
        if transient_db_error(exc):
            what = "the database cannot serve now (unreachable, locked or timed out)"
        elif storage_unavailable(exc):
            what = "the file store cannot be written now (full, read-only or failing)"
        else:
            raise
        reason = error_line(exc, 300)
        typer.echo(f"kefu: {what}: {reason}", err=True)
        typer.echo("kefu: the failed step was rolled back; run the command again later", err=True)
        raise SystemExit(EXIT_TEMPFAIL) from None


@promises_app.command("check")
def promises_check(
    docs: Path = typer.Option(Path("docs/PROMISES.md"), help="The promises table."),
    tests_dir: Path = typer.Option(Path("tests"), "--tests", help="The test suite (a source checkout)."),
    only: list[int] = typer.Option([], "--only", help="Only these promise numbers (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check that every named test exists; run nothing."),
) -> None:
    """Walk every promise: run its tests and report pass / fail per promise (exit 1 when one fails)."""
    from kefu.ops.promises import walk

    if not docs.is_file() or not tests_dir.is_dir():
        raise typer.BadParameter("run from a source checkout (docs/PROMISES.md and tests/)", param_hint="--docs")
    outcomes = walk(docs, tests_dir, only=set(only) or None, run=not dry_run)
    for o in outcomes:
        typer.echo(f"{o.promise.number:>3}  {o.result:<8}  {o.promise.status:<8}  {o.promise.text[:60]}  {o.detail}")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    typer.echo("summary: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if counts.get("fail") or counts.get("missing"):
        raise typer.Exit(1)
