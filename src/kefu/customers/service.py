"""Customers, identities (with linking and merge), tiers and organizations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.models import Team
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.brands.service import get_brand, tier_for, tier_label
from kefu.conversations.models import Conversation
from kefu.core.access import get_in_brand, ref_in_brand, scope_to_brands
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.events import publish
from kefu.core.like import pattern
from kefu.core.pagination import keyset_page
from kefu.customers.commands import UpdateCustomer, UpdateOrganization, changes_of, ensure
from kefu.customers.models import Customer, CustomerIdentity, CustomerNote, Organization
from kefu.privacy.search import person_filter
from kefu.tickets.models import Ticket


def _brand_of(session: Session, brand_id: int, principal: Principal | None) -> Brand:
    return get_brand(session, brand_id, principal)


def _check_org(session: Session, brand_id: int, organization_id: int | None) -> None:
    if organization_id is None:
        return
    ref_in_brand(
        session,
        Organization,
        organization_id,
        brand_id,
        "err_core_organization_not_in_brand",
        organization_id=organization_id,
    )


def get_customer(session: Session, customer_id: int, principal: Principal | None) -> Customer:
    """Customer by id (404 when missing or in another brand)."""
    c = get_in_brand(session, Customer, customer_id, principal, f"Customer {customer_id}")
    return c


def identities_of(session: Session, customer_id: int) -> list[CustomerIdentity]:
    """A customer's channel identities."""
    return list(
        session.scalars(
            select(CustomerIdentity).where(CustomerIdentity.customer_id == customer_id).order_by(CustomerIdentity.id)
        )
    )


def create_customer(
    session: Session,
    *,
    brand_id: int,
    actor: Principal | None,
    name: str = "",
    email: str | None = None,
    phone: str | None = None,
    locale: str | None = None,
    organization_id: int | None = None,
    vip: bool = False,
    cumulative_spend: Decimal = Decimal("0"),
    attributes: dict[str, Any] | None = None,
    identities: list[dict[str, Any]] | None = None,
) -> Customer:
    """Create a customer; email/phone also become identities so later contacts link to them."""
    brand = _brand_of(session, brand_id, actor)
    _check_org(session, brand_id, organization_id)
    email = email.strip().lower() if email else None
    customer = Customer(
        brand_id=brand_id,
        name=name,
        email=email,
        phone=phone,
        locale=locale,
        organization_id=organization_id,
        vip=vip,
        cumulative_spend=cumulative_spend,
        tier=tier_for(brand, cumulative_spend),
        attributes=attributes or {},
    )
    session.add(customer)
    session.flush()
    wanted = list(identities or [])
    if email:
        wanted.append({"kind": "email", "external_id": email})
    if phone:
        wanted.append({"kind": "phone", "external_id": phone})
    seen: set[tuple[str, str]] = set()
    for ident in wanted:
        key = (ident["kind"], ident["external_id"])
        if key in seen:
            continue
        seen.add(key)
        add_identity(session, customer, ident["kind"], ident["external_id"], ident.get("display_name"))
    record(session, actor, "customer.create", target_type="customer", target_id=customer.id, brand_id=brand_id)
    join_organization_by_domain(session, customer)
    return customer


def add_identity(
    session: Session, customer: Customer, kind: str, external_id: str, display_name: str | None = None
) -> CustomerIdentity:
    """Attach a channel identity; refuses one that already belongs to another customer."""
    existing = session.scalar(
        select(CustomerIdentity).where(
            CustomerIdentity.brand_id == customer.brand_id,
            CustomerIdentity.kind == kind,
            CustomerIdentity.external_id == external_id,
        )
    )
    if existing is not None:
        if existing.customer_id != customer.id:
            raise Conflict.said(
                "err_customers_identity_taken", kind=kind, external_id=external_id, customer_id=existing.customer_id
            )
        return existing
    ident = CustomerIdentity(
        brand_id=customer.brand_id,
        customer_id=customer.id,
        kind=kind,
        external_id=external_id,
        display_name=display_name,
    )
    session.add(ident)
    session.flush()
    return ident


