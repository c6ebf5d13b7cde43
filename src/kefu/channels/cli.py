"""`kefu inbound`: list inbound events that failed or are being retried, and requeue them."""

from __future__ import annotations

import json

import typer

inbound_app = typer.Typer(help="Inbound channel events: failures and requeue.", no_args_is_help=True)
attachments_app = typer.Typer(help="Attachment files under the data dir.", no_args_is_help=True)


@inbound_app.command("failed")
def failed_cmd(limit: int = typer.Option(50, min=1, max=1000)) -> None:
    """Print failed and retrying inbound events as JSON lines, newest first."""
    from kefu.channels.service import failed_events
    from kefu.core.db import get_database

    with get_database().session() as session:
        for ev in failed_events(session, None, limit):
            line = {
                "id": ev.id,
                "inbox_id": ev.inbox_id,
                "channel": ev.channel,
                "status": ev.status,
                "attempts": ev.attempts,
                "next_attempt_at": ev.next_attempt_at.isoformat() if ev.next_attempt_at else None,
                "last_error": ev.last_error,
            }
            typer.echo(json.dumps(line, ensure_ascii=False))


@inbound_app.command("requeue")
def requeue_cmd(
    event_ids: list[int] = typer.Argument(None, help="Inbound event ids."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Every event with status failed."),
) -> None:
    """Process failed inbound events again, with a fresh set of attempts (e.g. after freeing disk space)."""
    from sqlalchemy import select

    from kefu.channels.models import InboundEvent
    from kefu.channels.service import requeue_event
    from kefu.core.db import get_database

    with get_database().session() as session:
        ids = list(event_ids or [])
        if all_failed:
            ids += list(session.scalars(select(InboundEvent.id).where(InboundEvent.status == "failed")))
        for event_id in ids:
            requeue_event(session, event_id)
    typer.echo(f"requeued {len(ids)} event(s)")


@attachments_app.command("sweep")
def sweep_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="List the orphans, delete nothing."),
    grace_seconds: float = typer.Option(3600.0, "--grace-seconds", min=60, help="Keep files younger than this."),
) -> None:
    """Delete attachment files no attachment row references (a crash before COMMIT left them); orphans on stdout."""
    from kefu.channels.storage import SweepReport, sweep_orphans

    def progress(report: SweepReport) -> None:
        typer.echo(f"  … {report.scanned} files scanned, {report.orphans} orphans", err=True)

    if dry_run:
        typer.echo("DRY RUN: nothing is deleted", err=True)
    report = sweep_orphans(grace=grace_seconds, dry_run=dry_run, progress=progress)
    for rel in report.paths:
        typer.echo(rel)
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"summary: {report.scanned} files scanned, {report.referenced} referenced, {report.fresh} younger than "
        f"{grace_seconds:g} s, {verb} {report.orphans if dry_run else report.deleted} orphans "
        f"({report.orphan_bytes} bytes)",
        err=True,
    )
