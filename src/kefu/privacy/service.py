"""Data-subject rights (export, erasure, consent), audited PII reveal and retention de-identification."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.conversations.models import Conversation, Message
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.core.config import get_settings
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput
from kefu.core.signing import keyed_hash
from kefu.customers.models import Customer, CustomerAccessibility, CustomerIdentity
from kefu.privacy.contract import erase_owned
from kefu.privacy.masking import mask_any
from kefu.privacy.models import (
    CONSENT_PURPOSES,
    ConsentEvent,
    DeidentifiedRecord,
    DeletionLedger,
    PrivacyRequest,
    RetentionPolicy,
)
from kefu.privacy.pdf import render_pdf
from kefu.privacy.pii import mask_name, mask_text
from kefu.tickets.models import Ticket

ERASED_BODY = "[已依當事人請求刪除 / erased on request]"
DEFAULT_RETENTION_YEARS = 5
EXPORT_MONTHS = 12


def _keyed_hash(value: str) -> str:
    """HMAC-SHA256 with the install secret: proves identity later without storing it (not reversible)."""
    return keyed_hash(get_settings().secret_key, "kefu-privacy-subject", value)


def _identifier(kind: str, value: str) -> str:
    v = value.strip().lower()
    if kind == "phone":
        v = "".join(c for c in v if c.isdigit() or c == "+")
    return f"{kind}:{v}"


def identifier_hash(brand_id: int, kind: str, value: str) -> str:
    """Keyed hash of one channel identifier in a brand (what the deletion ledger stores)."""
    return _keyed_hash(f"{brand_id}|{_identifier(kind, value)}")


def _get_customer(session: Session, customer_id: int, principal: Principal | None) -> Customer:
    c = get_in_brand(session, Customer, customer_id, principal, f"Customer {customer_id}")
    return c


# ---------------------------------------------------------------- reveal


def audit_reveal(
    session: Session, principal: Principal, *, target_type: str, target_id: int, brand_id: int, reason: str
) -> None:
    """Record that `principal` looked at cleartext PII, and why."""
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput.said("err_privacy_reveal_reason")
    record(
        session,
        principal,
        "pii.reveal",
        target_type=target_type,
        target_id=target_id,
        brand_id=brand_id,
        details={"reason": reason[:500]},
    )


# ---------------------------------------------------------------- consent


def current_consents(session: Session, customer_id: int) -> dict[str, ConsentEvent | None]:
    """Latest consent event per purpose (None = never asked)."""
    out: dict[str, ConsentEvent | None] = dict.fromkeys(CONSENT_PURPOSES)
    for ev in session.scalars(
        select(ConsentEvent).where(ConsentEvent.customer_id == customer_id).order_by(ConsentEvent.id)
    ):
        out[ev.purpose] = ev
    return out


def has_consent(session: Session, customer_id: int, purpose: str) -> bool:
    """True only when the customer's latest decision for `purpose` is a grant (no answer = no consent)."""
    ev = current_consents(session, customer_id).get(purpose)
    return bool(ev and ev.granted)


def consent_history(session: Session, customer_id: int) -> list[ConsentEvent]:
    """Every consent change, oldest first."""
    return list(
        session.scalars(select(ConsentEvent).where(ConsentEvent.customer_id == customer_id).order_by(ConsentEvent.id))
    )


def set_consents(
    session: Session,
    customer: Customer,
    changes: dict[str, bool],
    *,
    actor: Principal | None,
    source: str = "agent",
    note: str = "",
) -> list[ConsentEvent]:
    """Append an event for every purpose whose state actually changes; returns the new events."""
    unknown = set(changes) - set(CONSENT_PURPOSES)
    if unknown:
        raise InvalidInput.said("err_privacy_unknown_purposes", purposes=sorted(unknown))
    current = current_consents(session, customer.id)
    added: list[ConsentEvent] = []
    for purpose, granted in changes.items():
        prev = current[purpose]
        if prev is not None and prev.granted == granted:
            continue
        ev = ConsentEvent(
            brand_id=customer.brand_id,
            customer_id=customer.id,
            purpose=purpose,
            granted=granted,
            source=source,
            actor_id=actor.agent_id if actor else None,
            note=note,
            at=utcnow(),
        )
        session.add(ev)
        added.append(ev)
    session.flush()
    if added:
        record(
            session,
            actor,
            "privacy.consent",
            target_type="customer",
            target_id=customer.id,
            brand_id=customer.brand_id,
            details={"changes": {e.purpose: e.granted for e in added}, "source": source},
        )
    return added


