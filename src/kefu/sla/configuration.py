"""SLA configuration: business calendars, policies (CRUD, defaults, matching order) and escalation contacts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Team
from kefu.auth.permissions import Principal
from kefu.auth.service import agent_in_brand
from kefu.brands.service import get_brand
from kefu.brands.texts import brand_locale
from kefu.core import configcache
from kefu.core.access import get_in_brand, ref_in_brand
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, InvalidInput
from kefu.sla.calendar import DEFAULT_CALENDAR_CONFIGS, BusinessCalendar, CalendarConfig
from kefu.sla.labels import seed_description
from kefu.sla.models import (
    EscalationContact,
    SlaCalendar,
    SlaPolicyRecord,
)
from kefu.sla.policy import (
    DEFAULT_POLICIES,
    SlaPolicy,
)
from kefu.tickets.models import PRIORITIES, TicketPriority

log = logging.getLogger("kefu.sla")

PRIORITY_RANK: dict[str, int] = {p: i for i, p in enumerate(PRIORITIES)}
# Seed policies speak of "medium"; kefu's scale is low/normal/high/urgent.
PRIORITY_ALIASES = {"medium": "normal", "critical": "urgent"}


def normalize_priority(value: str | None) -> TicketPriority | None:
    """Map policy/rule priority words onto kefu's priorities (None if unknown)."""
    if value is None:
        return None
    v = PRIORITY_ALIASES.get(value.strip().lower(), value.strip().lower())
    return TicketPriority(v) if v in PRIORITY_RANK else None


# --------------------------------------------------------------------------- calendars and policies

_cal_cache: dict[str, BusinessCalendar] = {}
_cal_lock = threading.Lock()


def _calendar(config: CalendarConfig) -> BusinessCalendar:
    # Why: BusinessCalendar caches per-day intervals; reusing instances keeps sweeps fast.
    key = config.model_dump_json()
    with _cal_lock:
        cal = _cal_cache.get(key)
        if cal is None:
            if len(_cal_cache) > 512:
                _cal_cache.clear()
            cal = _cal_cache[key] = BusinessCalendar(config)
        return cal


def calendars_for(session: Session, brand_id: int, team_id: int | None) -> dict[str, BusinessCalendar]:
    """Named calendars for a ticket: built-in defaults, overridden by the brand's, then by its team's; cached."""

    def load() -> dict[str, BusinessCalendar]:
        configs: dict[str, CalendarConfig] = dict(DEFAULT_CALENDAR_CONFIGS)
        stmt = select(SlaCalendar).where(SlaCalendar.brand_id == brand_id)
        stmt = stmt.where(or_(SlaCalendar.team_id.is_(None), SlaCalendar.team_id == team_id))
        rows = sorted(session.scalars(stmt), key=lambda r: r.team_id is not None)
        for row in rows:
            try:
                configs[row.name] = CalendarConfig.model_validate({**row.config, "name": row.name})
            except ValidationError as exc:  # a stored row from before a rule, or edited by hand: the default applies
                log.warning("SLA calendar %s (%r) does not parse, skipped: %s", row.id, row.name, _first_error(exc))
        return {name: _calendar(cfg) for name, cfg in configs.items()}

    return dict(configcache.cached(session, brand_id, f"sla.calendars:{team_id}", load))


def _parse_policy(name: str, definition: Mapping[str, Any]) -> SlaPolicy:
    return SlaPolicy.model_validate({**definition, "name": name})


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err['loc']) or '-'}: {err['msg']}"


def policy_problem(name: str, definition: Mapping[str, Any]) -> str | None:
    """Why a stored policy does not parse (first error, `field: message`), or None when it is valid."""
    # Writes are validated (PolicyIn, the admin form); a row from an older version or edited in the database is
    # skipped by matching and shown with this reason on the admin SLA tab and in the API's `problem`.
    try:
        _parse_policy(name, definition)
    except ValidationError as exc:
        return _first_error(exc)
    return None


@dataclass(frozen=True)
class PolicyRef:
    """Which stored policy row a parsed policy came from (a plain copy the process cache may share)."""

    id: int
    name: str
    definition: Mapping[str, Any]


