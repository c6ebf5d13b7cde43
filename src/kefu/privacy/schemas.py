"""Request and response bodies for privacy endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RevealIn(BaseModel):
    """Why cleartext personal data is needed (stored in the audit log)."""

    reason: str = Field(min_length=3, max_length=500)


class ExportIn(BaseModel):
    """A subject-access export."""

    format: Literal["json", "pdf"] = "json"
    months: int = Field(default=12, ge=1, le=120)
    reason: str = Field(min_length=3, max_length=500)


class EraseIn(BaseModel):
    """A right-to-erasure request; `confirm` guards against accidental calls."""

    reason: str = Field(min_length=3, max_length=500)
    confirm: bool = False


class LedgerOut(BaseModel):
    """One deletion ledger entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    customer_id: int
    subject_hash: str
    actor_type: str
    actor_id: int | None
    actor_label: str
    reason: str
    counts: dict[str, Any]
    at: datetime


class ErasureOut(BaseModel):
    """Result of an erasure (changed=false when it had already been done)."""

    changed: bool
    ledger: LedgerOut


class ConsentState(BaseModel):
    """The current decision for one purpose."""

    granted: bool
    source: str
    at: datetime


class ConsentEventOut(BaseModel):
    """One change in the consent history."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    purpose: str
    granted: bool
    source: str
    actor_id: int | None
    note: str
    at: datetime


class ConsentsOut(BaseModel):
    """Current consent per purpose (null = never asked) and the full history."""

    customer_id: int
    current: dict[str, ConsentState | None]
    history: list[ConsentEventOut]


class ConsentsIn(BaseModel):
    """Consent decisions to record; omitted purposes are unchanged."""

    tracking: bool | None = None
    personalization: bool | None = None
    secondary_use: bool | None = None
    source: Literal["agent", "customer", "import"] = "agent"
    note: str = Field(default="", max_length=500)


class RequestIn(BaseModel):
    """A data-subject request received from a customer, queued until their identity is checked."""

    customer_id: int
    kind: Literal["export", "erase", "correction"]
    reason: str = Field(min_length=3, max_length=500)
    channel: Literal["email", "phone", "letter", "counter", "portal", "other"] = "other"
    # For a correction: the corrected values (name, email, phone).
    changes: dict[Literal["name", "email", "phone"], str] | None = None


class RequestNoteIn(BaseModel):
    """How the requester's identity was checked (verify), or why the request is closed (reject)."""

    note: str = Field(min_length=3, max_length=500)


class RequestExecuteIn(BaseModel):
    """Carry out a verified request; an export is returned as a file in `format`."""

    format: Literal["json", "pdf"] = "json"


class RequestOut(BaseModel):
    """A data-subject request and where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    customer_id: int
    kind: str
    status: str
    reason: str
    requested_by: int | None
    details: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None
    channel: str
    due_at: datetime | None
    overdue: bool = False
    verified_at: datetime | None
    verified_by: int | None
    verification_note: str


class RetentionOut(BaseModel):
    """A brand's retention policy."""

    brand_id: int
    years: int
    enabled: bool
    is_default: bool


class RetentionIn(BaseModel):
    """New retention policy for a brand."""

    years: int = Field(ge=1, le=50)
    enabled: bool = True


class RetentionRunIn(BaseModel):
    """Run retention now (for one brand or all visible brands)."""

    brand_id: int | None = None
    batch: int = Field(default=500, ge=1, le=10_000)
