"""Security endpoints: incident register and password reset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kefu.auth.deps import DB, CurrentPrincipal, SettingsDep, client_ip, require
from kefu.auth.permissions import Principal
from kefu.core.errors import Forbidden
from kefu.idempotency.deps import Idem
from kefu.security import incidents, reset
from kefu.security.commands import UpdateIncident
from kefu.security.models import SecurityIncident
from kefu.web.routing import Router

router = Router(prefix="/api/v1")
Audit = Annotated[Principal, Depends(require("audit:read"))]


def _manager(principal: CurrentPrincipal) -> Principal:
    if not incidents.can_manage(principal):
        raise Forbidden.said("err_security_managers_only")
    return principal


Manager = Annotated[Principal, Depends(_manager)]


class IncidentIn(BaseModel):
    """A new incident."""

    title: str = Field(min_length=1, max_length=300)
    level: int = Field(ge=1, le=4)
    description: str = Field(default="", max_length=20_000)
    detected_at: datetime | None = None
    brand_id: int | None = None
    category: str | None = Field(default=None, max_length=64)
    affected_records: int = Field(default=0, ge=0)
    owner_id: int | None = None
    review_required: bool | None = None


class IncidentUpdate(UpdateIncident):
    """Partial incident change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class IncidentOut(BaseModel):
    """An incident with its deadlines."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int | None
    title: str
    description: str
    level: int
    status: str
    category: str | None
    affected_records: int
    detected_at: datetime
    report_due_at: datetime
    form_due_at: datetime
    reported_at: datetime | None
    form_submitted_at: datetime | None
    contained_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    review_required: bool
    review_notes: str
    reporter_id: int | None
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


class StampIn(BaseModel):
    """When a report or form was made (default now)."""

    at: datetime | None = None


class StatusIn(BaseModel):
    """Target status."""

    status: str = Field(pattern="^(open|investigating|contained|resolved|closed)$")


class StatsOut(BaseModel):
    """Register statistics."""

    total: int
    by_level: dict[str, int]
    by_status: dict[str, int]
    report_on_time_pct: float | None
    form_on_time_pct: float | None
    reports_counted: int
    forms_counted: int
    overdue_report_ids: list[int]
    overdue_form_ids: list[int]


def _out(inc: SecurityIncident) -> IncidentOut:
    return IncidentOut.model_validate(inc)


@router.get("/security/incidents", response_model=list[IncidentOut], tags=["security"])
def list_incidents(db: DB, principal: Audit, status: str | None = None, level: int | None = None) -> list[IncidentOut]:
    """Incidents, newest detection first."""
    return [_out(i) for i in incidents.list_incidents(db, principal, status=status, level=level)]


@router.get("/security/incidents/stats", response_model=StatsOut, tags=["security"])
def incident_stats(db: DB, principal: Audit, since: datetime | None = None, until: datetime | None = None) -> StatsOut:
    """Counts by level and status, on-time report (1 h) and form (48 h) percentages, overdue incidents."""
    return StatsOut(**incidents.statistics(db, principal, since=since, until=until))


@router.post("/security/incidents", response_model=IncidentOut, status_code=201, tags=["security"])
def create_incident(body: IncidentIn, db: DB, principal: Manager, idem: Idem) -> IncidentOut | JSONResponse:
    """Register an incident (deadlines: report 1 hour, form 48 hours after detection)."""

    def work() -> IncidentOut:
        return _out(incidents.create_incident(db, principal, **body.model_dump()))

    return idem.run(db, work, lambda incident_id: _out(incidents.get_incident(db, incident_id, principal)))


@router.get("/security/incidents/{incident_id}", response_model=IncidentOut, tags=["security"])
def get_incident(incident_id: int, db: DB, principal: Audit) -> IncidentOut:
    """One incident."""
    return _out(incidents.get_incident(db, incident_id, principal))


@router.patch("/security/incidents/{incident_id}", response_model=IncidentOut, tags=["security"])
def update_incident(incident_id: int, body: IncidentUpdate, db: DB, principal: Manager) -> IncidentOut:
    """Change an incident's description, level, owner or review notes."""
    inc = incidents.get_incident(db, incident_id, principal)
    incidents.update_incident(db, inc, principal, body)
    return _out(inc)


@router.post("/security/incidents/{incident_id}/report", response_model=IncidentOut, tags=["security"])
def report_incident(incident_id: int, body: StampIn, db: DB, principal: Manager) -> IncidentOut:
    """Record that the incident was reported."""
    inc = incidents.get_incident(db, incident_id, principal)
    incidents.mark_reported(db, inc, principal, body.at)
    return _out(inc)


@router.post("/security/incidents/{incident_id}/form", response_model=IncidentOut, tags=["security"])
def submit_form(incident_id: int, body: StampIn, db: DB, principal: Manager) -> IncidentOut:
    """Record that the incident handling form was submitted."""
    inc = incidents.get_incident(db, incident_id, principal)
    incidents.mark_form_submitted(db, inc, principal, body.at)
    return _out(inc)


@router.post("/security/incidents/{incident_id}/status", response_model=IncidentOut, tags=["security"])
def set_status(incident_id: int, body: StatusIn, db: DB, principal: Manager) -> IncidentOut:
    """Move the incident through its workflow."""
    inc = incidents.get_incident(db, incident_id, principal)
    incidents.transition(db, inc, principal, body.status)
    return _out(inc)


class ResetRequestIn(BaseModel):
    """Who forgot their password."""

    email: str = Field(max_length=320)


class ResetConfirmIn(BaseModel):
    """The emailed token and the new password."""

    token: str = Field(min_length=10, max_length=200)
    password: str = Field(max_length=512)


@router.post("/auth/password-reset", status_code=202, tags=["auth"])
def request_password_reset(body: ResetRequestIn, request: Request, db: DB, settings: SettingsDep) -> dict[str, Any]:
    """Email a reset link if the account exists (the answer is the same either way)."""
    reset.request_reset(db, settings, email=body.email, ip=client_ip(request))
    return {"status": "accepted"}


@router.post("/auth/password-reset/confirm", status_code=204, tags=["auth"])
def confirm_password_reset(body: ResetConfirmIn, request: Request, db: DB) -> None:
    """Set a new password with the emailed token; signs the account out everywhere."""
    reset.confirm_reset(db, token=body.token, password=body.password, ip=client_ip(request))