def find_or_create_by_identity(
    session: Session, brand_id: int, kind: str, external_id: str, display_name: str | None = None
) -> tuple[Customer, bool]:
    """The customer known by this channel identity, creating one on first contact."""
    ident = session.scalar(
        select(CustomerIdentity).where(
            CustomerIdentity.brand_id == brand_id,
            CustomerIdentity.kind == kind,
            CustomerIdentity.external_id == external_id,
        )
    )
    if ident is not None:
        customer = session.get(Customer, ident.customer_id)
        assert customer is not None
        while customer.merged_into_id is not None:  # follow merges to the surviving record
            nxt = session.get(Customer, customer.merged_into_id)
            if nxt is None:
                break
            customer = nxt
        return customer, False
    customer = create_customer(
        session,
        brand_id=brand_id,
        actor=None,
        name=display_name or "",
        email=external_id.lower() if kind == "email" else None,
        phone=external_id if kind == "phone" else None,
        identities=[{"kind": kind, "external_id": external_id, "display_name": display_name}]
        if kind not in ("email", "phone")
        else None,
    )
    return customer, True


def update_customer(
    session: Session, customer: Customer, actor: Principal, command: UpdateCustomer | Mapping[str, Any]
) -> Customer:
    """Apply the fields the command sets."""
    changes = changes_of(ensure(UpdateCustomer, command))
    if "organization_id" in changes:
        _check_org(session, customer.brand_id, changes["organization_id"])
    if changes.get("email"):
        changes["email"] = changes["email"].strip().lower()
    for key, value in changes.items():
        setattr(customer, key, value)
    session.flush()
    if changes.get("email") and "organization_id" not in changes:
        join_organization_by_domain(session, customer)
    record(
        session,
        actor,
        "customer.update",
        target_type="customer",
        target_id=customer.id,
        brand_id=customer.brand_id,
        details={"fields": sorted(changes)},
    )
    return customer


def record_purchase(session: Session, customer: Customer, amount: Decimal, actor: Principal | None) -> Customer:
    """Add to cumulative spend and recompute the membership tier."""
    brand = session.get(Brand, customer.brand_id)
    assert brand is not None
    old_tier = customer.tier
    customer.cumulative_spend = (customer.cumulative_spend or Decimal("0")) + amount
    customer.tier = tier_for(brand, customer.cumulative_spend)
    session.flush()
    if customer.tier != old_tier:
        record(
            session,
            actor,
            "customer.tier_change",
            target_type="customer",
            target_id=customer.id,
            brand_id=customer.brand_id,
            details={"from": old_tier, "to": customer.tier},
        )
        publish(
            session,
            "customer.tier_changed",
            {"customer_id": customer.id, "tier": customer.tier},
            (f"brand:{customer.brand_id}", f"customer:{customer.id}"),
        )
    return customer


def merge_customers(session: Session, target: Customer, source: Customer, actor: Principal | None) -> Customer:
    """Fold `source` into `target`: identities, conversations and tickets move; source is marked merged."""
    if target.id == source.id:
        raise InvalidInput.said("err_customers_merge_into_itself")
    if target.brand_id != source.brand_id:
        raise InvalidInput.said("err_customers_merge_across_brands")
    if source.merged_into_id is not None:
        raise Conflict.said("err_customers_already_merged", customer_id=source.id, into_id=source.merged_into_id)
    session.execute(
        update(CustomerIdentity).where(CustomerIdentity.customer_id == source.id).values(customer_id=target.id)
    )
    session.execute(update(Conversation).where(Conversation.customer_id == source.id).values(customer_id=target.id))
    session.execute(update(Ticket).where(Ticket.customer_id == source.id).values(customer_id=target.id))
    session.execute(update(CustomerNote).where(CustomerNote.customer_id == source.id).values(customer_id=target.id))
    for attr in ("email", "phone", "locale", "organization_id"):
        if getattr(target, attr) is None and getattr(source, attr) is not None:
            setattr(target, attr, getattr(source, attr))
    if not target.name and source.name:
        target.name = source.name
    target.vip = target.vip or source.vip
    target.cumulative_spend = (target.cumulative_spend or Decimal("0")) + (source.cumulative_spend or Decimal("0"))
    brand = session.get(Brand, target.brand_id)
    assert brand is not None
    target.tier = tier_for(brand, target.cumulative_spend)
    target.attributes = {**(source.attributes or {}), **(target.attributes or {})}
    source.merged_into_id = target.id
    source.cumulative_spend = Decimal("0")
    session.flush()
    record(
        session,
        actor,
        "customer.merge",
        target_type="customer",
        target_id=target.id,
        brand_id=target.brand_id,
        details={"source_id": source.id},
    )
    publish(
        session,
        "customer.merged",
        {"customer_id": target.id, "source_id": source.id},
        (f"brand:{target.brand_id}", f"customer:{target.id}", f"customer:{source.id}"),
    )
    return target


