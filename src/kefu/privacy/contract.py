"""The privacy contract: every package declares its personal-data fields; masking and erasure follow from that.

A package lists its personal data in `<package>/personal_data.py` as `DECLARATIONS` (model, field → kind, how rows
belong to a customer, how to erase them). From the union of declarations:

* `mask_json` masks any JSON value for a principal without `pii:reveal`: declared field names are masked by
  their kind (a name as 王○明, a contact as a***@x / 0912***678 / U1a2****), every other string by `mask_text`.
  It runs on every authenticated API response (PrivacyMiddleware) and every WebSocket event (the hub), so a new
  route or event is masked without having to remember to.
* `erase_owned` scrubs every declared row owned by an erased customer, so erasure reaches complaints, inbound
  event and outbox payloads, attachment files, hand-off summaries and ticket comments.

`tests/privacy/test_contract.py` fails when a model gains a personal-looking column nobody declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Select
from sqlalchemy.orm import Session

from kefu.privacy.pii import mask_name, mask_text

Kind = Literal["name", "contact", "identifier", "text", "json", "file", "secret_json"]
Erase = Literal["redact", "delete"]
ERASED = "[已刪除 erased]"


@dataclass(frozen=True)
class PersonalData:
    """One model's personal data: which columns, what they hold, whose they are and how erasure treats them."""

    model: type[Any]
    fields: Mapping[str, Kind]
    owned_by: Callable[[list[int]], Select[Any]] | None = None  # customer ids -> statement selecting the rows
    erase: Erase = "redact"
    # Fields named differently in API/event payloads than in the model (e.g. outbox "recipient").
    output_names: Mapping[str, Kind] = field(default_factory=dict)


@lru_cache(maxsize=1)
def declarations() -> tuple[PersonalData, ...]:
    """Every package's DECLARATIONS (`<package>.personal_data`, found like models/api/jobs by kefu.registry)."""
    from kefu import registry

    found: list[PersonalData] = []
    for module in registry.modules("personal_data"):
        found.extend(module.DECLARATIONS)
    return tuple(found)


# Keys that name personal data only in some payloads (an agent's or brand's "name"): masked as text, not as a name.
_AMBIGUOUS = frozenset({"name", "body", "text", "subject", "description", "data", "payload", "meta", "attributes"})


@lru_cache(maxsize=1)
def output_kinds() -> dict[str, Kind]:
    """Payload key -> kind, from every declaration (ambiguous generic keys left to text masking)."""
    out: dict[str, Kind] = {}
    for d in declarations():
        for name, kind in (*d.fields.items(), *d.output_names.items()):
            if name not in _AMBIGUOUS and kind in ("name", "contact", "identifier"):
                out[name] = kind
    return out


def mask_contact(value: str) -> str:
    """An email, phone number or channel id, whichever it looks like."""
    from kefu.privacy.masking import mask_email, mask_identifier, mask_phone

    v = value.strip()
    if "@" in v:
        return mask_email(v)
    if sum(c.isdigit() for c in v) >= 7 and all(c.isdigit() or c in " +-()#.ext" for c in v):
        return mask_phone(v)
    masked = mask_text(v)
    return masked if masked != v else mask_identifier(v)


def _mask_kind(kind: Kind, value: str) -> str:
    if not value:
        return value
    if any(c in "*○" for c in value):
        # Already masked by the endpoint: keep its format (text masking still catches a full value beside it).
        return mask_text(value)
    if kind == "name":
        return mask_name(value) if any(c.isalpha() for c in value) else value
    if kind == "contact":
        return mask_contact(value)
    if kind == "identifier":
        from kefu.privacy.masking import mask_identifier

        return mask_identifier(value)
    return mask_text(value)


# Keys whose values are never personal (ids, times, enums): skipped, since masking is on every API response.
_SAFE_KEYS = frozenset({
    "id", "status", "type", "kind", "channel", "locale", "priority", "role", "sender_type",
    "content_type", "next_cursor", "cursor", "op", "sha256", "level", "number", "tier",
    "token", "secret", "hash", "etag", "idempotency_key",
})  # fmt: skip
# Credentials and hashes must reach their owner byte for byte (masking a digit run in a token would break it).
_SAFE_SUFFIXES = ("_at", "_id", "_ids", "_type", "_count", "_status", "_token", "_hash", "_secret")


def _safe_key(key: str) -> bool:
    return key in _SAFE_KEYS or key.endswith(_SAFE_SUFFIXES)


def _text(value: str) -> str:
    # ASCII without digits, "@" or ":" cannot hold a detectable value (no number, email or "name: …" field).
    if value.isascii() and not any(c.isdigit() or c in "@:" for c in value):
        return value
    return _mask_cached(value) if len(value) <= 4096 else mask_text(value)


@lru_cache(maxsize=16384)
def _mask_cached(value: str) -> str:
    # Consoles poll the same lists: repeated strings (already masked by their endpoint) are masked once.
    return mask_text(value)


def mask_json(value: Any, kinds: Mapping[str, Kind] | None = None) -> Any:
    """`value` with every personal datum masked (for principals without pii:reveal)."""
    kinds = output_kinds() if kinds is None else kinds
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [mask_json(v, kinds) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            kind = kinds.get(k) if isinstance(k, str) else None
            if kind is None and isinstance(k, str) and _safe_key(k) and not isinstance(v, dict | list):
                out[k] = v
            elif kind is not None and isinstance(v, str):
                out[k] = _mask_kind(kind, v)
            elif kind is not None and isinstance(v, list) and all(isinstance(x, str) for x in v):
                out[k] = [_mask_kind(kind, x) for x in v]
            else:
                out[k] = mask_json(v, kinds)
        return out
    return value


# ------------------------------------------------------------------ erasure


def _scrub_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("json", "secret_json"):
        return {} if isinstance(value, dict) else [] if isinstance(value, list) else None
    if isinstance(value, str):
        return ERASED if kind == "text" and value else ""
    return value


def erase_owned(session: Session, customer_ids: list[int], *, skip: Iterable[type[Any]] = ()) -> dict[str, int]:
    """Scrub (or delete) every declared row owned by these customers; returns counts by table."""
    from kefu.channels.storage import delete_file

    counts: dict[str, int] = {}
    skipped = set(skip)
    for d in declarations():
        if d.owned_by is None or d.model in skipped or not customer_ids:
            continue
        table = d.model.__tablename__
        for row in list(session.scalars(d.owned_by(customer_ids))):
            if any(kind == "file" for kind in d.fields.values()):
                delete_file(row)
            if d.erase == "delete":
                session.delete(row)
            else:
                for name, kind in d.fields.items():
                    if kind != "file":
                        setattr(row, name, _scrub_value(kind, getattr(row, name)))
            counts[table] = counts.get(table, 0) + 1
    session.flush()
    return counts