# ---------------------------------------------------------------- export


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def _customer_ids(session: Session, customer: Customer) -> list[int]:
    """The customer plus records merged into it (their history belongs to the same person)."""
    ids = [customer.id]
    frontier = [customer.id]
    while frontier:
        merged = list(session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier))))
        merged = [m for m in merged if m not in ids]
        ids += merged
        frontier = merged
    return ids


def export_data(session: Session, customer: Customer, *, months: int = EXPORT_MONTHS) -> dict[str, Any]:
    """The customer's service records of the last `months` months as a JSON-ready document (cleartext)."""
    now = utcnow()
    since = now - timedelta(days=round(months * 30.44))
    ids = _customer_ids(session, customer)
    convs = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.customer_id.in_(ids), Conversation.last_message_at >= since)
            .order_by(Conversation.id)
        )
    )
    conv_ids = [c.id for c in convs]
    messages = (
        list(
            session.scalars(
                select(Message)
                .where(
                    Message.conversation_id.in_(conv_ids),
                    Message.created_at >= since,
                    Message.is_note.is_(False),  # internal notes are staff work product, not the subject's data
                )
                .order_by(Message.id)
            )
        )
        if conv_ids
        else []
    )
    by_conv: dict[int, list[dict[str, Any]]] = {}
    for m in messages:
        by_conv.setdefault(m.conversation_id, []).append(
            {
                "id": m.id,
                "at": _iso(m.created_at),
                "sender": m.sender_type,
                "channel": m.channel,
                "body": m.body,
                "attachments": [
                    {k: a.get(k) for k in ("filename", "content_type", "size") if k in a}
                    for a in m.attachments
                    if isinstance(a, dict)
                ],
            }
        )
    tickets = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.customer_id.in_(ids), or_(Ticket.created_at >= since, Ticket.updated_at >= since))
            .order_by(Ticket.id)
        )
    )
    idents = list(session.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id.in_(ids))))
    brand = session.get(Brand, customer.brand_id)
    return {
        "format": "kefu.subject-export/1",
        "generated_at": now.isoformat(),
        "period": {"from": since.isoformat(), "to": now.isoformat(), "months": months},
        "brand": {"id": customer.brand_id, "name": brand.name if brand else ""},
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "locale": customer.locale,
            "tier": customer.tier,
            "vip": customer.vip,
            "cumulative_spend": str(customer.cumulative_spend),
            "attributes": customer.attributes,
            "created_at": _iso(customer.created_at),
        },
        "accessibility": [
            {"needs": a.needs, "note": a.note, "source": a.source, "consent_at": _iso(a.consent_at)}
            for a in session.scalars(select(CustomerAccessibility).where(CustomerAccessibility.customer_id.in_(ids)))
        ],
        "identities": [
            {"kind": i.kind, "external_id": i.external_id, "display_name": i.display_name, "since": _iso(i.created_at)}
            for i in idents
        ],
        "consents": [
            {"purpose": e.purpose, "granted": e.granted, "source": e.source, "at": _iso(e.at)}
            for e in session.scalars(
                select(ConsentEvent).where(ConsentEvent.customer_id.in_(ids)).order_by(ConsentEvent.id)
            )
        ],
        "conversations": [
            {
                "id": c.id,
                "channel": c.channel,
                "status": c.status,
                "subject": c.subject,
                "started_at": _iso(c.created_at),
                "last_message_at": _iso(c.last_message_at),
                "messages": by_conv.get(c.id, []),
            }
            for c in convs
        ],
        "tickets": [
            {
                "number": t.number,
                "subject": t.subject,
                "description": t.description,
                "status": t.status,
                "priority": t.priority,
                "category": t.category,
                "channel": t.channel,
                "created_at": _iso(t.created_at),
                "resolved_at": _iso(t.resolved_at),
                "closed_at": _iso(t.closed_at),
            }
            for t in tickets
        ],
    }


