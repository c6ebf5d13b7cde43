"""`kefu kb import|export`: the bulk knowledge-base service from the command line."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

kb_app = typer.Typer(help="Knowledge base: bulk import and export (CSV or JSON).", no_args_is_help=True)


def _brand_id(session: object, slug: str) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kefu.brands.models import Brand

    assert isinstance(session, Session)
    bid = session.scalar(select(Brand.id).where(Brand.slug == slug))
    if bid is None:
        raise typer.BadParameter(f"unknown brand {slug!r}", param_hint="--brand")
    return int(bid)


@kb_app.command("import")
def kb_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or JSON file.")],
    brand: Annotated[str, typer.Option("--brand", help="Brand slug.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count only; write nothing.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or json (default: from the file).")] = None,
) -> None:
    """Create or update FAQs from a file (idempotent by id and locale); exit 1 when a row is invalid."""
    from kefu.brands.models import Brand
    from kefu.core.db import get_database
    from kefu.core.errors import ProblemError
    from kefu.knowledge import bulk

    data = file.read_bytes()
    started = time.perf_counter()
    try:
        with get_database().session() as session:
            brand_row = session.get(Brand, _brand_id(session, brand))
            assert brand_row is not None
            records = bulk.read_records(data, fmt or bulk.detect_format(file.name, data))
            typer.echo(f"{len(records)} rows read from {file.name}", err=True)
            with typer.progressbar(length=len(records), label="writing", file=sys.stderr) as bar:
                done = [0]

                def progress(i: int, total: int) -> None:
                    bar.update(i - done[0])
                    done[0] = i

                report = bulk.import_faqs(session, None, brand_row, records, dry_run=dry_run, progress=progress)
    except ProblemError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    for e in report.errors:
        where = f"row {e.row}" + (f" (id {e.external_id})" if e.external_id else "")
        typer.echo(f"{where}: {e.field or '-'}: {e.message}", err=True)
    verb = "would create" if dry_run or report.errors else "created"
    typer.echo(
        f"{report.rows} rows: {verb} {report.created}, "
        f"{'would update' if dry_run or report.errors else 'updated'} {report.updated}, "
        f"unchanged {report.unchanged}, {report.phrasings} phrasings, {len(report.errors)} errors"
        f" in {time.perf_counter() - started:.2f}s"
        + (" (dry run, nothing written)" if dry_run else "")
        + (" — nothing imported" if report.errors and not dry_run else "")
    )
    raise typer.Exit(1 if report.errors else 0)


@kb_app.command("export")
def kb_export(
    brand: Annotated[str, typer.Option("--brand", help="Brand slug.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
    locale: Annotated[str | None, typer.Option(help="Only this locale.")] = None,
) -> None:
    """Write a brand's FAQs in the import format."""
    from kefu.core.db import get_database
    from kefu.core.errors import ProblemError
    from kefu.knowledge import bulk

    try:
        with get_database().session() as session:
            text = bulk.export_faqs(session, _brand_id(session, brand), fmt, locale)
    except ProblemError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
