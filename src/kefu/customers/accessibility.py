"""Accessibility needs of a customer (seed 003 「無障礙服務專項」): declared with consent, honoured when contacting.

Deaf and hard-of-hearing customers get no phone call-backs (text, SMS, LINE or a video session with sign language
instead); blind and low-vision customers get plain-text emails and, in the chat widget, important notices announced
to screen readers with a vibration where the device has one. The needs are health-related personal data: declared
by the customer (portal) or by an agent who records the customer's consent, audited without the values, exported
and erased with the customer (kefu.customers.personal_data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.customers.models import NEEDS, Customer, CustomerAccessibility

Need = Literal["deaf", "hard_of_hearing", "blind", "low_vision"]
HEARING = frozenset({"deaf", "hard_of_hearing"})
VISION = frozenset({"blind", "low_vision"})


class DeclareNeeds(BaseModel):
    """Needs to record (an empty list withdraws them); `consent` is the customer's explicit agreement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    needs: list[Need] = Field(default_factory=list, max_length=len(NEEDS))
    note: str = Field(default="", max_length=1000)
    consent: bool = False


class ContactOptions(BaseModel):
    """How to reach this customer: call-back modes allowed, channels to prefer or avoid, presentation hints."""

    needs: list[str]
    callback_modes: list[str]
    avoid: list[str]
    prefer: list[str]
    sign_language: bool
    plain_text_email: bool
    haptic_notices: bool


class NeedsOut(BaseModel):
    """A customer's declared needs, who declared them and when, and what follows for contacting them."""

    customer_id: int
    needs: list[str]
    note: str
    source: str | None
    consent_at: datetime | None
    options: ContactOptions


def needs_of(session: Session, customer_id: int | None) -> list[str]:
    """The customer's declared needs (codes), none when unknown."""
    if customer_id is None:
        return []
    row = session.get(CustomerAccessibility, customer_id)
    return [n for n in (row.needs if row else []) if n in NEEDS]


def needs_by_customer(session: Session, customer_ids: set[int]) -> dict[int, list[str]]:
    """Declared needs of many customers (for badges on lists)."""
    if not customer_ids:
        return {}
    rows = session.scalars(select(CustomerAccessibility).where(CustomerAccessibility.customer_id.in_(customer_ids)))
    return {r.customer_id: [n for n in r.needs if n in NEEDS] for r in rows if r.needs}


def options_for(needs: list[str], *, video: bool) -> ContactOptions:
    """What the needs mean for call-backs and notices (`video`: the brand offers video sessions)."""
    hearing = bool(HEARING & set(needs))
    vision = bool(VISION & set(needs))
    modes = [] if hearing else ["phone"]
    if video:
        modes.append("video")
    prefer: list[str] = []
    if hearing:
        prefer = ["video", "sms", "line", "web_chat", "email"] if video else ["sms", "line", "web_chat", "email"]
    elif vision:
        prefer = ["phone", "video"] if video else ["phone"]
    return ContactOptions(
        needs=list(needs),
        callback_modes=modes,
        avoid=["phone"] if hearing else [],
        prefer=prefer,
        sign_language="deaf" in needs,
        plain_text_email=vision,
        haptic_notices=vision,
    )


def describe(session: Session, customer: Customer, *, video: bool) -> NeedsOut:
    """The customer's needs as shown to agents, with the contact options that follow."""
    row = session.get(CustomerAccessibility, customer.id)
    needs = needs_of(session, customer.id)
    return NeedsOut(
        customer_id=customer.id,
        needs=needs,
        note=row.note if row else "",
        source=row.source if row else None,
        consent_at=row.consent_at if row else None,
        options=options_for(needs, video=video),
    )


def phone_refused(needs: list[str]) -> bool:
    """True when a phone call-back would not reach this customer."""
    return bool(HEARING & set(needs))


def plain_text_only(session: Session, customer_id: int | None) -> bool:
    """Emails to this customer go as plain text only (screen-reader friendly, no HTML layout)."""
    return bool(VISION & set(needs_of(session, customer_id)))


def declare(
    session: Session,
    customer: Customer,
    cmd: DeclareNeeds,
    actor: Principal | None,
    *,
    source: str,
    now: datetime | None = None,
) -> CustomerAccessibility | None:
    """Record (or with no needs, withdraw) a customer's needs; needs consent; audited without the needs themselves."""
    if not cmd.consent:
        raise InvalidInput.said("err_customers_needs_consent")
    now = now or utcnow()
    row = session.get(CustomerAccessibility, customer.id)
    needs = [n for n in NEEDS if n in set(cmd.needs)]
    if not needs:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = CustomerAccessibility(customer_id=customer.id, brand_id=customer.brand_id, consent_at=now)
            session.add(row)
        row.needs, row.note, row.source, row.consent_at, row.updated_at = needs, cmd.note.strip(), source, now, now
        row.declared_by = actor.agent_id if actor else None
    session.flush()
    record(
        session,
        actor,
        "customer.accessibility",
        target_type="customer",
        target_id=customer.id,
        brand_id=customer.brand_id,
        details={"source": source, "withdrawn": not needs},  # the needs are health data: not in the audit log
        actor_type=None if actor else "customer",
        actor_label=None if actor else source,
    )
    return row if needs else None