def list_customers(
    session: Session,
    principal: Principal,
    *,
    brand_id: int | None,
    q: str | None,
    tier: int | None,
    vip: bool | None,
    organization_id: int | None,
    include_merged: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[Customer], str | None]:
    """Customers, newest first, filtered."""
    stmt = select(Customer)
    stmt = scope_to_brands(stmt, Customer.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Customer.brand_id == brand_id)
    if q:
        ident_match = select(CustomerIdentity.customer_id).where(CustomerIdentity.external_id == q.strip())
        stmt = stmt.where(
            or_(
                person_filter(
                    principal,
                    q,
                    names=[Customer.name],
                    emails=[Customer.email],
                    phones=[Customer.phone],
                    phone_keys=[Customer.phone_key],
                ),
                Customer.id.in_(ident_match),
            )
        )
    if tier is not None:
        stmt = stmt.where(Customer.tier == tier)
    if vip is not None:
        stmt = stmt.where(Customer.vip.is_(vip))
    if organization_id is not None:
        stmt = stmt.where(Customer.organization_id == organization_id)
    if not include_merged:
        stmt = stmt.where(Customer.merged_into_id.is_(None))
    return keyset_page(session, stmt, Customer.id, Customer.id, limit=limit, cursor=cursor)


@dataclass
class Profile:
    """Everything the console's customer page shows about one customer."""

    customer: Customer
    identities: list[CustomerIdentity]
    tickets: list[Ticket]
    conversations: list[Conversation]
    notes: list[CustomerNote]
    organization: Organization | None
    tier_name: str
    merged_into: Customer | None
    currency: str = "TWD"  # the brand's (ISO 4217), for the spend
    merged_from: list[Customer] = field(default_factory=list)


def tier_name(brand: Brand, level: int, locale: str) -> str:
    """The brand's name for a membership tier level, for a reader of `locale` (seed tiers in their language)."""
    name = next((str(t["name"]) for t in brand.tiers if int(t["level"]) == level), None)
    return str(level) if name is None else tier_label(level, name, locale)


def listed_brands(session: Session, rows: Sequence[Customer]) -> dict[int, Brand]:
    """The brands of listed (already brand-checked) customers, by id: one select for tier names and currencies."""
    brand_ids = {c.brand_id for c in rows}
    return {b.id: b for b in session.scalars(select(Brand).where(Brand.id.in_(brand_ids)))} if brand_ids else {}


def tier_names(rows: Sequence[Customer], brands: Mapping[int, Brand], locale: str) -> dict[int, str]:
    """Each listed customer's membership tier by its brand's name for it (``brands``: listed_brands), by customer id."""
    return {c.id: tier_name(brands[c.brand_id], c.tier, locale) if c.brand_id in brands else str(c.tier) for c in rows}


