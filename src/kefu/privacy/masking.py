"""Response-layer masking: API bodies carry customer PII only for principals holding `pii:reveal`."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel

from kefu.auth.permissions import Principal
from kefu.privacy.pii import PiiKind, find_pii, mask_name, mask_text, mask_value

REVEAL = "pii:reveal"
M = TypeVar("M", bound=BaseModel)


def can_reveal(principal: Principal | None) -> bool:
    """True when the caller may see customer PII in cleartext."""
    return principal is not None and principal.can(REVEAL)


def mask_email(value: str) -> str:
    """a***@example.com."""
    return mask_value(PiiKind.EMAIL, value) if "@" in value else mask_identifier(value)


def mask_phone(value: str) -> str:
    """Phone numbers keep a short head and the last three digits."""
    for m in find_pii(value):
        if m.kind in (PiiKind.TW_MOBILE, PiiKind.CN_MOBILE, PiiKind.TW_LANDLINE):
            return value[: m.start] + mask_value(m.kind, m.value) + value[m.end :]
    digits = sum(c.isdigit() for c in value)
    seen = 0
    out = []
    for c in value:
        if c.isdigit():
            out.append(c if seen >= digits - 3 else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def mask_identifier(value: str) -> str:
    """Opaque channel ids (LINE userId, PSID…): keep four leading characters so agents can tell them apart."""
    if len(value) <= 4:
        return "*" * len(value)
    return value[:4] + "*" * min(len(value) - 4, 8)


def mask_identity_value(kind: str, value: str) -> str:
    """Mask an identity's external id according to its channel kind."""
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    return mask_identifier(value)


def mask_any(value: Any) -> Any:
    """Mask free text inside nested JSON values (strings through mask_text)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_any(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_any(v) for v in value]
    return value


_SAFE_NAME = re.compile(r"^[\s\W\d_]*$")


def _name(value: str) -> str:
    return value if _SAFE_NAME.match(value) else mask_name(value)


def _update(obj: M, changes: dict[str, Any]) -> M:
    return obj.model_copy(update={k: v for k, v in changes.items() if hasattr(obj, k)})


def identity(principal: Principal | None, out: M) -> M:
    """An identity body (kind, external_id, display_name)."""
    if can_reveal(principal):
        return out
    kind = str(getattr(out, "kind", ""))
    ext = getattr(out, "external_id", None)
    disp = getattr(out, "display_name", None)
    return _update(
        out,
        {
            "external_id": mask_identity_value(kind, ext) if isinstance(ext, str) else ext,
            "display_name": _name(disp) if isinstance(disp, str) else disp,
        },
    )


def customer(principal: Principal | None, out: M) -> M:
    """A customer body: name, email, phone, free-text attributes and nested identities."""
    if can_reveal(principal):
        return out
    changes: dict[str, Any] = {}
    name = getattr(out, "name", None)
    if isinstance(name, str):
        changes["name"] = _name(name)
    email = getattr(out, "email", None)
    if isinstance(email, str):
        changes["email"] = mask_email(email)
    phone = getattr(out, "phone", None)
    if isinstance(phone, str):
        changes["phone"] = mask_phone(phone)
    attrs = getattr(out, "attributes", None)
    if isinstance(attrs, dict):
        changes["attributes"] = mask_any(attrs)
    idents = getattr(out, "identities", None)
    if isinstance(idents, list):
        changes["identities"] = [identity(principal, i) if isinstance(i, BaseModel) else i for i in idents]
    return _update(out, changes)


def text_fields(principal: Principal | None, out: M, *fields: str) -> M:
    """Mask PII spans inside the named free-text fields (message body, ticket subject/description…)."""
    if can_reveal(principal):
        return out
    changes: dict[str, Any] = {}
    for name in fields:
        value = getattr(out, name, None)
        if isinstance(value, str):
            changes[name] = mask_text(value)
    return _update(out, changes)


def message(principal: Principal | None, out: M) -> M:
    """A message or timeline item (body and attachment filenames)."""
    if can_reveal(principal):
        return out
    masked = text_fields(principal, out, "body")
    atts = getattr(out, "attachments", None)
    if isinstance(atts, list):
        masked = _update(masked, {"attachments": [_attachment(a) for a in atts]})
    return masked


def _attachment(att: Any) -> Any:
    if isinstance(att, dict) and isinstance(att.get("filename"), str):
        return {**att, "filename": mask_text(att["filename"])}
    return att


def conversation(principal: Principal | None, out: M) -> M:
    """A conversation (its subject may quote the customer)."""
    return text_fields(principal, out, "subject")


def ticket(principal: Principal | None, out: M) -> M:
    """A ticket (subject and description through mask_text)."""
    return text_fields(principal, out, "subject", "description")


def mask_for_external(text: str) -> str:
    """Text about to leave the install (LLM, translation, analytics vendors): every detected PII span masked."""
    return mask_text(text)


def mask_record(row: dict[str, Any], *, names: tuple[str, ...] = ("name", "customer_name")) -> dict[str, Any]:
    """Mask one export row (CSV/JSON reports): name-like keys with mask_name, emails/phones by key, the rest by text."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, str) and key in names:
            out[key] = _name(value)
        elif isinstance(value, str) and "email" in key:
            out[key] = mask_email(value)
        elif isinstance(value, str) and "phone" in key:
            out[key] = mask_phone(value)
        else:
            out[key] = mask_any(value)
    return out


class PiiView:
    """Template helper: the same masking as the API, for server-rendered pages."""

    def __init__(self, principal: Principal | None) -> None:
        self.reveal = can_reveal(principal)

    def text(self, value: str | None) -> str:
        """Free text with PII masked unless revealed."""
        return value or "" if self.reveal else mask_text(value or "")

    def name(self, value: str | None) -> str:
        """A person's name (王○明) unless revealed."""
        return value or "" if self.reveal else _name(value or "")

    def email(self, value: str | None) -> str:
        """An email address unless revealed."""
        return value or "" if self.reveal or not value else mask_email(value)

    def phone(self, value: str | None) -> str:
        """A phone number unless revealed."""
        return value or "" if self.reveal or not value else mask_phone(value)

    def ident(self, kind: str, value: str) -> str:
        """A channel identity unless revealed."""
        return value if self.reveal else mask_identity_value(kind, value)
