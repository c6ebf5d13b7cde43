"""Data migrations of #17 on an existing install: stored calendars move to the all-years holiday sets (1700) and
brands with the seed policies get the default tier's policy (1702)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.migration_rows import brand

CALENDAR = (
    "INSERT INTO sla_calendars (brand_id, team_id, name, config, created_at, updated_at)"
    " VALUES (1, NULL, 'business', :cfg, '2026-01-01', '2026-01-01')"
)
POLICY = (
    "INSERT INTO sla_policies (brand_id, name, position, is_active, definition, created_at, updated_at)"
    " VALUES (1, 'default', 110, 1, '{}', '2026-01-01', '2026-01-01')"
)


def test_existing_install_gets_region_holidays_and_the_standard_tier(tmp_path: Path) -> None:
    from kefu.core.migrate import downgrade, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    downgrade(url, "0501")  # the SLA branch as it was before #17 (other branches stay at their heads)
    eng = create_engine(url)
    with eng.begin() as c:
        brand(c, now="2026-01-01")
        cfg = json.dumps({"timezone": "Asia/Taipei", "holiday_sets": ["tw_2026", "cn_2026"]})
        c.execute(text(CALENDAR), {"cfg": cfg})
        c.execute(text(POLICY))
    upgrade(url)
    with eng.connect() as c:
        config = json.loads(c.execute(text("SELECT config FROM sla_calendars")).scalar_one())
        assert config["holiday_sets"] == ["tw", "cn"]
        rows = c.execute(text("SELECT name, position, definition FROM sla_policies ORDER BY position")).all()
        assert [(r[0], r[1]) for r in rows] == [("standard", 105), ("default", 110)]
        assert json.loads(rows[0][2])["conditions"] == {"tier": "standard"}
    upgrade(url)  # idempotent: heads reached, nothing added twice
    eng.dispose()
