"""SLA policies: targets, matching, deadline computation and escalation ladders (pure, DB-free).

Rules:

* Matching: a policy matches when every ``conditions`` entry (category, priority, tier,
  channel, complaint_level…) equals the ticket attribute (case-insensitive; a list means
  any of its values); attributes a policy does not mention match anything.  The policy
  with the most conditions wins; ties go to the earlier policy.
* Clocks: ``first_response``, ``resolution`` and ``milestone`` targets run from opening;
  ``next_update`` from the latest of first response / last update (absent before the
  first response, met by resolution); ``csat_survey`` from resolution (absent before it,
  pauses ignored, met by the survey being sent).  ``minutes``/``hours``/``calendar_days``
  are wall-clock, ``business_*`` run only while the policy's calendar is open.
* Warnings fire ``warn_before_percent`` of the target's clock budget, or
  ``warn_before_minutes`` clock minutes (business minutes for business targets), before
  the deadline, honouring pauses.
* Breach: unmet after ``due_at`` (the due instant itself is still on time), or met late.
* Escalation: level 0 until the trigger instant (breach, or warning), level 1 just after
  it, then one more level per ``climb_every_minutes`` of wall-clock time, capped at the
  top; frozen at the level reached when the target is met.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.sla.calendar import BusinessCalendar, Pause, SlaDuration

__all__ = [
    "DEFAULT_ESCALATION_LEVELS",
    "DEFAULT_POLICIES",
    "DEFAULT_SERVICE_TIER",
    "ESCALATION_LEVEL_LABELS",
    "SECURITY_LADDER",
    "SERVICE_TIERS",
    "Deadline",
    "DeadlineStatus",
    "Escalation",
    "EscalationLadder",
    "SlaPolicy",
    "Target",
    "TargetKind",
    "TargetUnit",
    "compute_deadlines",
    "escalation_level",
    "match_policy",
]

TargetKind = Literal["first_response", "next_update", "resolution", "csat_survey", "milestone"]
TargetUnit = Literal["minutes", "hours", "business_minutes", "business_hours", "business_days", "calendar_days"]
DeadlineStatus = Literal["running", "warning", "breached", "paused", "met", "missed"]

DEFAULT_ESCALATION_LEVELS: tuple[str, ...] = (
    "agent",
    "team_lead",
    "qa_supervisor",
    "director",
    "general_manager",
)
ESCALATION_LEVEL_LABELS: dict[str, str] = {
    "agent": "用户",
    "team_lead": "客服组长",
    "qa_supervisor": "质量监督员",
    "director": "部门总监",
    "general_manager": "总经理",
}


def _utc(value: datetime, what: str) -> datetime:
    """Reject naive datetimes and normalise aware ones to UTC."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _opt_utc(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else _utc(value, what)


class Target(BaseModel):
    """One SLA target, e.g. first response within 30 business minutes (milestones need a label)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: TargetKind
    amount: int = Field(gt=0)
    unit: TargetUnit
    label: str | None = None

    @model_validator(mode="after")
    def _milestone_needs_label(self) -> Target:
        if self.kind == "milestone" and not self.label:
            raise ValueError("a milestone target needs a label (it is the milestone's key)")
        return self

    @property
    def key(self) -> str:
        """Key in ``compute_deadlines`` output: the kind, or the label for milestones."""
        if self.kind == "milestone" and self.label:
            return self.label
        return self.kind

    def duration(self) -> SlaDuration:
        """The calendar-level clock amount this target stands for."""
        if self.unit == "minutes":
            return SlaDuration(self.amount, "calendar_minutes")
        if self.unit == "hours":
            return SlaDuration(self.amount * 60, "calendar_minutes")
        if self.unit == "business_minutes":
            return SlaDuration(self.amount, "business_minutes")
        if self.unit == "business_hours":
            return SlaDuration(self.amount * 60, "business_minutes")
        if self.unit == "business_days":
            return SlaDuration(self.amount, "business_days")
        return SlaDuration(self.amount, "calendar_days")


class EscalationLadder(BaseModel):
    """Who a late ticket escalates to and when it climbs a level (see module rules)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: list[str] = Field(default_factory=lambda: list(DEFAULT_ESCALATION_LEVELS), min_length=1)
    trigger: Literal["breach", "warn"] = "breach"
    climb_every_minutes: int | None = Field(default=60, gt=0)


