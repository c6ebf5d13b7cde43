"""`kefu` command line: serve, worker, db, demo, user."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import sys

import typer

from kefu.core.config import get_settings

app = typer.Typer(help="kefu 客服 — omnichannel customer service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Agent accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
audit_app = typer.Typer(help="Audit trail.", no_args_is_help=True)
privacy_app = typer.Typer(help="Privacy: retention, key rotation.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(privacy_app, name="privacy")

try:  # the NLU tools live with the bot package
    from kefu.bot.cli import bot_app, nlu_app  # type: ignore[import-not-found,unused-ignore]

    app.add_typer(nlu_app, name="nlu", help="NLU training and evaluation.")
    app.add_typer(bot_app, name="bot", help="Bot evaluation through the live dialogue engine.")
except ImportError:  # pragma: no cover - bot package not installed
    pass


def _logging() -> None:
    from kefu.privacy.logmask import install_log_masking

    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()


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
    )


@app.command()
def worker(concurrency: int = typer.Option(4, min=1, help="Jobs run at once.")) -> None:
    """Run background jobs from Redis (scale-out mode)."""
    from kefu.core.jobs import run_worker
    from kefu.registry import load_jobs

    _logging()
    settings = get_settings()
    if not settings.redis_url:
        typer.echo("kefu worker needs KEFU_REDIS_URL (in embedded mode jobs run inside `kefu serve`)", err=True)
        raise typer.Exit(2)
    load_jobs()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings, concurrency))


@app.command()
def smtp(
    host: str = typer.Option(None, help="Bind address (default KEFU_SMTP_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default KEFU_SMTP_PORT or 2525)."),
) -> None:
    """Receive mail for email inboxes (built-in SMTP server); also sweeps inbound/outbox work."""
    import time

    from kefu.channels.background import Background
    from kefu.channels.config import env_int, env_str
    from kefu.channels.email.receiver import start_receiver
    from kefu.core.db import get_database
    from kefu.core.jobs import get_queue
    from kefu.registry import load_jobs

    _logging()
    load_jobs()
    factory = get_database().sessionmaker
    controller = start_receiver(host or env_str("SMTP_HOST", "127.0.0.1"), port or env_int("SMTP_PORT", 2525), factory)
    get_queue().start()
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

    from kefu.core.db import get_database
    from kefu.core.jobs import get_queue
    from kefu.core.scheduler import Scheduler
    from kefu.registry import load_jobs

    _logging()
    load_jobs()
    sched = Scheduler(get_database().sessionmaker, get_queue, tick=tick)
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
    password: str = typer.Option(None, help="Omit to be prompted (or set KEFU_NEW_PASSWORD)."),
    brand: list[str] = typer.Option([], help="Brand slug the agent may work in (repeatable)."),
) -> None:
    """Create an agent account."""
    from sqlalchemy import select

    from kefu.auth.service import create_agent
    from kefu.brands.models import Brand
    from kefu.core.db import get_database
    from kefu.core.errors import ProblemError

    pw = password or os.environ.get("KEFU_NEW_PASSWORD")
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
) -> None:
    """De-identify closed conversations/tickets older than each brand's retention period (cron-friendly)."""
    from kefu.core.db import get_database
    from kefu.privacy.jobs import retention_sweep

    totals = retention_sweep(get_database().sessionmaker, batch=batch, brand_id=brand_id)
    for bid, counts in sorted(totals.items()):
        typer.echo(f"brand {bid}: " + (", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to do"))


@privacy_app.command("rotate-keys")
def privacy_rotate_keys() -> None:
    """Re-encrypt every encrypted column with the current KEFU_SECRET_KEY (old keys in KEFU_OLD_SECRET_KEYS)."""
    from kefu.core.db import get_database
    from kefu.privacy.crypto import rotate_keys

    with get_database().session() as session:
        counts = rotate_keys(session)
    typer.echo(", ".join(f"{k}={v}" for k, v in counts.items()) or "no encrypted columns")


def main() -> None:
    """Console entry point."""
    app()
