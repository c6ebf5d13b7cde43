"""Ticket taxonomy administration: categories (with classifier feedback) and custom-field definitions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core import configcache
from kefu.core.access import get_in_brand
from kefu.core.addresses import is_email
from kefu.core.commands import build
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.seedtext import own_text, seed_text
from kefu.tickets.classify import DEFAULT_CATEGORIES
from kefu.tickets.commands import (
    CreateCategory,
    CreateFieldDefinition,
    UpdateCategory,
    UpdateFieldDefinition,
    changes_of,
    ensure,
)
from kefu.tickets.models import (
    FIELD_TYPES,
    TicketCategory,
    TicketFieldDefinition,
)

# Custom-field keys other packages set for SLA matching; always accepted.
RESERVED_FIELDS = frozenset({"complaint_level", "tier", "regulator_case"})
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


# --------------------------------------------------------------------------- categories


def active_category_keys(session: Session, brand_id: int) -> frozenset[str]:
    """Keys of the brand's active categories (empty = the brand has not configured a taxonomy); cached."""

    def load() -> frozenset[str]:
        return frozenset(
            session.scalars(
                select(TicketCategory.key).where(
                    TicketCategory.brand_id == brand_id, TicketCategory.is_active.is_(True)
                )
            )
        )

    return configcache.cached(session, brand_id, "tickets.category_keys", load)


def _check_category(session: Session, brand_id: int, category: str | None) -> None:
    if category is None:
        return
    keys = active_category_keys(session, brand_id)
    if keys and category not in keys:
        raise InvalidInput.said("err_tickets_unknown_category", category=category, names=", ".join(sorted(keys)))


def list_categories(session: Session, brand_id: int, actor: Principal | None) -> list[TicketCategory]:
    """A brand's categories in display order."""
    get_brand(session, brand_id, actor)
    return list(
        session.scalars(
            select(TicketCategory)
            .where(TicketCategory.brand_id == brand_id)
            .order_by(TicketCategory.position, TicketCategory.id)
        )
    )


def create_category(
    session: Session, command: CreateCategory | Mapping[str, Any], *, actor: Principal | None
) -> TicketCategory:
    """Add a category to a brand's taxonomy (a plain mapping is validated into the command first)."""
    fields = ensure(CreateCategory, command).model_dump()
    brand_id = fields.pop("brand_id")
    get_brand(session, brand_id, actor)
    if not _KEY_RE.match(fields["key"]):
        raise InvalidInput.said("err_tickets_category_key_format")
    if fields.get("parent_key") is not None and fields["parent_key"] not in active_category_keys(session, brand_id):
        raise InvalidInput.said("err_tickets_parent_category_missing", parent_key=fields["parent_key"])
    clash = session.scalar(
        select(TicketCategory.id).where(TicketCategory.brand_id == brand_id, TicketCategory.key == fields["key"])
    )
    if clash is not None:
        raise Conflict.said("err_tickets_category_exists", key=fields["key"])
    row = TicketCategory(brand_id=brand_id, **fields)
    session.add(row)
    session.flush()
    record(session, actor, "ticket_category.create", target_type="ticket_category", target_id=row.id, brand_id=brand_id)
    return row


def get_category(session: Session, category_id: int, actor: Principal | None) -> TicketCategory:
    """A category (404 when missing or in another brand)."""
    row = get_in_brand(session, TicketCategory, category_id, actor, f"Category {category_id}")
    return row


def update_category(
    session: Session, row: TicketCategory, actor: Principal | None, command: UpdateCategory | Mapping[str, Any]
) -> TicketCategory:
    """Change labels, keywords, order, parent or active flag (the key is permanent)."""
    changes = changes_of(ensure(UpdateCategory, command))
    for key, value in changes.items():
        if value is not None or key == "parent_key":
            setattr(row, key, value)
    session.flush()
    record(
        session,
        actor,
        "ticket_category.update",
        target_type="ticket_category",
        target_id=row.id,
        brand_id=row.brand_id,
        details={"fields": sorted(changes)},
    )
    return row


