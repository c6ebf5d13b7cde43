"""Security incident register: levels 1-4, report within 1 hour and incident form within 48 hours of detection."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.auth.service import agent_in_brand
from kefu.brands.service import get_brand
from kefu.core.access import scope_to_brands
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kefu.security.commands import UpdateIncident, changes_of, ensure
from kefu.security.models import INCIDENT_LEVELS, INCIDENT_STATUSES, SecurityIncident

REPORT_WITHIN = timedelta(hours=1)
FORM_WITHIN = timedelta(hours=48)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("investigating", "contained", "resolved"),
    "investigating": ("contained", "resolved"),
    "contained": ("investigating", "resolved"),
    "resolved": ("investigating", "closed"),
    "closed": (),
}
MANAGER_ROLES = frozenset({"admin", "supervisor"})


def can_manage(principal: Principal) -> bool:
    """Admins and supervisors (with audit:read not narrowed away by token scopes) run the register."""
    return principal.role in MANAGER_ROLES and principal.can("audit:read")


def _visible(principal: Principal, inc: SecurityIncident) -> bool:
    return inc.brand_id is None or principal.can_access_brand(inc.brand_id)


def get_incident(session: Session, incident_id: int, principal: Principal) -> SecurityIncident:
    """Incident by id (404 when missing or in another brand)."""
    inc = session.get(SecurityIncident, incident_id)
    if inc is None or not _visible(principal, inc):
        raise NotFound.said("err_security_incident_not_found", incident_id=incident_id)
    return inc


def _check_owner(session: Session, brand_id: int | None, owner_id: int | None) -> None:
    # The owner works in the incident's brand: an outsider could not open the incident they are to run.
    if owner_id is not None and agent_in_brand(session, owner_id, brand_id) is None:
        raise InvalidInput.said("err_security_unknown_agent", owner_id=owner_id)


def _check_level(level: int) -> None:
    if level not in INCIDENT_LEVELS:
        raise InvalidInput.said("err_security_level_range")


def create_incident(
    session: Session,
    actor: Principal,
    *,
    title: str,
    level: int,
    description: str = "",
    detected_at: datetime | None = None,
    brand_id: int | None = None,
    category: str | None = None,
    affected_records: int = 0,
    owner_id: int | None = None,
    review_required: bool | None = None,
) -> SecurityIncident:
    """Register an incident; deadlines are fixed from the detection time."""
    _check_level(level)
    now = utcnow()
    detected = detected_at or now
    if detected.tzinfo is None:
        raise InvalidInput.said("err_security_detected_needs_timezone")
    if detected > now + timedelta(minutes=5):
        raise InvalidInput.said("err_security_detected_in_future")
    if brand_id is None and actor.brand_ids is not None:
        raise Forbidden.said("err_security_install_wide_admin")
    if brand_id is not None:
        get_brand(session, brand_id, actor)
    _check_owner(session, brand_id, owner_id)
    inc = SecurityIncident(
        brand_id=brand_id,
        title=title,
        description=description,
        level=level,
        status="open",
        category=category,
        affected_records=affected_records,
        detected_at=detected,
        report_due_at=detected + REPORT_WITHIN,
        form_due_at=detected + FORM_WITHIN,
        # Levels 2-4 always get a post-incident review; level 1 only when asked for.
        review_required=level >= 2 if review_required is None else (review_required or level >= 2),
        reporter_id=actor.agent_id,
        owner_id=owner_id,
        created_at=now,
        updated_at=now,
    )
    session.add(inc)
    session.flush()
    record(
        session,
        actor,
        "security.incident.create",
        target_type="incident",
        target_id=inc.id,
        brand_id=brand_id,
        details={"level": level, "detected_at": detected.isoformat()},
    )
    return inc


def update_incident(
    session: Session, inc: SecurityIncident, actor: Principal, command: UpdateIncident | Mapping[str, Any]
) -> None:
    """Change descriptive fields (level changes are audited with old and new values)."""
    changes = changes_of(ensure(UpdateIncident, command))
    if inc.status == "closed":
        raise Conflict.said("err_security_closed")
    audit: dict[str, Any] = {}
    _check_owner(session, inc.brand_id, changes.get("owner_id"))
    if "level" in changes and changes["level"] is not None:
        _check_level(int(changes["level"]))
        audit["level"] = [inc.level, changes["level"]]
        if int(changes["level"]) >= 2:
            inc.review_required = True
    for name in ("title", "description", "level", "category", "affected_records", "owner_id", "review_notes"):
        if name in changes and changes[name] is not None:
            setattr(inc, name, changes[name])
            audit.setdefault(name, "changed")
    if "review_required" in changes and changes["review_required"] is not None:
        inc.review_required = bool(changes["review_required"]) or inc.level >= 2
    inc.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "security.incident.update",
        target_type="incident",
        target_id=inc.id,
        brand_id=inc.brand_id,
        details=audit,
    )


def mark_reported(session: Session, inc: SecurityIncident, actor: Principal, at: datetime | None = None) -> None:
    """The incident was reported to the responsible unit (due within 1 hour of detection)."""
    if inc.reported_at is not None:
        raise Conflict.said("err_security_already_reported")
    inc.reported_at = at or utcnow()
    if inc.reported_at < inc.detected_at:
        raise InvalidInput.said("err_security_reported_before_detected")
    inc.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "security.incident.report",
        target_type="incident",
        target_id=inc.id,
        brand_id=inc.brand_id,
        details={"on_time": inc.reported_at <= inc.report_due_at},
    )


def mark_form_submitted(session: Session, inc: SecurityIncident, actor: Principal, at: datetime | None = None) -> None:
    """The incident handling form was filed (due within 48 hours of detection)."""
    if inc.form_submitted_at is not None:
        raise Conflict.said("err_security_already_submitted")
    inc.form_submitted_at = at or utcnow()
    if inc.form_submitted_at < inc.detected_at:
        raise InvalidInput.said("err_security_form_before_detected")
    inc.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "security.incident.form",
        target_type="incident",
        target_id=inc.id,
        brand_id=inc.brand_id,
        details={"on_time": inc.form_submitted_at <= inc.form_due_at},
    )


def transition(session: Session, inc: SecurityIncident, actor: Principal, status: str) -> None:
    """Move along open → investigating → contained → resolved → closed (resolved may reopen)."""
    if status not in INCIDENT_STATUSES:
        raise InvalidInput.said("err_security_unknown_status", status=status)
    if status not in TRANSITIONS[inc.status]:
        raise Conflict.said("err_security_bad_transition", current=inc.status, status=status)
    if status == "closed":
        if inc.reported_at is None or inc.form_submitted_at is None:
            raise Conflict.said("err_security_close_needs_report")
        if inc.review_required and not inc.review_notes.strip():
            raise Conflict.said("err_security_close_needs_review")
    now = utcnow()
    if status == "contained" and inc.contained_at is None:
        inc.contained_at = now
    if status == "resolved":
        inc.resolved_at = now
    if status == "closed":
        inc.closed_at = now
    if status == "investigating":
        inc.resolved_at = None
    old, inc.status, inc.updated_at = inc.status, status, now
    session.flush()
    record(
        session,
        actor,
        "security.incident.status",
        target_type="incident",
        target_id=inc.id,
        brand_id=inc.brand_id,
        details={"from": old, "to": status},
    )


def list_incidents(
    session: Session, principal: Principal, *, status: str | None = None, level: int | None = None
) -> list[SecurityIncident]:
    """Incidents visible to the principal, newest detection first."""
    stmt = select(SecurityIncident).order_by(SecurityIncident.detected_at.desc(), SecurityIncident.id.desc())
    # An incident of no brand is install-wide: every manager sees it, as the one rule's `unbranded` says.
    stmt = scope_to_brands(stmt, SecurityIncident.brand_id, principal, unbranded=True)
    if status:
        stmt = stmt.where(SecurityIncident.status == status)
    if level:
        stmt = stmt.where(SecurityIncident.level == level)
    return list(session.scalars(stmt.limit(1000)))


def _pct(num: int, den: int) -> float | None:
    return round(100.0 * num / den, 1) if den else None


def statistics(
    session: Session, principal: Principal, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Counts by level and status, on-time report/form rates, and what is overdue right now."""
    now = utcnow()
    rows = [
        i
        for i in list_incidents(session, principal)
        if (since is None or i.detected_at >= since) and (until is None or i.detected_at < until)
    ]
    by_level = {str(lv): 0 for lv in INCIDENT_LEVELS}
    by_status = dict.fromkeys(INCIDENT_STATUSES, 0)
    report_due = report_ok = form_due = form_ok = 0
    overdue_report: list[int] = []
    overdue_form: list[int] = []
    for i in rows:
        by_level[str(i.level)] += 1
        by_status[i.status] += 1
        # An incident counts once its deadline has passed or it was handled; unhandled and overdue = late.
        if i.reported_at is not None or i.report_due_at <= now:
            report_due += 1
            if i.reported_at is not None and i.reported_at <= i.report_due_at:
                report_ok += 1
            elif i.reported_at is None:
                overdue_report.append(i.id)
        if i.form_submitted_at is not None or i.form_due_at <= now:
            form_due += 1
            if i.form_submitted_at is not None and i.form_submitted_at <= i.form_due_at:
                form_ok += 1
            elif i.form_submitted_at is None:
                overdue_form.append(i.id)
    return {
        "total": len(rows),
        "by_level": by_level,
        "by_status": by_status,
        "report_on_time_pct": _pct(report_ok, report_due),
        "form_on_time_pct": _pct(form_ok, form_due),
        "reports_counted": report_due,
        "forms_counted": form_due,
        "overdue_report_ids": overdue_report,
        "overdue_form_ids": overdue_form,
    }
