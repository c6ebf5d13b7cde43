"""`kefu quality plan --brand X --quarter 2026Q4 [--dry-run]` (#17): drafts the quarter's plan from the previous
quarter's top causes, prints the summary it was based on and the plan's progress; a dry run writes nothing."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from tests.test_cli import cli_db as cli_db


def _seed() -> int:
    from kefu.brands.service import create_brand
    from kefu.core.db import get_database
    from kefu.quality.commands import AttributeFeedback
    from kefu.quality.service import attribute
    from tests.quality.helpers import World, utc

    class Make:  # the bits of the test factory World needs, on the CLI's own database
        def __init__(self, s: Any) -> None:
            self.s = s

        def customer(self, brand: Any, **kw: Any) -> Any:
            from kefu.customers.service import create_customer

            return create_customer(self.s, brand_id=brand.id, actor=None, **kw)

    with get_database().session() as s:
        brand = create_brand(s, slug="orange", name="Orange", timezone="Asia/Taipei")
        w = World(s, Make(s), brand)
        for cause, n in (("product", 3), ("process", 1), ("system", 2), ("policy", 1)):
            for _ in range(n):
                row = w.csat(utc(2026, 8, 1, 4), 1)
                attribute(s, None, AttributeFeedback(source="csat", source_id=row.id, cause_key=cause))
        return int(brand.id)


def test_cli_drafts_the_plan_from_last_quarters_top_causes(cli_db: str) -> None:
    from sqlalchemy import func, select

    from kefu.cli import app
    from kefu.core.db import get_database
    from kefu.quality.models import QualityPlan, QualityPlanItem

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    brand_id = _seed()

    dry = runner.invoke(app, ["quality", "plan", "--brand", "orange", "--quarter", "2026Q4", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "based on 2026Q3: 7 negative feedback items, 7 attributed" in dry.output
    assert "would add 3 item(s)" in dry.output
    assert [line.split("]")[0].strip() for line in dry.output.splitlines() if line.startswith("  [")] == [
        "[product", "[system", "[policy",
    ]  # fmt: skip
    with get_database().session() as s:
        assert s.scalar(select(func.count(QualityPlan.id))) == 0

    real = runner.invoke(app, ["quality", "plan", "--brand", str(brand_id), "--quarter", "2026Q4", "--top", "2"])
    assert real.exit_code == 0, real.output
    assert "added 2 item(s)" in real.output and "2 items, 0 completed, 0 on time (0%), 0 overdue" in real.output
    again = runner.invoke(app, ["quality", "plan", "--brand", "orange", "--quarter", "2026Q4"])
    assert "added 1 item(s)" in again.output and "[policy]" in again.output  # tops up with the next cause
    with get_database().session() as s:
        assert s.scalar(select(func.count(QualityPlanItem.id))) == 3

    assert runner.invoke(app, ["quality", "plan", "--brand", "nope", "--quarter", "2026Q4"]).exit_code == 2
    bad = runner.invoke(app, ["quality", "plan", "--brand", "orange", "--quarter", "2026Q5"])
    assert bad.exit_code == 2 and "2026Q5" in bad.output