ConditionValue = str | list[str]


def _norm(value: object) -> str:
    # Why: admins type "Urgent" while code sends enums/lowercase; compare loosely.
    return str(getattr(value, "value", value)).strip().casefold()


class SlaPolicy(BaseModel):
    """Targets, warning lead and calendar for tickets whose attributes match ``conditions``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    conditions: dict[str, ConditionValue] = Field(default_factory=dict)
    targets: list[Target] = Field(min_length=1)
    warn_before_percent: float | None = Field(default=None, gt=0, lt=100)
    warn_before_minutes: int | None = Field(default=None, gt=0)
    calendar: str = "business"
    sets_priority: str | None = None
    team: str | None = None
    escalation: EscalationLadder = Field(default_factory=EscalationLadder)
    description: str = ""

    @field_validator("conditions")
    @classmethod
    def _non_empty_lists(cls, value: dict[str, ConditionValue]) -> dict[str, ConditionValue]:
        for key, cond in value.items():
            if isinstance(cond, list) and not cond:
                raise ValueError(f"condition {key!r} has an empty list of values")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SlaPolicy:
        if self.warn_before_percent is not None and self.warn_before_minutes is not None:
            raise ValueError("set warn_before_percent or warn_before_minutes, not both")
        keys = [t.key for t in self.targets]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"policy {self.name!r} has several targets for {dupes}")
        return self

    @property
    def specificity(self) -> int:
        """Number of constrained attributes; more specific policies win matching."""
        return len(self.conditions)

    def matches(self, attrs: Mapping[str, object]) -> bool:
        """True if every condition is satisfied by ``attrs`` (case-insensitive)."""
        for key, cond in self.conditions.items():
            value = attrs.get(key)
            if value is None:
                return False
            wanted = _norm(value)
            if not any(wanted == _norm(c) for c in (cond if isinstance(cond, list) else [cond])):
                return False
        return True


def match_policy(policies: Iterable[SlaPolicy], attrs: Mapping[str, object]) -> SlaPolicy | None:
    """Most specific matching policy (most conditions); ties go to the earlier policy."""
    best: SlaPolicy | None = None
    for policy in policies:
        if policy.matches(attrs) and (best is None or policy.specificity > best.specificity):
            best = policy
    return best


class Deadline(BaseModel):
    """A computed SLA deadline; ``due_at`` is ``None`` while an open-ended pause holds the clock."""

    model_config = ConfigDict(frozen=True)

    kind: TargetKind
    key: str
    label: str | None = None
    business: bool
    started_at: datetime
    budget_minutes: float
    due_at: datetime | None
    warn_at: datetime | None = None
    met_at: datetime | None = None
    paused_remaining_minutes: float | None = None

    @property
    def paused(self) -> bool:
        """True while the clock is stopped by an open-ended pause."""
        return self.due_at is None

    def _met_by(self, now: datetime) -> datetime | None:
        # Why: met_at in the future of `now` means "not yet met" when replaying history.
        return self.met_at if self.met_at is not None and self.met_at <= now else None

    def breached(self, now: datetime) -> bool:
        """True if the target was missed (met late, or still unmet after ``due_at``)."""
        now = _utc(now, "now")
        if self.due_at is None:
            return False
        met = self._met_by(now)
        return (met if met is not None else now) > self.due_at

    def warning(self, now: datetime) -> bool:
        """True if unmet, not yet breached, and past ``warn_at``."""
        now = _utc(now, "now")
        if self._met_by(now) is not None or self.warn_at is None or self.breached(now):
            return False
        return now >= self.warn_at

    def status(self, now: datetime) -> DeadlineStatus:
        """One of running, warning, breached, paused, met, missed."""
        now = _utc(now, "now")
        if self._met_by(now) is not None:
            return "missed" if self.breached(now) else "met"
        if self.due_at is None:
            return "paused"
        if self.breached(now):
            return "breached"
        return "warning" if self.warning(now) else "running"


class Escalation(BaseModel):
    """Current escalation level; the ticket climbs again once ``now`` passes ``next_at``."""

    model_config = ConfigDict(frozen=True)

    level: int
    name: str
    next_at: datetime | None


def _pick_calendar(policy: SlaPolicy, calendar: BusinessCalendar | Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    if isinstance(calendar, BusinessCalendar):
        return calendar
    try:
        return calendar[policy.calendar]
    except KeyError:
        raise ValueError(
            f"policy {policy.name!r} uses calendar {policy.calendar!r}; known calendars: {sorted(calendar)}"
        ) from None


def _one_deadline(
    policy: SlaPolicy,
    cal: BusinessCalendar,
    target: Target,
    start: datetime,
    met_at: datetime | None,
    pauses: Sequence[Pause],
) -> Deadline:
    duration = target.duration()
    budget = cal.target_minutes(start, duration)
    due = cal.deadline_with_pauses(start, duration, pauses)
    lead: float | None = None
    if policy.warn_before_percent is not None:
        lead = budget * policy.warn_before_percent / 100
    elif policy.warn_before_minutes is not None:
        lead = float(policy.warn_before_minutes)
    warn_at = None
    if lead is not None:
        # Warnings use the target's own clock: business minutes for business targets.
        unit: Literal["business_minutes", "calendar_minutes"] = (
            "business_minutes" if duration.business else "calendar_minutes"
        )
        warn_at = cal.deadline_with_pauses(start, SlaDuration(max(budget - lead, 0.0), unit), pauses)
    remaining = None
    if due is None:
        held_from = min(p[0] for p in pauses if p[1] is None)
        remaining = budget - cal.elapsed_minutes(start, held_from, pauses, business=duration.business)
    return Deadline(
        kind=target.kind,
        key=target.key,
        label=target.label,
        business=duration.business,
        started_at=start,
        budget_minutes=budget,
        due_at=due,
        warn_at=warn_at,
        met_at=met_at,
        paused_remaining_minutes=remaining,
    )


def compute_deadlines(
    policy: SlaPolicy,
    calendar: BusinessCalendar | Mapping[str, BusinessCalendar],
    opened_at: datetime,
    pauses: Sequence[Pause] = (),
    first_response_at: datetime | None = None,
    last_update_at: datetime | None = None,
    *,
    resolved_at: datetime | None = None,
    survey_sent_at: datetime | None = None,
    milestones: Mapping[str, datetime] | None = None,
) -> dict[str, Deadline]:
    """Deadlines of the started targets of ``policy``, keyed by ``Target.key`` (see module rules)."""
    cal = _pick_calendar(policy, calendar)
    opened = _utc(opened_at, "opened_at")
    first = _opt_utc(first_response_at, "first_response_at")
    last = _opt_utc(last_update_at, "last_update_at")
    resolved = _opt_utc(resolved_at, "resolved_at")
    surveyed = _opt_utc(survey_sent_at, "survey_sent_at")
    reached = {k: _utc(v, f"milestones[{k!r}]") for k, v in (milestones or {}).items()}
    pause_list = list(pauses)
    out: dict[str, Deadline] = {}
    for target in policy.targets:
        start: datetime = opened
        met: datetime | None
        clock_pauses: Sequence[Pause] = pause_list
        if target.kind == "first_response":
            met = first
        elif target.kind == "next_update":
            anchors = [a for a in (first, last) if a is not None]
            if not anchors:
                continue
            start, met = max(anchors), resolved
        elif target.kind == "resolution":
            met = resolved
        elif target.kind == "csat_survey":
            if resolved is None:
                continue
            start, met, clock_pauses = resolved, surveyed, ()
        else:
            met = reached.get(target.key)
        out[target.key] = _one_deadline(policy, cal, target, start, met, clock_pauses)
    return out


def escalation_level(deadline: Deadline, now: datetime, ladder: EscalationLadder | None = None) -> Escalation:
    """Escalation level of ``deadline`` at ``now`` (frozen once the target is met)."""
    ladder = ladder or EscalationLadder()
    now = _utc(now, "now")
    top = len(ladder.levels) - 1
    trigger = deadline.due_at
    if ladder.trigger == "warn" and deadline.warn_at is not None:
        trigger = deadline.warn_at
    met = deadline.met_at if deadline.met_at is not None and deadline.met_at <= now else None
    if trigger is None:
        return Escalation(level=0, name=ladder.levels[0], next_at=None)
    at = met if met is not None else now
    if at <= trigger:
        nxt = None if met is not None or top == 0 else trigger
        return Escalation(level=0, name=ladder.levels[0], next_at=nxt)
    if ladder.climb_every_minutes is None:
        level = 1
    else:
        step = timedelta(minutes=ladder.climb_every_minutes)
        level = -(-(at - trigger) // step)  # ceil: a climb happens just after each step
    level = min(level, top)
    nxt = None
    if met is None and level < top and ladder.climb_every_minutes is not None:
        nxt = trigger + level * timedelta(minutes=ladder.climb_every_minutes)
    return Escalation(level=level, name=ladder.levels[level], next_at=nxt)


# --------------------------------------------------------------------------- seed policies
# Seed examples from the requirements.  Interpretation choices (admins can change them):
# incident queues (ops, security, finance) are wall-clock on the 24x7 calendar because
# outages and fraud do not wait for office hours; complaint and e-commerce response times
# are business hours on the Taipei business calendar; the 政府機關/消保官 deadline is calendar
# days as regulators count them; "major complaint → task force within 24 h" is a named
# milestone rather than a resolution target, since forming the team does not close the case;
# written complaints use the upper bound (5 business days) of the 3-5 day range; the
# 30-minute status-update rule applies to the incident queues.

# Service tiers a brand chooses from (brand setting ``sla_tier``; admin → Brands). Every ticket of the brand carries
# the tier as its ``tier`` attribute (a ticket's own ``tier`` custom field overrides it), so the tier's policy gives
# ordinary tickets a reply deadline. Brands that never chose one are on DEFAULT_SERVICE_TIER.
SERVICE_TIERS: dict[str, str] = {
    "standard": "一般：1 個工作天內回覆 / Standard: reply within 1 business day",
    "ecommerce_b2c": "電商 B2C：4 個工作小時內回覆 / E-commerce B2C: reply within 4 business hours",
}
DEFAULT_SERVICE_TIER = "standard"

_STATUS_UPDATES = Target(kind="next_update", amount=30, unit="minutes")
_CSAT = Target(kind="csat_survey", amount=48, unit="hours")

# 賬號安全事件處置 (003 §3.2): each step of the ladder is a milestone recorded by kefu.account_security; wall-clock
# minutes from the report, like the account-anomaly first response.
SECURITY_LADDER: tuple[Target, ...] = (
    Target(kind="milestone", amount=10, unit="minutes", label="intervene"),
    Target(kind="milestone", amount=15, unit="minutes", label="freeze"),
    Target(kind="milestone", amount=30, unit="minutes", label="identity_verified"),
    Target(kind="milestone", amount=60, unit="minutes", label="repaired"),
)

DEFAULT_POLICIES: tuple[SlaPolicy, ...] = (
    SlaPolicy(
        name="ops.system_failure",
        description="系統故障 → urgent, ops, respond within 5 min, status every 30 min (24x7)",
        conditions={"category": "system_failure"},
        sets_priority="urgent",
        team="ops",
        calendar="24x7",
        targets=[Target(kind="first_response", amount=5, unit="minutes"), _STATUS_UPDATES, _CSAT],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="security.account_anomaly",
        description=(
            "帳號異常 → urgent, security center, respond within 15 min; intervene 10 min, freeze 15 min, "
            "identity verified 30 min, repaired 1 h (24x7)"
        ),
        conditions={"category": "account_anomaly"},
        sets_priority="urgent",
        team="security_center",
        calendar="24x7",
        targets=[Target(kind="first_response", amount=15, unit="minutes"), *SECURITY_LADDER, _STATUS_UPDATES, _CSAT],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="finance.payment_failure",
        description="支付失敗 → high, finance, respond within 30 min (24x7)",
        conditions={"category": "payment_failure"},
        sets_priority="high",
        team="finance",
        calendar="24x7",
        targets=[Target(kind="first_response", amount=30, unit="minutes"), _STATUS_UPDATES, _CSAT],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="complaint.dispute",
        description="爭議投訴 → respond within 2 business hours, close within 8 business hours",
        conditions={"category": "complaint", "complaint_level": "dispute"},
        sets_priority="medium",
        team="content_review",
        targets=[
            Target(kind="first_response", amount=2, unit="business_hours"),
            Target(kind="resolution", amount=8, unit="business_hours"),
            _CSAT,
        ],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="complaint.major",
        description="重大投訴 → respond within 2 business hours, task force formed within 24 h",
        conditions={"category": "complaint", "complaint_level": "major"},
        sets_priority="medium",
        team="content_review",
        targets=[
            Target(kind="first_response", amount=2, unit="business_hours"),
            Target(kind="milestone", amount=24, unit="hours", label="task_force"),
            _CSAT,
        ],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="complaint.normal",
        description="一般投訴 → respond within 2 business hours",
        conditions={"category": "complaint", "complaint_level": "normal"},
        sets_priority="medium",
        team="content_review",
        targets=[Target(kind="first_response", amount=2, unit="business_hours"), _CSAT],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="complaint.written",
        description="書面申訴 → acknowledge within 1 business day, full reply within 5 business days",
        conditions={"category": "complaint", "channel": "letter"},
        sets_priority="medium",
        team="content_review",
        targets=[
            Target(kind="first_response", amount=1, unit="business_days"),
            Target(kind="resolution", amount=5, unit="business_days"),
            _CSAT,
        ],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="complaint.default",
        description="投訴 → medium, content review, respond within 2 business hours",
        conditions={"category": "complaint"},
        sets_priority="medium",
        team="content_review",
        targets=[Target(kind="first_response", amount=2, unit="business_hours"), _CSAT],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="regulator.official_letter",
        description="政府機關/消保官來函 → full reply within 15 calendar days",
        conditions={"category": "regulator_letter"},
        sets_priority="high",
        targets=[Target(kind="resolution", amount=15, unit="calendar_days")],
        warn_before_minutes=3 * 24 * 60,
    ),
    SlaPolicy(
        name="ecommerce.b2c",
        description="電商 B2C → reply within 4 business hours",
        conditions={"tier": "ecommerce_b2c"},
        targets=[Target(kind="first_response", amount=4, unit="business_hours"), _CSAT],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="standard",
        description="一般案件 → 1 個工作天內回覆 (default service tier)",
        conditions={"tier": "standard"},
        targets=[
            Target(kind="first_response", amount=8, unit="business_hours"),
            _CSAT,
        ],
        warn_before_percent=20,
    ),
    SlaPolicy(
        name="default",
        description="every ticket: CSAT survey within 48 h of resolution",
        conditions={},
        targets=[_CSAT],
    ),
)
