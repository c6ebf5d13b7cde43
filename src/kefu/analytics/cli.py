"""`kefu analytics …`: backfill the hourly ticket rollups the dashboards read."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer

analytics_app = typer.Typer(help="Analytics: rollups behind the dashboards.", no_args_is_help=True)


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date or time (e.g. 2026-01-01).") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@analytics_app.command("rollup")
def rollup_cmd(
    since: str | None = typer.Option(None, help="From this date/time (ISO, UTC if no offset); default: first ticket."),
    until: str | None = typer.Option(None, help="Up to this date/time (exclusive); default: the current hour."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be rolled up; write nothing."),
) -> None:
    """Backfill (or repair) the ticket and stat rollups; idempotent, one transaction per chunk of data."""
    from kefu.analytics import stats
    from kefu.analytics.rollups import RollupResult, backfill
    from kefu.core.db import get_database

    def progress(done: int, total: int, so_far: RollupResult) -> None:
        pct = 100 * done / total if total else 100.0
        print(f"\r{pct:5.1f}%  {done}/{total} hours, {so_far.tickets} tickets", end="", file=sys.stderr, flush=True)

    with get_database().session() as session:
        result = backfill(
            session, _when(since), _when(until), dry_run=dry_run, progress=progress, commit=session.commit
        )
        print(file=sys.stderr)
        stat = stats.backfill(
            session, _when(since), _when(until), dry_run=dry_run, progress=progress, commit=session.commit
        )
    print(file=sys.stderr)
    verb = "would roll up" if dry_run else "rolled up"
    typer.echo(f"{verb} {result.tickets} tickets into {result.rows} rows over {result.hours} hours")
    typer.echo(f"{verb} statistics of {stat.tickets} tickets into {stat.rows} hourly rows")