def export_lines(doc: dict[str, Any]) -> list[str]:
    """Bilingual plain-text rendering of an export document (the PDF body)."""
    c = doc["customer"]
    lines = [
        f"品牌 Brand: {doc['brand']['name']}",
        f"期間 Period: {doc['period']['from'][:10]} – {doc['period']['to'][:10]}",
        f"產生時間 Generated: {doc['generated_at'][:19]}Z",
        "",
        "【客戶資料 Customer】",
        f"姓名 Name: {c['name']}",
        f"Email: {c['email'] or '-'}",
        f"電話 Phone: {c['phone'] or '-'}",
        f"會員等級 Tier: {c['tier']}",
        "",
        "【渠道身分 Identities】",
    ]
    lines += [f"- {i['kind']}: {i['external_id']} {i['display_name'] or ''}".rstrip() for i in doc["identities"]]
    for a in doc.get("accessibility", []):
        lines += ["", "【無障礙需求 Accessibility】", f"- {', '.join(a['needs'])} {a['note']}".rstrip()]
    lines += ["", "【同意設定 Consents】"]
    lines += [f"- {e['at'][:19]} {e['purpose']}: {'同意 yes' if e['granted'] else '拒絕 no'}" for e in doc["consents"]]
    lines += ["", "【案件 Tickets】"]
    for t in doc["tickets"]:
        lines.append(f"- {t['number']} [{t['status']}] {t['created_at'][:10]} {t['subject']}")
        if t["description"]:
            lines.append(f"  {t['description']}")
    lines += ["", "【對話紀錄 Conversations】"]
    for conv in doc["conversations"]:
        lines.append(f"# {conv['channel']} #{conv['id']} {conv['started_at'][:10]} {conv['subject'] or ''}".rstrip())
        for m in conv["messages"]:
            lines.append(f"  {m['at'][:16].replace('T', ' ')} {m['sender']}: {m['body']}")
    return lines


def export_customer(
    session: Session,
    customer_id: int,
    principal: Principal,
    *,
    fmt: str,
    reason: str,
    months: int = EXPORT_MONTHS,
    request: PrivacyRequest | None = None,
) -> tuple[bytes, str, str]:
    """Run a subject-access export; returns (content, media type, filename) and records (or completes) the request."""
    customer = _get_customer(session, customer_id, principal)
    if fmt not in ("json", "pdf"):
        raise InvalidInput.said("err_privacy_bad_format")
    doc = export_data(session, customer, months=months)
    details = {
        "format": fmt,
        "months": months,
        "conversations": len(doc["conversations"]),
        "tickets": len(doc["tickets"]),
    }
    if request is None:
        req = PrivacyRequest(
            brand_id=customer.brand_id,
            customer_id=customer.id,
            kind="export",
            reason=reason,
            requested_by=principal.agent_id,
        )
        session.add(req)
    else:
        req = request
    req.status, req.details, req.completed_at = "completed", details, utcnow()
    session.flush()
    record(
        session,
        principal,
        "privacy.export",
        target_type="customer",
        target_id=customer.id,
        brand_id=customer.brand_id,
        details={"request_id": req.id, "format": fmt, "months": months, "reason": reason[:500]},
    )
    stamp = doc["generated_at"][:10]
    if fmt == "json":
        body = json.dumps(doc, ensure_ascii=False, indent=2, default=_jsonable).encode()
        return body, "application/json", f"customer-{customer.id}-{stamp}.json"
    title = f"個人服務紀錄 Service records — #{customer.id}"
    return (
        render_pdf(title, export_lines(doc), locale=customer.locale),
        "application/pdf",
        f"customer-{customer.id}-{stamp}.pdf",
    )


# ---------------------------------------------------------------- erasure


def _mark(session: Session, brand_id: int, kind: str, record_id: int, reason: str) -> bool:
    exists = session.scalar(
        select(DeidentifiedRecord.id).where(DeidentifiedRecord.kind == kind, DeidentifiedRecord.record_id == record_id)
    )
    if exists is not None:
        return False
    session.add(DeidentifiedRecord(brand_id=brand_id, kind=kind, record_id=record_id, reason=reason, at=utcnow()))
    return True