def install_default_categories(session: Session, brand_id: int, actor: Principal | None) -> int:
    """Install the bilingual default taxonomy (keys already present are kept); returns how many were added."""
    get_brand(session, brand_id, actor)
    have = set(session.scalars(select(TicketCategory.key).where(TicketCategory.brand_id == brand_id)))
    added = 0
    for i, seed in enumerate(DEFAULT_CATEGORIES):
        if seed.key in have:
            continue
        create_category(
            session,
            build(
                CreateCategory,
                {
                    "brand_id": brand_id,
                    "key": seed.key,
                    "label_zh": seed.label_zh,
                    "label_en": seed.label_en,
                    "keywords": list(seed.keywords),
                    "position": (i + 1) * 10,
                },
            ),
            actor=actor,
        )
        added += 1
    return added


def category_labels(session: Session, brand_id: int, key: str | None) -> dict[str, str] | None:
    """Bilingual labels of a category key (brand's own, else the defaults)."""
    if key is None:
        return None
    row = session.scalar(select(TicketCategory).where(TicketCategory.brand_id == brand_id, TicketCategory.key == key))
    if row is not None:
        return {"zh": row.label_zh, "en": row.label_en}
    seed = next((c for c in DEFAULT_CATEGORIES if c.key == key), None)
    return {"zh": seed.label_zh, "en": seed.label_en} if seed else {"zh": key, "en": key}


# --------------------------------------------------------------------------- custom fields


@dataclass(frozen=True)
class FieldRule:
    """What validation needs of a custom-field definition (a plain copy the process cache may share)."""

    key: str
    type: str
    required: bool
    options: list[Any]
    validation: dict[str, Any]


def _definitions(session: Session, brand_id: int) -> dict[str, FieldRule]:
    def load() -> dict[str, FieldRule]:
        rows = session.scalars(
            select(TicketFieldDefinition).where(
                TicketFieldDefinition.brand_id == brand_id, TicketFieldDefinition.is_active.is_(True)
            )
        )
        return {
            r.key: FieldRule(r.key, r.type, bool(r.required), list(r.options or []), dict(r.validation or {}))
            for r in rows
        }

    return configcache.cached(session, brand_id, "tickets.field_rules", load)


def _coerce(d: FieldRule, value: Any) -> Any:
    rules = d.validation or {}
    label = d.key
    if d.type in ("text", "textarea", "email", "url"):
        if not isinstance(value, str):
            raise InvalidInput.said("err_tickets_field_not_text", label=label)
        value = value.strip()
        if "min_length" in rules and len(value) < int(rules["min_length"]):
            raise InvalidInput.said("err_tickets_field_too_short", label=label, min_length=rules["min_length"])
        if len(value) > int(rules.get("max_length", 10_000)):
            raise InvalidInput.said(
                "err_tickets_field_too_long", label=label, max_length=rules.get("max_length", 10000)
            )
        if "pattern" in rules and not re.fullmatch(str(rules["pattern"]), value):
            raise InvalidInput.said("err_tickets_field_bad_format", label=label)
        if d.type == "email" and not is_email(value):
            raise InvalidInput.said("err_tickets_field_not_email", label=label)
        if d.type == "url" and not value.startswith(("https://", "http://")):
            raise InvalidInput.said("err_tickets_field_not_url", label=label)
        return value
    if d.type in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput.said("err_tickets_field_not_number", label=label)
        if d.type == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidInput.said("err_tickets_field_not_integer", label=label)
            value = int(value)
        if "min" in rules and value < rules["min"]:
            raise InvalidInput.said("err_tickets_field_below_min", label=label, min=rules["min"])
        if "max" in rules and value > rules["max"]:
            raise InvalidInput.said("err_tickets_field_above_max", label=label, max=rules["max"])
        return value
    if d.type == "boolean":
        if not isinstance(value, bool):
            raise InvalidInput.said("err_tickets_field_not_bool", label=label)
        return value
    if d.type == "date":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise InvalidInput.said("err_tickets_field_not_date", label=label) from exc
    if d.type == "select":
        if value not in (d.options or []):
            raise InvalidInput.said("err_tickets_field_not_option", label=label, options=d.options)
        return value
    if not isinstance(value, list) or any(v not in (d.options or []) for v in value):
        raise InvalidInput.said("err_tickets_field_values_from", label=label, options=d.options)
    return list(dict.fromkeys(value))


