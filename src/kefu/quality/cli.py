"""`kefu quality plan`: draft a brand's quarterly quality improvement plan from the previous quarter's causes."""

from __future__ import annotations

import typer

quality_app = typer.Typer(help="Quality: quarterly improvement plans.", no_args_is_help=True)


@quality_app.command("plan")
def plan_cmd(
    brand: str = typer.Option(..., help="Brand id or slug."),
    quarter: str = typer.Option(..., help="The plan's quarter in the brand's timezone, e.g. 2026Q4."),
    top: int = typer.Option(3, min=1, max=10, help="How many of the previous quarter's top causes get an item."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what the draft would add; write nothing."),
) -> None:
    """Draft (or top up) the quarter's plan: one item per top cause of the previous quarter not yet in it."""
    from sqlalchemy import select

    from kefu.brands.models import Brand
    from kefu.core.db import get_database
    from kefu.core.errors import ProblemError
    from kefu.quality import service
    from kefu.quality.commands import DraftPlan, build

    with get_database().session() as session:
        found = session.scalar(
            select(Brand).where(Brand.id == int(brand)) if brand.isdigit() else select(Brand).where(Brand.slug == brand)
        )
        if found is None:
            typer.echo(f"No brand {brand!r}.", err=True)
            raise typer.Exit(2)
        try:
            cmd = build(DraftPlan, {"brand_id": found.id, "quarter": quarter, "top": top, "dry_run": dry_run})
            draft = service.draft_plan(session, None, cmd)
        except ProblemError as exc:
            typer.echo(exc.detail, err=True)
            raise typer.Exit(2) from None
        s = draft.based_on
        typer.echo(f"{found.slug} {draft.quarter}: based on {s.quarter}: {s.total} negative feedback items, "
                   f"{s.attributed} attributed")  # fmt: skip
        for key, n in s.top(len(s.by_cause)):
            typer.echo(f"  {key}: {n}")
        verb = "would add" if dry_run else "added"
        typer.echo(f"{verb} {len(draft.proposals)} item(s):")
        for p in draft.proposals:
            typer.echo(f"  [{p.cause_key}] {p.title} — due {p.due_date.isoformat()}, {len(p.evidence)} evidence")
        if draft.plan is not None:
            items = service.plan_items(session, draft.plan)
            brand_row = session.get(Brand, draft.plan.brand_id)
            assert brand_row is not None
            pr = service.progress(items, brand_row)
            rate = f"{pr.on_time_rate:.0%}" if pr.on_time_rate is not None else "–"
            typer.echo(
                f"plan #{draft.plan.id}: {pr.total} items, {pr.completed} completed, {pr.on_time} on time ({rate}), "
                f"{pr.overdue} overdue"
            )
        if dry_run:
            session.rollback()  # not even the default causes a first look would create