def _scrub_conversation(
    session: Session,
    conv: Conversation,
    *,
    erase_customer_text: bool,
    counts: Counter[str],
    known: Sequence[str] = (),
) -> None:
    if conv.subject:
        new = mask_text(_redact_known(conv.subject, known)) if not erase_customer_text else None
        if new != conv.subject:
            conv.subject = new
            counts["conversation_subjects"] += 1
    conv.external_thread_id = None
    for m in session.scalars(select(Message).where(Message.conversation_id == conv.id)):
        # Agent and bot replies echo what the customer told them, so they are masked rather than kept.
        replied = mask_text(_redact_known(m.body, known))
        body = ERASED_BODY if erase_customer_text and m.sender_type == "customer" else replied
        changed = body != m.body or bool(m.attachments) or bool(m.meta)
        m.body, m.attachments, m.meta = body, [], {}
        if changed:
            counts["messages"] += 1


def _known_values(session: Session, ids: list[int]) -> list[str]:
    """The customers' own names, addresses and channel ids, longest first (a name inside an email goes whole)."""
    known: list[str] = []
    for cid in ids:
        c = session.get(Customer, cid)
        if c is not None:
            known += [v for v in (c.name, c.email, c.phone) if v]
        for i in session.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == cid)):
            known += [v for v in (i.external_id, i.display_name) if v]
    return sorted({v for v in known if len(v) >= 2}, key=len, reverse=True)


def _redact_known(text: str, known: Sequence[str]) -> str:
    """Replace the erased customer's own values (names too, which detection cannot find in free text)."""
    for value in known:
        if value and value in text:
            text = text.replace(value, mask_name(value) if not any(c.isdigit() or c == "@" for c in value) else "***")
    return text


def _scrub_ticket(ticket: Ticket, counts: Counter[str], known: Sequence[str] = ()) -> None:
    subject = mask_text(_redact_known(ticket.subject, known))
    description = mask_text(_redact_known(ticket.description, known))
    fields = mask_any(ticket.custom_fields)
    if (subject, description, fields) != (ticket.subject, ticket.description, ticket.custom_fields):
        ticket.subject, ticket.description, ticket.custom_fields = subject, description, fields
        counts["tickets_masked"] += 1


def erase_customer(
    session: Session, customer_id: int, actor: Principal | None, *, reason: str, request_id: int | None = None
) -> tuple[DeletionLedger, bool]:
    """Erase a customer's personal data (idempotent); returns (ledger entry, whether anything changed)."""
    customer = _get_customer(session, customer_id, actor)
    ids = _customer_ids(session, customer)
    counts: Counter[str] = Counter()
    identifiers: set[str] = set()
    # Everything else a package declared as this customer's personal data (complaints, inbound and outbox payloads,
    # stored files, ticket comments and hand-off summaries…); runs before tickets are unlinked from the customer.
    counts.update(erase_owned(session, ids, skip=(CustomerIdentity,)))
    known = _known_values(session, ids)
    for cid in ids:
        c = session.get(Customer, cid)
        assert c is not None
        for ident in session.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == cid)):
            identifiers.add(_identifier(ident.kind, ident.external_id))
        if c.email:
            identifiers.add(_identifier("email", c.email))
        if c.phone:
            identifiers.add(_identifier("phone", c.phone))
        counts["identities"] += session.execute(
            delete(CustomerIdentity).where(CustomerIdentity.customer_id == cid)
        ).rowcount  # type: ignore[attr-defined]
        for conv in session.scalars(select(Conversation).where(Conversation.customer_id == cid)):
            _scrub_conversation(session, conv, erase_customer_text=True, counts=counts, known=known)
        for t in session.scalars(select(Ticket).where(Ticket.customer_id == cid)):
            _scrub_ticket(t, counts, known)
            t.customer_id = None  # tickets stay for statistics, without the link to a person
            counts["tickets_unlinked"] += 1
        if c.name or c.email or c.phone or c.attributes or c.organization_id:
            counts["customers"] += 1
        c.name, c.email, c.phone, c.locale = "", None, None, None
        c.attributes, c.organization_id, c.vip = {}, None, False
        _mark(session, c.brand_id, "customer", c.id, "erasure")
    session.flush()
    changed = any(counts.values())
    prior = session.scalar(
        select(DeletionLedger).where(DeletionLedger.customer_id == customer.id).order_by(DeletionLedger.id).limit(1)
    )
    if prior is not None and not changed:
        queued_again = session.get(PrivacyRequest, request_id) if request_id is not None else None
        if queued_again is not None:  # a queued request for someone already erased: done, nothing left to erase
            queued_again.status, queued_again.completed_at = "completed", utcnow()
            queued_again.details = {"already_erased": True}
            session.flush()
        return prior, False
    subject = f"{customer.brand_id}|customer:{customer.id}|" + "|".join(sorted(identifiers))
    entry = DeletionLedger(
        brand_id=customer.brand_id,
        customer_id=customer.id,
        subject_hash=prior.subject_hash if prior is not None else _keyed_hash(subject),
        identifier_hashes=sorted(_keyed_hash(f"{customer.brand_id}|{i}") for i in identifiers),
        actor_type="agent" if actor else "system",
        actor_id=actor.agent_id if actor else None,
        actor_label=actor.label if actor else "system",
        reason=reason[:500],
        counts={k: v for k, v in sorted(counts.items()) if v},
        request_id=request_id,
        at=utcnow(),
    )
    session.add(entry)
    queued = session.get(PrivacyRequest, request_id) if request_id is not None else None
    if queued is None:
        queued = PrivacyRequest(
            brand_id=customer.brand_id,
            customer_id=customer.id,
            kind="erase",
            reason=reason[:500],
            requested_by=actor.agent_id if actor else None,
        )
        session.add(queued)
    queued.status, queued.details, queued.completed_at = "completed", dict(entry.counts), utcnow()
    _drop_pending_corrections(session, ids)
    session.flush()
    record(
        session,
        actor,
        "privacy.erase",
        target_type="customer",
        target_id=customer.id,
        brand_id=customer.brand_id,
        details={"ledger_id": entry.id, "counts": entry.counts},
    )
    return entry, True


