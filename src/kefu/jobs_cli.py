"""`kefu jobs`: list, count and re-drive durable jobs (dead letters are never dropped silently)."""

from __future__ import annotations

import json

import typer

jobs_app = typer.Typer(help="Background jobs: list, retry dead letters, run due jobs.", no_args_is_help=True)


@jobs_app.command("list")
def list_cmd(
    status: str = typer.Option("dead", help="pending, running, dead, or 'all'."),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """Print jobs (dead letters by default) as JSON lines, newest first."""
    from kefu.core.db import get_database
    from kefu.core.jobs import counts, list_jobs

    with get_database().session() as session:
        for row in list_jobs(session, None if status == "all" else status, limit):
            line = {
                "id": row.id,
                "name": row.name,
                "status": row.status,
                "key": row.key,
                "attempts": row.attempts,
                "run_at": row.run_at.isoformat(),
                "last_error": row.last_error,
                "payload": row.payload,
            }
            typer.echo(json.dumps(line, ensure_ascii=False))
        typer.echo(json.dumps(counts(session)), err=True)


@jobs_app.command("retry")
def retry_cmd(
    job_id: int = typer.Argument(None, help="A dead job's id."),
    all_dead: bool = typer.Option(False, "--all", help="Retry every dead job."),
) -> None:
    """Give dead-lettered jobs a fresh set of attempts (after fixing what made them fail)."""
    from kefu.core.db import get_database
    from kefu.core.jobs import retry

    if job_id is None and not all_dead:
        typer.echo("give a job id or --all", err=True)
        raise typer.Exit(2)
    with get_database().session() as session:
        n = retry(session, None if all_dead else job_id)
    typer.echo(f"requeued {n} job(s)")
    if n == 0 and not all_dead:
        raise typer.Exit(1)


@jobs_app.command("run")
def run_cmd(limit: int = typer.Option(1000, min=1)) -> None:
    """Run the jobs that are due now in this process, then exit (maintenance, cron, debugging)."""
    from kefu.bootstrap import wire
    from kefu.core.config import get_settings
    from kefu.core.db import DATABASE
    from kefu.core.jobs import run_due

    wired = wire(get_settings())
    typer.echo(f"ran {run_due(wired.get(DATABASE).sessionmaker, 'cli', limit)} job(s)")