def active_policies(session: Session, brand_id: int) -> list[tuple[PolicyRef, SlaPolicy]]:
    """The brand's active policies in evaluation order; cached per process until any SLA setting changes."""

    def load() -> tuple[tuple[PolicyRef, SlaPolicy], ...]:
        rows = session.scalars(
            select(SlaPolicyRecord)
            .where(SlaPolicyRecord.brand_id == brand_id, SlaPolicyRecord.is_active.is_(True))
            .order_by(SlaPolicyRecord.position, SlaPolicyRecord.id)
        )
        out = []
        for r in rows:
            try:
                parsed = _parse_policy(r.name, r.definition)
            except ValidationError as exc:  # one bad row must not stop every ticket of the brand from being saved
                log.warning("SLA policy %s (%r) does not parse, skipped: %s", r.id, r.name, _first_error(exc))
                continue
            out.append((PolicyRef(r.id, r.name, MappingProxyType(dict(r.definition))), parsed))
        return tuple(out)

    return list(configcache.cached(session, brand_id, "sla.policies", load))


def team_slugs(session: Session, brand_id: int) -> tuple[tuple[int, str], ...]:
    """The brand's teams as (id, slug), oldest first; cached (policies name teams by slug)."""

    def load() -> tuple[tuple[int, str], ...]:
        rows = session.execute(select(Team.id, Team.slug).where(Team.brand_id == brand_id).order_by(Team.id))
        return tuple((int(i), str(s)) for i, s in rows)

    return configcache.cached(session, brand_id, "sla.team_slugs", load)


def policy_definition(policy: SlaPolicy) -> dict[str, Any]:
    """JSON-safe definition of a policy without its name (the row holds the name)."""
    data: dict[str, Any] = policy.model_dump(mode="json", exclude={"name"})
    return data


def _audit(session: Session, actor: Principal | None, action: str, row_id: int, brand_id: int, **details: Any) -> None:
    record(
        session,
        actor,
        action,
        target_type=action.rsplit(".", 1)[0],
        target_id=row_id,
        brand_id=brand_id,
        details=details,
    )


def create_policy(
    session: Session,
    *,
    brand_id: int,
    policy: SlaPolicy,
    actor: Principal | None,
    position: int | None = None,
    is_active: bool = True,
) -> SlaPolicyRecord:
    """Store a policy for a brand (names are unique per brand)."""
    get_brand(session, brand_id, actor)
    exists = session.scalar(
        select(SlaPolicyRecord.id).where(SlaPolicyRecord.brand_id == brand_id, SlaPolicyRecord.name == policy.name)
    )
    if exists is not None:
        raise Conflict.said("err_sla_policy_exists", name=policy.name)
    if position is None:
        position = (
            session.scalar(select(func.max(SlaPolicyRecord.position)).where(SlaPolicyRecord.brand_id == brand_id)) or 0
        ) + 10
    row = SlaPolicyRecord(
        brand_id=brand_id,
        name=policy.name,
        position=position,
        is_active=is_active,
        definition=policy_definition(policy),
    )
    session.add(row)
    session.flush()
    _audit(session, actor, "sla_policy.create", row.id, brand_id, name=policy.name)
    return row


def get_policy(session: Session, policy_id: int, actor: Principal | None) -> SlaPolicyRecord:
    """A stored policy (404 when missing or in another brand)."""
    row = get_in_brand(session, SlaPolicyRecord, policy_id, actor, f"SLA policy {policy_id}")
    return row