def _drop_pending_corrections(session: Session, customer_ids: list[int]) -> None:
    """Open corrections hold new names/phones/emails: an erasure leaves none of them behind."""
    stmt = select(PrivacyRequest).where(
        PrivacyRequest.customer_id.in_(customer_ids), PrivacyRequest.kind == "correction"
    )
    for req in session.scalars(stmt):
        if "changes" in req.details:
            req.details = {"fields": sorted(req.details["changes"])}
            if req.status in ("pending", "verified"):
                req.status, req.completed_at = "rejected", utcnow()
                req.verification_note = "Customer erased before the correction was made."


def customer_erased(session: Session, customer_id: int | None) -> bool:
    """Whether the customer (or the record it was merged into) was erased: its capability links must be dead."""
    seen: set[int] = set()
    while customer_id is not None and customer_id not in seen:
        seen.add(customer_id)
        if session.scalar(select(DeletionLedger.id).where(DeletionLedger.customer_id == customer_id).limit(1)):
            return True
        customer_id = session.scalar(select(Customer.merged_into_id).where(Customer.id == customer_id))
    return False


def was_erased(session: Session, brand_id: int, kind: str, value: str) -> bool:
    """True when an identifier (e.g. an email that writes in again) belonged to an erased customer."""
    h = identifier_hash(brand_id, kind, value)
    for hashes in session.scalars(select(DeletionLedger.identifier_hashes).where(DeletionLedger.brand_id == brand_id)):
        if h in hashes:
            return True
    return False


# ---------------------------------------------------------------- retention


def retention_years(session: Session, brand_id: int) -> int | None:
    """Years after which a brand's closed records are de-identified (None = disabled)."""
    pol = session.get(RetentionPolicy, brand_id)
    if pol is None:
        return DEFAULT_RETENTION_YEARS
    return pol.years if pol.enabled else None


def set_retention(
    session: Session, brand_id: int, *, years: int, enabled: bool, actor: Principal | None
) -> RetentionPolicy:
    """Create or change a brand's retention policy."""
    if not 1 <= years <= 50:
        raise InvalidInput.said("err_privacy_years_range")
    get_brand(session, brand_id, actor)
    pol = session.get(RetentionPolicy, brand_id)
    if pol is None:
        pol = RetentionPolicy(brand_id=brand_id)
        session.add(pol)
    pol.years, pol.enabled, pol.updated_at = years, enabled, utcnow()
    pol.updated_by = actor.agent_id if actor else None
    session.flush()
    record(
        session,
        actor,
        "privacy.retention.update",
        target_type="brand",
        target_id=brand_id,
        brand_id=brand_id,
        details={"years": years, "enabled": enabled},
    )
    return pol


def _cutoff(years: int, now: datetime) -> datetime:
    return now - timedelta(days=round(years * 365.25))


