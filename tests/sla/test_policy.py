"""Tests for kefu.sla.policy: matching, seed policies, deadlines, warnings, pauses, escalation."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from kefu.sla.calendar import BusinessCalendar, SlaDuration, default_calendars
from kefu.sla.policy import (
    DEFAULT_ESCALATION_LEVELS,
    DEFAULT_POLICIES,
    ESCALATION_LEVEL_LABELS,
    Deadline,
    EscalationLadder,
    SlaPolicy,
    Target,
    compute_deadlines,
    escalation_level,
    match_policy,
)

TW = ZoneInfo("Asia/Taipei")
CALENDARS = default_calendars()
POLICIES = {p.name: p for p in DEFAULT_POLICIES}


def tw(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TW)


def deadlines(name: str, opened: datetime, **kwargs: object) -> dict[str, Deadline]:
    return compute_deadlines(POLICIES[name], CALENDARS, opened, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("minutes", SlaDuration(90, "calendar_minutes")),
        ("hours", SlaDuration(90 * 60, "calendar_minutes")),
        ("business_minutes", SlaDuration(90, "business_minutes")),
        ("business_hours", SlaDuration(90 * 60, "business_minutes")),
        ("business_days", SlaDuration(90, "business_days")),
        ("calendar_days", SlaDuration(90, "calendar_days")),
    ],
)
def test_target_units(unit: str, expected: SlaDuration) -> None:
    assert Target.model_validate({"kind": "resolution", "amount": 90, "unit": unit}).duration() == expected


def test_target_validation() -> None:
    with pytest.raises(ValidationError):
        Target(kind="resolution", amount=0, unit="minutes")
    with pytest.raises(ValidationError):
        Target.model_validate({"kind": "resolution", "amount": 5, "unit": "fortnights"})
    with pytest.raises(ValidationError, match="label"):
        Target(kind="milestone", amount=5, unit="hours")
    assert Target(kind="milestone", amount=5, unit="hours", label="task_force").key == "task_force"
    assert Target(kind="resolution", amount=5, unit="hours", label="x").key == "resolution"


def test_policy_validation() -> None:
    fr = Target(kind="first_response", amount=5, unit="minutes")
    with pytest.raises(ValidationError, match="not both"):
        SlaPolicy(name="p", targets=[fr], warn_before_percent=10, warn_before_minutes=5)
    with pytest.raises(ValidationError, match="several targets"):
        SlaPolicy(name="p", targets=[fr, fr])
    with pytest.raises(ValidationError):
        SlaPolicy(name="p", targets=[])
    with pytest.raises(ValidationError):
        SlaPolicy(name="p", targets=[fr], warn_before_percent=100)
    with pytest.raises(ValidationError, match="empty list"):
        SlaPolicy(name="p", targets=[fr], conditions={"channel": []})


def test_policies_round_trip_through_json() -> None:
    for policy in DEFAULT_POLICIES:
        assert SlaPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_default_ladder() -> None:
    assert EscalationLadder().levels == list(DEFAULT_ESCALATION_LEVELS)
    assert [ESCALATION_LEVEL_LABELS[lvl] for lvl in DEFAULT_ESCALATION_LEVELS] == [
        "用户",
        "客服组长",
        "质量监督员",
        "部门总监",
        "总经理",
    ]


# --------------------------------------------------------------------------- matching


class Channel(enum.Enum):
    LETTER = "letter"


def _policy(name: str, **conditions: str | list[str]) -> SlaPolicy:
    return SlaPolicy(
        name=name, conditions=conditions, targets=[Target(kind="first_response", amount=5, unit="minutes")]
    )


def test_match_policy_specificity_and_order() -> None:
    generic = _policy("generic")
    cat = _policy("cat", category="complaint")
    cat2 = _policy("cat-again", category="complaint")
    vip = _policy("vip", category="complaint", tier=["vip", "gold"])
    chan = _policy("chan", category="complaint", channel="line")
    policies = [generic, cat, cat2, vip, chan]
    assert match_policy(policies, {"category": "complaint"}) is cat  # tie → earlier
    assert match_policy(policies, {"category": "Complaint ", "tier": "GOLD"}) is vip  # case-insensitive
    assert match_policy(policies, {"category": "complaint", "tier": "vip", "channel": "line"}) is vip  # tie
    assert match_policy(policies, {"category": "complaint", "channel": "line"}) is chan
    assert match_policy(policies, {"category": "billing"}) is generic
    assert match_policy(policies, {"category": None}) is generic
    assert match_policy([cat, vip], {"tier": "vip"}) is None
    assert match_policy([], {"category": "complaint"}) is None
    assert match_policy([_policy("letter", channel="letter")], {"channel": Channel.LETTER}) is not None


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        ({"category": "account_anomaly"}, "security.account_anomaly"),
        ({"category": "payment_failure", "tier": "ecommerce_b2c"}, "finance.payment_failure"),
        ({"category": "system_failure", "priority": "low"}, "ops.system_failure"),
        ({"category": "complaint"}, "complaint.default"),
        ({"category": "complaint", "complaint_level": "normal"}, "complaint.normal"),
        ({"category": "complaint", "complaint_level": "dispute"}, "complaint.dispute"),
        ({"category": "complaint", "complaint_level": "major", "channel": "letter"}, "complaint.major"),
        ({"category": "complaint", "channel": "letter"}, "complaint.written"),
        ({"category": "regulator_letter"}, "regulator.official_letter"),
        ({"category": "question", "tier": "ecommerce_b2c"}, "ecommerce.b2c"),
        ({"category": "question"}, "default"),
        ({}, "default"),
    ],
)
def test_seed_matching(attrs: dict[str, str], expected: str) -> None:
    policy = match_policy(DEFAULT_POLICIES, attrs)
    assert policy is not None
    assert policy.name == expected


def test_seed_metadata() -> None:
    assert (
        POLICIES["security.account_anomaly"].sets_priority,
        POLICIES["security.account_anomaly"].team,
    ) == (
        "urgent",
        "security_center",
    )
    assert (POLICIES["finance.payment_failure"].sets_priority, POLICIES["finance.payment_failure"].team) == (
        "high",
        "finance",
    )
    assert (POLICIES["complaint.default"].sets_priority, POLICIES["complaint.default"].team) == (
        "medium",
        "content_review",
    )
    assert (POLICIES["ops.system_failure"].sets_priority, POLICIES["ops.system_failure"].team) == (
        "urgent",
        "ops",
    )
    for policy in DEFAULT_POLICIES:
        assert policy.calendar in CALENDARS


# --------------------------------------------------------------------------- seed deadlines


def test_seed_system_failure_5_minutes_and_status_updates() -> None:
    opened = tw(2026, 1, 10, 3)  # Saturday 03:00: ops is 24x7
    result = deadlines("ops.system_failure", opened)
    assert set(result) == {"first_response"}  # no update/CSAT clock before first response/resolution
    fr = result["first_response"]
    assert fr.due_at == tw(2026, 1, 10, 3, 5)
    assert fr.warn_at == tw(2026, 1, 10, 3, 4)  # 20 % of 5 min before
    assert not fr.business
    updated = deadlines(
        "ops.system_failure",
        opened,
        first_response_at=tw(2026, 1, 10, 3, 4),
        last_update_at=tw(2026, 1, 10, 3, 20),
    )
    assert updated["first_response"].status(tw(2026, 1, 10, 4)) == "met"
    assert updated["next_update"].due_at == tw(2026, 1, 10, 3, 50)
    assert updated["next_update"].started_at == tw(2026, 1, 10, 3, 20)
    only_first = deadlines("ops.system_failure", opened, first_response_at=tw(2026, 1, 10, 3, 4))
    assert only_first["next_update"].due_at == tw(2026, 1, 10, 3, 34)


def test_seed_account_anomaly_15_minutes_overnight() -> None:
    result = deadlines("security.account_anomaly", tw(2026, 2, 15, 23, 50))  # Sunday night, 春節
    assert result["first_response"].due_at == tw(2026, 2, 16, 0, 5)


def test_seed_payment_failure_30_minutes() -> None:
    result = deadlines("finance.payment_failure", tw(2026, 1, 9, 23, 45))
    assert result["first_response"].due_at == tw(2026, 1, 10, 0, 15)
    assert result["first_response"].warn_at == tw(2026, 1, 10, 0, 9)


def test_seed_complaint_2_business_hours() -> None:
    result = deadlines("complaint.default", tw(2026, 1, 9, 17, 30))  # Friday 17:30
    fr = result["first_response"]
    assert fr.due_at == tw(2026, 1, 12, 10, 30)  # 30 min Friday + 90 min Monday
    assert fr.warn_at == tw(2026, 1, 12, 10, 6)  # 24 business minutes before
    assert fr.business and fr.budget_minutes == 120
    normal = deadlines("complaint.normal", tw(2026, 1, 12, 11, 30))
    assert normal["first_response"].due_at == tw(2026, 1, 12, 14, 30)  # over the lunch break


def test_seed_complaint_dispute_8h_closure() -> None:
    result = deadlines("complaint.dispute", tw(2026, 1, 12, 10))
    assert result["first_response"].due_at == tw(2026, 1, 12, 12)
    assert result["resolution"].due_at == tw(2026, 1, 13, 10)
    assert result["resolution"].label is None  # named from its kind in the reader's locale (kefu.sla.labels)


def test_seed_complaint_major_task_force_24h() -> None:
    opened = tw(2026, 1, 12, 10)
    result = deadlines("complaint.major", opened)
    assert result["first_response"].due_at == tw(2026, 1, 12, 12)
    task_force = result["task_force"]
    assert task_force.kind == "milestone"
    assert task_force.due_at == tw(2026, 1, 13, 10)
    formed = deadlines("complaint.major", opened, milestones={"task_force": tw(2026, 1, 13, 9)})
    assert formed["task_force"].status(tw(2026, 1, 14)) == "met"
    assert deadlines("complaint.major", opened)["task_force"].status(tw(2026, 1, 14)) == "breached"


def test_seed_written_complaint_1_and_5_business_days() -> None:
    opened = tw(2026, 2, 13, 16)  # Friday before the Lunar New Year break
    result = deadlines("complaint.written", opened)
    assert result["first_response"].due_at == tw(2026, 2, 23, 16)
    assert result["first_response"].label is None  # named from its kind (kefu.sla.labels)
    # 2/23, 2/24, 2/25, 2/26, (2/27 is the 228 補假), 3/2.
    assert result["resolution"].due_at == tw(2026, 3, 2, 16)
    assert result["resolution"].budget_minutes == 5 * 480
    night = deadlines("complaint.written", tw(2026, 1, 9, 20))  # Friday night
    assert night["first_response"].due_at == tw(2026, 1, 12, 18)  # by the end of Monday
    assert night["resolution"].due_at == tw(2026, 1, 16, 18)


def test_seed_regulator_15_calendar_days() -> None:
    result = deadlines("regulator.official_letter", tw(2026, 1, 12, 10))
    reply = result["resolution"]
    assert reply.due_at == tw(2026, 1, 27, 10)
    assert reply.warn_at == tw(2026, 1, 24, 10)  # warn_before_minutes = 3 days
    assert not reply.business
    assert set(result) == {"resolution"}


def test_seed_ecommerce_b2c_4_business_hours() -> None:
    result = deadlines("ecommerce.b2c", tw(2026, 1, 9, 16))
    assert result["first_response"].due_at == tw(2026, 1, 12, 11)


def test_seed_csat_48h_after_resolution() -> None:
    opened = tw(2026, 1, 9, 10)
    assert "csat_survey" not in deadlines("default", opened)
    result = deadlines("default", opened, resolved_at=tw(2026, 1, 9, 15), pauses=[(tw(2026, 1, 9, 16), None)])
    csat = result["csat_survey"]
    assert csat.due_at == tw(2026, 1, 11, 15)  # calendar time: Sunday is fine; pauses ignored
    assert csat.status(tw(2026, 1, 11, 16)) == "breached"
    sent = deadlines("ops.system_failure", opened, resolved_at=tw(2026, 1, 9, 15), survey_sent_at=tw(2026, 1, 10, 9))
    assert sent["csat_survey"].status(tw(2026, 1, 12)) == "met"


# --------------------------------------------------------------------------- status, pauses


def test_status_lifecycle() -> None:
    fr = deadlines("complaint.default", tw(2026, 1, 12, 9))["first_response"]
    assert fr.due_at == tw(2026, 1, 12, 11)
    assert fr.warn_at == tw(2026, 1, 12, 10, 36)
    assert fr.status(tw(2026, 1, 12, 10)) == "running"
    assert fr.status(tw(2026, 1, 12, 10, 36)) == "warning"
    assert fr.status(tw(2026, 1, 12, 11)) == "warning"  # due instant itself is still on time
    assert fr.status(tw(2026, 1, 12, 11, 1)) == "breached"
    assert fr.breached(tw(2026, 1, 12, 11, 1)) and not fr.breached(tw(2026, 1, 12, 11))
    late = deadlines("complaint.default", tw(2026, 1, 12, 9), first_response_at=tw(2026, 1, 12, 11, 30))
    assert late["first_response"].status(tw(2026, 1, 12, 11, 10)) == "breached"  # replay before reply
    assert late["first_response"].status(tw(2026, 1, 13)) == "missed"
    on_time = deadlines("complaint.default", tw(2026, 1, 12, 9), first_response_at=tw(2026, 1, 12, 10, 50))
    assert on_time["first_response"].status(tw(2026, 1, 13)) == "met"
    assert not on_time["first_response"].warning(tw(2026, 1, 12, 10, 55))
    with pytest.raises(ValueError, match="timezone-aware"):
        fr.status(datetime(2026, 1, 12, 10))


def test_pending_on_customer_pauses_resolution() -> None:
    opened = tw(2026, 1, 12, 10)
    pauses = [(tw(2026, 1, 12, 14), tw(2026, 1, 13, 10))]  # waiting on the customer
    result = deadlines("complaint.dispute", opened, pauses=pauses)
    # 8 business hours: Mon 10-12, 13-14 (3 h) paused, then Tue 10-12, 13-16.
    assert result["resolution"].due_at == tw(2026, 1, 13, 16)
    held = deadlines("complaint.dispute", opened, pauses=[(tw(2026, 1, 12, 14), None)])
    resolution = held["resolution"]
    assert resolution.due_at is None and resolution.paused
    assert resolution.paused_remaining_minutes == 300
    assert resolution.status(tw(2026, 1, 20)) == "paused"
    assert not resolution.breached(tw(2026, 1, 20))
    assert held["first_response"].due_at == tw(2026, 1, 12, 12)  # reached before the pause


def test_warn_respects_pauses() -> None:
    opened = tw(2026, 1, 12, 9)
    result = deadlines("complaint.default", opened, pauses=[(tw(2026, 1, 12, 9, 30), tw(2026, 1, 12, 10))])
    fr = result["first_response"]
    assert fr.due_at == tw(2026, 1, 12, 11, 30)
    assert fr.warn_at == tw(2026, 1, 12, 11, 6)


def test_calendar_lookup() -> None:
    policy = POLICIES["complaint.default"]
    direct = compute_deadlines(policy, CALENDARS["business"], tw(2026, 1, 12, 9))
    assert direct["first_response"].due_at == tw(2026, 1, 12, 11)
    with pytest.raises(ValueError, match="known calendars"):
        compute_deadlines(policy, {"24x7": CALENDARS["24x7"]}, tw(2026, 1, 12, 9))
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadlines(policy, CALENDARS, datetime(2026, 1, 12, 9))
    custom = BusinessCalendar({"name": "business", "timezone": "Asia/Taipei", "mode": "24x7"})
    assert compute_deadlines(policy, {"business": custom}, tw(2026, 1, 12, 17))["first_response"].due_at == tw(
        2026, 1, 12, 19
    )


def test_deadline_times_are_utc() -> None:
    fr = deadlines("complaint.default", tw(2026, 1, 12, 9))["first_response"]
    assert fr.due_at is not None and fr.due_at.tzinfo is UTC
    assert fr.started_at.tzinfo is UTC


# --------------------------------------------------------------------------- escalation


def test_escalation_climbs_after_breach() -> None:
    fr = deadlines("complaint.default", tw(2026, 1, 12, 9))["first_response"]
    due = tw(2026, 1, 12, 11)
    before = escalation_level(fr, tw(2026, 1, 12, 10))
    assert (before.level, before.name, before.next_at) == (0, "agent", due)
    assert escalation_level(fr, due).level == 0
    just_after = escalation_level(fr, due + timedelta(seconds=1))
    assert (just_after.level, just_after.name) == (1, "team_lead")
    assert just_after.next_at == due + timedelta(minutes=60)
    assert escalation_level(fr, due + timedelta(minutes=60)).level == 1
    assert escalation_level(fr, due + timedelta(minutes=61)).name == "qa_supervisor"
    assert escalation_level(fr, due + timedelta(minutes=121)).name == "director"
    top = escalation_level(fr, due + timedelta(days=3))
    assert (top.level, top.name, top.next_at) == (4, "general_manager", None)


def test_escalation_variants() -> None:
    fr = deadlines("complaint.default", tw(2026, 1, 12, 9), first_response_at=tw(2026, 1, 12, 11, 45))["first_response"]
    frozen = escalation_level(fr, tw(2026, 1, 20))
    assert (frozen.level, frozen.next_at) == (1, None)  # met 45 min late: stays at team lead
    running = deadlines("complaint.default", tw(2026, 1, 12, 9))["first_response"]
    warn_ladder = EscalationLadder(trigger="warn", climb_every_minutes=10)
    assert escalation_level(running, tw(2026, 1, 12, 10, 37), warn_ladder).level == 1
    assert escalation_level(running, tw(2026, 1, 12, 10, 47), warn_ladder).level == 2
    once = EscalationLadder(levels=["agent", "lead", "boss"], climb_every_minutes=None)
    after = escalation_level(running, tw(2026, 1, 15), once)
    assert (after.level, after.name, after.next_at) == (1, "lead", None)
    solo = EscalationLadder(levels=["agent"])
    assert escalation_level(running, tw(2026, 1, 15), solo) == escalation_level(running, tw(2026, 1, 12), solo)
    held = deadlines("complaint.dispute", tw(2026, 1, 12, 10), pauses=[(tw(2026, 1, 12, 14), None)])
    assert escalation_level(held["resolution"], tw(2026, 2, 1)).level == 0
    with pytest.raises(ValidationError):
        EscalationLadder(levels=[])
    policy_ladder = POLICIES["complaint.default"].escalation
    assert escalation_level(running, tw(2026, 1, 12, 12), policy_ladder).level == 1