def update_policy(
    session: Session,
    row: SlaPolicyRecord,
    actor: Principal | None,
    *,
    policy: SlaPolicy | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> SlaPolicyRecord:
    """Change a policy; running tickets keep their snapshot until they are re-evaluated by a ticket change."""
    if policy is not None:
        if policy.name != row.name:
            clash = session.scalar(
                select(SlaPolicyRecord.id).where(
                    SlaPolicyRecord.brand_id == row.brand_id, SlaPolicyRecord.name == policy.name
                )
            )
            if clash is not None:
                raise Conflict.said("err_sla_policy_exists", name=policy.name)
        row.name = policy.name
        row.definition = policy_definition(policy)
    if position is not None:
        row.position = position
    if is_active is not None:
        row.is_active = is_active
    row.updated_at = utcnow()
    session.flush()
    _audit(session, actor, "sla_policy.update", row.id, row.brand_id, name=row.name)
    return row


def delete_policy(session: Session, row: SlaPolicyRecord, actor: Principal | None) -> None:
    """Delete a policy (tickets that use it keep their snapshot)."""
    _audit(session, actor, "sla_policy.delete", row.id, row.brand_id, name=row.name)
    session.delete(row)
    session.flush()


def save_calendar(
    session: Session,
    *,
    brand_id: int,
    config: CalendarConfig,
    actor: Principal | None,
    team_id: int | None = None,
    row: SlaCalendar | None = None,
) -> SlaCalendar:
    """Create or replace a named calendar of a brand (or of one of its teams)."""
    get_brand(session, brand_id, actor)
    if team_id is not None:
        ref_in_brand(session, Team, team_id, brand_id, "err_core_team_not_in_brand", team_id=team_id)
    clash = session.scalar(
        select(SlaCalendar).where(
            SlaCalendar.brand_id == brand_id,
            SlaCalendar.name == config.name,
            SlaCalendar.team_id.is_(None) if team_id is None else SlaCalendar.team_id == team_id,
        )
    )
    if clash is not None and (row is None or clash.id != row.id):
        raise Conflict.said("err_sla_calendar_exists", name=config.name)
    data = config.model_dump(mode="json", exclude={"name"}, exclude_unset=True)
    if row is None:
        row = SlaCalendar(brand_id=brand_id, team_id=team_id, name=config.name, config=data)
        session.add(row)
    else:
        row.name, row.team_id, row.config, row.updated_at = config.name, team_id, data, utcnow()
    session.flush()
    _audit(session, actor, "sla_calendar.save", row.id, brand_id, name=row.name, team_id=team_id)
    return row


def get_calendar(session: Session, calendar_id: int, actor: Principal | None) -> SlaCalendar:
    """A stored calendar (404 when missing or in another brand)."""
    row = get_in_brand(session, SlaCalendar, calendar_id, actor, f"Calendar {calendar_id}")
    return row


def delete_calendar(session: Session, row: SlaCalendar, actor: Principal | None) -> None:
    """Delete a stored calendar (the built-in default of that name applies again)."""
    _audit(session, actor, "sla_calendar.delete", row.id, row.brand_id, name=row.name)
    session.delete(row)
    session.flush()


def install_defaults(session: Session, brand_id: int, actor: Principal | None) -> dict[str, int]:
    """Install the seed calendars and DEFAULT_POLICIES for a brand; existing names are left alone."""
    get_brand(session, brand_id, actor)
    added = {"calendars": 0, "policies": 0}
    for name, cfg in DEFAULT_CALENDAR_CONFIGS.items():
        have = session.scalar(
            select(SlaCalendar.id).where(
                SlaCalendar.brand_id == brand_id, SlaCalendar.name == name, SlaCalendar.team_id.is_(None)
            )
        )
        if have is None:
            save_calendar(session, brand_id=brand_id, config=cfg, actor=actor)
            added["calendars"] += 1
    have_names = set(session.scalars(select(SlaPolicyRecord.name).where(SlaPolicyRecord.brand_id == brand_id)))
    locale = brand_locale(session, brand_id)
    for i, policy in enumerate(DEFAULT_POLICIES):
        if policy.name not in have_names:
            # The description is the admin's to edit: written once, in the brand's language (kefu.brands.texts).
            text = seed_description(policy.name, locale) or policy.description
            seed = policy.model_copy(update={"description": text})
            create_policy(session, brand_id=brand_id, policy=seed, actor=actor, position=(i + 1) * 10)
            added["policies"] += 1
    return added


def set_escalation_contacts(
    session: Session, brand_id: int, contacts: Sequence[tuple[str, int, int | None]], actor: Principal | None
) -> list[EscalationContact]:
    """Replace a brand's escalation contacts: (level, agent_id, team_id or None)."""
    get_brand(session, brand_id, actor)
    for _, agent_id, team_id in contacts:
        if agent_in_brand(session, agent_id, brand_id) is None:  # missing or outside the brand: alike
            raise InvalidInput.said("err_auth_agent_not_assignable", agent_id=agent_id)
        if team_id is not None:
            ref_in_brand(session, Team, team_id, brand_id, "err_core_team_not_in_brand", team_id=team_id)
    session.execute(delete(EscalationContact).where(EscalationContact.brand_id == brand_id))
    rows = [
        EscalationContact(brand_id=brand_id, level=lv, agent_id=a, team_id=t) for lv, a, t in dict.fromkeys(contacts)
    ]
    session.add_all(rows)
    session.flush()
    _audit(session, actor, "sla_escalation.set", brand_id, brand_id, contacts=[list(c) for c in contacts])
    return rows


def list_calendars(session: Session, brand_id: int) -> list[SlaCalendar]:
    """A brand's stored calendars, oldest first."""
    return list(session.scalars(select(SlaCalendar).where(SlaCalendar.brand_id == brand_id).order_by(SlaCalendar.id)))


def list_policies(session: Session, brand_id: int) -> list[SlaPolicyRecord]:
    """A brand's stored policies in matching order."""
    return list(
        session.scalars(
            select(SlaPolicyRecord)
            .where(SlaPolicyRecord.brand_id == brand_id)
            .order_by(SlaPolicyRecord.position, SlaPolicyRecord.id)
        )
    )