def _not_marked(stmt: Select[Any], kind: str, col: Any) -> Select[Any]:
    done = select(DeidentifiedRecord.record_id).where(DeidentifiedRecord.kind == kind)
    return stmt.where(col.not_in(done))


def deidentify_batch(session: Session, brand_id: int, years: int, *, now: datetime, batch: int) -> dict[str, int]:
    """De-identify up to `batch` closed conversations, tickets and dormant customers older than `years`."""
    cutoff = _cutoff(years, now)
    counts: Counter[str] = Counter()
    convs = list(
        session.scalars(
            _not_marked(
                select(Conversation).where(
                    Conversation.brand_id == brand_id,
                    Conversation.status == "closed",
                    Conversation.last_message_at < cutoff,
                ),
                "conversation",
                Conversation.id,
            )
            .order_by(Conversation.id)
            .limit(batch)
        )
    )
    for conv in convs:
        _scrub_conversation(session, conv, erase_customer_text=False, counts=counts)
        _mark(session, brand_id, "conversation", conv.id, "retention")
        counts["conversations"] += 1
    tickets = list(
        session.scalars(
            _not_marked(
                select(Ticket).where(
                    Ticket.brand_id == brand_id,
                    Ticket.status == "closed",
                    func.coalesce(Ticket.closed_at, Ticket.updated_at) < cutoff,
                ),
                "ticket",
                Ticket.id,
            )
            .order_by(Ticket.id)
            .limit(batch)
        )
    )
    for t in tickets:
        _scrub_ticket(t, counts)
        _mark(session, brand_id, "ticket", t.id, "retention")
        counts["tickets"] += 1
    # A customer is dormant when nothing of theirs is recent or still open; then their identities go too.
    recent_conv = select(Conversation.customer_id).where(
        or_(Conversation.last_message_at >= cutoff, Conversation.status != "closed")
    )
    recent_ticket = select(Ticket.customer_id).where(
        Ticket.customer_id.is_not(None), or_(Ticket.updated_at >= cutoff, Ticket.status != "closed")
    )
    dormant = list(
        session.scalars(
            _not_marked(
                select(Customer).where(
                    Customer.brand_id == brand_id,
                    Customer.created_at < cutoff,
                    Customer.id.not_in(recent_conv),
                    Customer.id.not_in(recent_ticket),
                ),
                "customer",
                Customer.id,
            )
            .order_by(Customer.id)
            .limit(batch)
        )
    )
    for c in dormant:
        counts["identities"] += session.execute(
            delete(CustomerIdentity).where(CustomerIdentity.customer_id == c.id)
        ).rowcount  # type: ignore[attr-defined]
        c.name = mask_name(c.name) if c.name else ""
        c.email, c.phone, c.attributes = None, None, {}
        _mark(session, brand_id, "customer", c.id, "retention")
        counts["customers"] += 1
    session.flush()
    return dict(counts)


def run_retention(
    session: Session, *, now: datetime | None = None, batch: int = 500, brand_id: int | None = None
) -> dict[int, dict[str, int]]:
    """One batch per brand with retention enabled; returns counts per brand (empty dicts = nothing left)."""
    now = now or utcnow()
    brands = [brand_id] if brand_id is not None else list(session.scalars(select(Brand.id).order_by(Brand.id)))
    out: dict[int, dict[str, int]] = {}
    for bid in brands:
        years = retention_years(session, bid)
        if years is None:
            continue
        counts = deidentify_batch(session, bid, years, now=now, batch=batch)
        out[bid] = counts
        if any(counts.values()):
            record(
                session,
                None,
                "privacy.retention.run",
                target_type="brand",
                target_id=bid,
                brand_id=bid,
                details={"years": years, "counts": counts},
            )
    return out


def list_requests(
    session: Session, principal: Principal, *, kind: str | None = None, limit: int = 100
) -> list[PrivacyRequest]:
    """Data-subject requests (export, erasure) in the caller's brands, newest first."""
    stmt = select(PrivacyRequest).order_by(PrivacyRequest.id.desc())
    stmt = scope_to_brands(stmt, PrivacyRequest.brand_id, principal)
    if kind:
        stmt = stmt.where(PrivacyRequest.kind == kind)
    return list(session.scalars(stmt.limit(limit)))
