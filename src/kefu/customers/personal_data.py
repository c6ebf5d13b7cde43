"""Personal data of customers: names, contact details, free-form attributes, channel identities."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.customers.models import Customer, CustomerAccessibility, CustomerIdentity, CustomerNote
from kefu.privacy.contract import PersonalData


def _identities(ids: list[int]) -> Select[Any]:
    return select(CustomerIdentity).where(CustomerIdentity.customer_id.in_(ids))


def _accessibility(ids: list[int]) -> Select[Any]:
    return select(CustomerAccessibility).where(CustomerAccessibility.customer_id.in_(ids))


def _notes(ids: list[int]) -> Select[Any]:
    return select(CustomerNote).where(CustomerNote.customer_id.in_(ids))


# Customers and identities are erased by privacy.service.erase_customer itself (ledger hashes need the values).
DECLARATIONS = [
    PersonalData(
        Customer,
        {"name": "name", "email": "contact", "phone": "contact", "phone_key": "contact", "attributes": "json"},
        output_names={"customer_name": "name", "customer_email": "contact", "customer_phone": "contact"},
    ),
    PersonalData(
        CustomerIdentity,
        {"external_id": "contact", "display_name": "name"},
        owned_by=_identities,
        erase="delete",
        output_names={"sender_external_id": "contact", "sender_name": "name", "claimed_email": "contact"},
    ),
    # Agents' notes about a customer describe that person: erased with them.
    PersonalData(CustomerNote, {"body": "text"}, owned_by=_notes, erase="delete"),
    # Declared accessibility needs (deaf, low vision…) are health data: exported, and deleted on erasure.
    PersonalData(CustomerAccessibility, {"needs": "json", "note": "text"}, owned_by=_accessibility, erase="delete"),
]