def validate_custom_fields(
    session: Session, brand_id: int, values: dict[str, Any], existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge `values` into `existing` (None deletes a key), validating against the brand's field definitions.

    Brands without definitions keep free-form fields; once any field is defined, unknown keys are refused.
    """
    defs = _definitions(session, brand_id)
    out = dict(existing or {})
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
            continue
        if key in RESERVED_FIELDS or not defs:
            out[key] = value
            continue
        d = defs.get(key)
        if d is None:
            raise InvalidInput.said("err_tickets_unknown_custom_field", key=key)
        out[key] = _coerce(d, value)
    missing = [k for k, d in defs.items() if d.required and out.get(k) in (None, "", [])]
    if missing:
        raise InvalidInput.said("err_tickets_required_fields_missing", names=", ".join(sorted(missing)))
    return out


def list_field_definitions(session: Session, brand_id: int, actor: Principal | None) -> list[TicketFieldDefinition]:
    """A brand's custom-field definitions in display order."""
    get_brand(session, brand_id, actor)
    return list(
        session.scalars(
            select(TicketFieldDefinition)
            .where(TicketFieldDefinition.brand_id == brand_id)
            .order_by(TicketFieldDefinition.position, TicketFieldDefinition.id)
        )
    )


def _check_definition(type_: str, options: Sequence[Any], validation: dict[str, Any]) -> None:
    if type_ not in FIELD_TYPES:
        raise InvalidInput.said("err_tickets_field_type_choice", choices=", ".join(FIELD_TYPES))
    if type_ in ("select", "multiselect") and not options:
        raise InvalidInput.said("err_tickets_field_needs_options")
    if "pattern" in validation:
        try:
            re.compile(str(validation["pattern"]))
        except re.error as exc:
            raise InvalidInput.said("err_tickets_invalid_pattern", error=exc) from exc


def create_field_definition(
    session: Session, command: CreateFieldDefinition | Mapping[str, Any], *, actor: Principal | None
) -> TicketFieldDefinition:
    """Define a custom ticket field (a plain mapping is validated into the command first)."""
    fields = ensure(CreateFieldDefinition, command).model_dump()
    brand_id = fields.pop("brand_id")
    get_brand(session, brand_id, actor)
    if not _KEY_RE.match(fields["key"]) or fields["key"] in RESERVED_FIELDS:
        raise InvalidInput.said("err_tickets_field_key_format")
    _check_definition(fields["type"], fields.get("options") or [], fields.get("validation") or {})
    clash = session.scalar(
        select(TicketFieldDefinition.id).where(
            TicketFieldDefinition.brand_id == brand_id, TicketFieldDefinition.key == fields["key"]
        )
    )
    if clash is not None:
        raise Conflict.said("err_tickets_field_exists", key=fields["key"])
    row = TicketFieldDefinition(brand_id=brand_id, **fields)
    session.add(row)
    session.flush()
    record(session, actor, "ticket_field.create", target_type="ticket_field", target_id=row.id, brand_id=brand_id)
    return row


def get_field_definition(session: Session, field_id: int, actor: Principal | None) -> TicketFieldDefinition:
    """A field definition (404 when missing or in another brand)."""
    row = get_in_brand(session, TicketFieldDefinition, field_id, actor, f"Field {field_id}")
    return row


def update_field_definition(
    session: Session,
    row: TicketFieldDefinition,
    actor: Principal | None,
    command: UpdateFieldDefinition | Mapping[str, Any],
) -> TicketFieldDefinition:
    """Change a field definition (its key and type are permanent)."""
    changes = changes_of(ensure(UpdateFieldDefinition, command))
    for key, value in changes.items():
        if value is not None:
            setattr(row, key, value)
    _check_definition(row.type, row.options or [], row.validation or {})
    session.flush()
    record(
        session,
        actor,
        "ticket_field.update",
        target_type="ticket_field",
        target_id=row.id,
        brand_id=row.brand_id,
        details={"fields": sorted(changes)},
    )
    return row


_SEEDS = {c.key: c for c in DEFAULT_CATEGORIES}


def category_label(key: str, label_zh: str, label_en: str, locale: str) -> str:
    """A category's label for a reader: a seed category's catalog entry (cat_<key>) in their locale while the brand
    keeps the seed's label, else the brand's own label (English for en, Chinese in the reader's script for zh)."""
    stored = label_en if locale == "en" and label_en else label_zh
    seed = _SEEDS.get(key)
    if seed is None:
        return own_text(stored, locale)
    return seed_text(f"cat_{key}", stored, locale, (seed.label_zh, seed.label_en))
