"""SLA targets are named from their structured values in the reader's locale, never from a stored English label."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kefu.sla.labels import duration_text, snapshot_targets, target_name, target_text
from kefu.sla.policy import DEFAULT_POLICIES


def test_names_and_durations_per_locale() -> None:
    first = {"kind": "first_response", "amount": 8, "unit": "business_hours", "label": "reply within 1 business day"}
    assert target_text(first, "zh-TW") == "首次回覆：上班時間 8 小時內"
    assert target_text(first, "zh-CN") == "首次响应：8 个工作小时内"
    assert target_text(first, "en") == "First response: within 8 business hours"
    assert duration_text(1, "business_days", "en") == "1 business day"
    assert duration_text(15, "calendar_days", "zh-TW") == "15 個日曆天"
    assert target_name("milestone", "task_force", "zh-CN") == "成立专项小组"
    assert target_name("milestone", "identity_verified", "en") == "Identity verified"
    assert target_name("milestone", "callback_made", "zh-TW") == "callback made"  # an admin's own key, as typed


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_every_seed_target_has_a_name_in_every_locale(locale: str) -> None:
    """No seed target falls back to an internal key or to English in a Chinese page."""
    for policy in DEFAULT_POLICIES:
        for t in policy.targets:
            spec: dict[str, Any] = t.model_dump()
            text = target_text(spec, locale)
            assert "_" not in text and not text.startswith(t.key), (policy.name, text)
            if locale != "en":
                assert not any("a" <= ch.lower() <= "z" for ch in text.replace("B2C", "")), (policy.name, text)
            assert t.kind == "milestone" or t.label is None, f"{policy.name}: seed labels are one language"


def test_snapshot_targets_by_key() -> None:
    policy = next(p for p in DEFAULT_POLICIES if p.name == "complaint.major")
    specs = snapshot_targets(policy.model_dump())
    assert set(specs) == {"first_response", "task_force", "csat_survey"}
    assert target_text(specs["task_force"], "zh-TW") == "成立專案小組：24 小時內"


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_seed_policies_are_described_in_the_brand_language(db: Any, make: Any, locale: str) -> None:
    from sqlalchemy import select

    from kefu.sla.models import SlaPolicyRecord
    from kefu.sla.service import install_defaults

    brand = make.brand(default_locale=locale)
    install_defaults(db, brand.id, None)
    rows = db.scalars(select(SlaPolicyRecord).where(SlaPolicyRecord.brand_id == brand.id)).all()
    assert len(rows) == len(DEFAULT_POLICIES)
    for row in rows:
        text = row.definition["description"]
        assert text, row.name
        if locale != "en":
            assert not re.search(r"[a-z]{4,}", text.replace("B2C", "")), (row.name, text)
        else:
            assert not re.search(r"[\u4e00-\u9fff]", text), (row.name, text)