def profile(session: Session, customer_id: int, principal: Principal, locale: str, *, limit: int = 50) -> Profile:
    """A customer's profile: identities on each channel, recent tickets and conversations, notes (brand-checked)."""
    c = get_customer(session, customer_id, principal)
    brand = session.get(Brand, c.brand_id)
    assert brand is not None
    tickets = list(
        session.scalars(select(Ticket).where(Ticket.customer_id == c.id).order_by(Ticket.id.desc()).limit(limit))
    )
    convs = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.customer_id == c.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(limit)
        )
    )
    notes = list(
        session.scalars(
            select(CustomerNote).where(CustomerNote.customer_id == c.id).order_by(CustomerNote.id.desc()).limit(100)
        )
    )
    merged_from = list(session.scalars(select(Customer).where(Customer.merged_into_id == c.id).limit(20)))
    return Profile(
        customer=c,
        identities=identities_of(session, c.id),
        tickets=tickets,
        conversations=convs,
        notes=notes,
        organization=session.get(Organization, c.organization_id) if c.organization_id else None,
        tier_name=tier_name(brand, c.tier, locale),
        merged_into=session.get(Customer, c.merged_into_id) if c.merged_into_id else None,
        merged_from=merged_from,
        currency=brand.currency,
    )


def add_note(session: Session, customer: Customer, actor: Principal, body: str) -> CustomerNote:
    """Add an agent's note to a customer (audited)."""
    text = body.strip()
    if not text:
        raise InvalidInput.said("err_customers_note_empty")
    if len(text) > 4000:
        raise InvalidInput.said("err_customers_note_too_long")
    note = CustomerNote(brand_id=customer.brand_id, customer_id=customer.id, author_id=actor.agent_id, body=text)
    session.add(note)
    session.flush()
    record(
        session,
        actor,
        "customer.note",
        target_type="customer",
        target_id=customer.id,
        brand_id=customer.brand_id,
        details={"note_id": note.id},
    )
    return note


@dataclass
class MergePreview:
    """What merging `source` into `target` would move and the values the kept customer ends up with."""

    target: Customer
    source: Customer
    identities: int
    conversations: int
    tickets: int
    fills: dict[str, str]  # attribute -> value taken from the source because the target has none


def merge_preview(session: Session, target: Customer, source: Customer) -> MergePreview:
    """Counts and filled-in fields of a merge, without changing anything (same checks as merge_customers)."""
    if target.id == source.id:
        raise InvalidInput.said("err_customers_merge_into_itself")
    if target.brand_id != source.brand_id:
        raise InvalidInput.said("err_customers_merge_across_brands")
    if source.merged_into_id is not None:
        raise Conflict.said("err_customers_already_merged", customer_id=source.id, into_id=source.merged_into_id)

    def count(model: Any, col: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(col == source.id)) or 0)

    fills = {
        attr: str(getattr(source, attr))
        for attr in ("name", "email", "phone", "locale")
        if not getattr(target, attr) and getattr(source, attr)
    }
    return MergePreview(
        target=target,
        source=source,
        identities=count(CustomerIdentity, CustomerIdentity.customer_id),
        conversations=count(Conversation, Conversation.customer_id),
        tickets=count(Ticket, Ticket.customer_id),
        fills=fills,
    )


# ---------------------------------------------------------------- organizations


def create_organization(
    session: Session,
    *,
    brand_id: int,
    name: str,
    domain: str | None,
    dedicated_team_id: int | None,
    notes: str,
    actor: Principal | None,
) -> Organization:
    """Create a B2B organization."""
    _brand_of(session, brand_id, actor)
    _check_team(session, brand_id, dedicated_team_id)
    if session.scalar(select(Organization.id).where(Organization.brand_id == brand_id, Organization.name == name)):
        raise Conflict.said("err_customers_organization_exists", name=name)
    org = Organization(
        brand_id=brand_id, name=name, domain=normalize_domain(domain), dedicated_team_id=dedicated_team_id, notes=notes
    )
    session.add(org)
    session.flush()
    record(session, actor, "organization.create", target_type="organization", target_id=org.id, brand_id=brand_id)
    join_domain_customers(session, org)
    return org


# ---------------------------------------------------------------- B2B: contacts at an organization's domain join it


def normalize_domain(domain: str | None) -> str | None:
    """`@Example.COM.` → `example.com` (None for blank)."""
    value = (domain or "").strip().lstrip("@").rstrip(".").lower()
    return value or None


def email_domain(email: str | None) -> str | None:
    """The domain part of an address."""
    if not email or "@" not in email:
        return None
    return normalize_domain(email.rsplit("@", 1)[1])


def organization_for_email(session: Session, brand_id: int, email: str | None) -> Organization | None:
    """The brand's organization whose domain is the address's domain or a parent of it (most specific first)."""
    domain = email_domain(email)
    if domain is None:
        return None
    parts = domain.split(".")
    candidates = [".".join(parts[i:]) for i in range(len(parts) - 1)]  # sales.acme.com → sales.acme.com, acme.com
    rows = list(
        session.scalars(
            select(Organization).where(Organization.brand_id == brand_id, Organization.domain.in_(candidates))
        )
    )
    return min(rows, key=lambda o: (candidates.index(o.domain or ""), o.id)) if rows else None


def _join(session: Session, customer: Customer, org: Organization) -> None:
    customer.organization_id = org.id
    session.flush()
    record(
        session,
        None,
        "customer.organization_join",
        target_type="customer",
        target_id=customer.id,
        brand_id=customer.brand_id,
        details={"organization_id": org.id, "domain": org.domain, "by": "email_domain"},
        actor_type="system",
        actor_label="customers.domain_join",
    )


def join_organization_by_domain(session: Session, customer: Customer) -> Organization | None:
    """A customer without an organization joins the one owning their email domain (audited); returns it."""
    if customer.organization_id is not None:
        return None
    org = organization_for_email(session, customer.brand_id, customer.email)
    if org is not None:
        _join(session, customer, org)
    return org


def join_domain_customers(session: Session, org: Organization, limit: int = 10_000) -> int:
    """Existing customers at the organization's domain (or its subdomains) without one join it; returns how many."""
    if not org.domain:
        return 0
    rows = session.scalars(
        select(Customer)
        .where(
            Customer.brand_id == org.brand_id,
            Customer.organization_id.is_(None),
            Customer.merged_into_id.is_(None),
            or_(pattern(Customer.email, "%@", org.domain, ""), pattern(Customer.email, "%.", org.domain, "")),
        )
        .order_by(Customer.id)
        .limit(limit)
    )
    joined = 0
    for customer in rows:
        if organization_for_email(session, org.brand_id, customer.email) is org:
            _join(session, customer, org)
            joined += 1
    return joined


def _check_team(session: Session, brand_id: int, team_id: int | None) -> None:
    if team_id is None:
        return
    ref_in_brand(session, Team, team_id, brand_id, "err_core_team_not_in_brand", team_id=team_id)


def get_organization(session: Session, org_id: int, principal: Principal | None) -> Organization:
    """Organization by id (404 when missing or not visible)."""
    org = get_in_brand(session, Organization, org_id, principal, f"Organization {org_id}")
    return org


def update_organization(
    session: Session, org: Organization, actor: Principal, command: UpdateOrganization | Mapping[str, Any]
) -> Organization:
    """Apply the fields the command sets."""
    changes = changes_of(ensure(UpdateOrganization, command))
    name = changes.get("name")
    taken = select(Organization.id).where(
        Organization.brand_id == org.brand_id, Organization.name == name, Organization.id != org.id
    )
    if name is not None and session.scalar(taken) is not None:  # a 409 like create, not the unique index's 500
        raise Conflict.said("err_customers_organization_exists", name=name)
    if "dedicated_team_id" in changes:
        _check_team(session, org.brand_id, changes["dedicated_team_id"])
    if "domain" in changes:
        changes["domain"] = normalize_domain(changes["domain"])
    for key, value in changes.items():
        setattr(org, key, value)
    session.flush()
    if changes.get("domain"):
        join_domain_customers(session, org)
    record(
        session,
        actor,
        "organization.update",
        target_type="organization",
        target_id=org.id,
        brand_id=org.brand_id,
        details={"fields": sorted(changes)},
    )
    return org
