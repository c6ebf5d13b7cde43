"""Customer and organization endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.models import Brand
from kefu.core.access import scope_to_brands
from kefu.core.pagination import Page
from kefu.customers import accessibility as acc
from kefu.customers import service
from kefu.customers.models import Customer, Organization
from kefu.customers.schemas import (
    CustomerCreate,
    CustomerDetail,
    CustomerOut,
    CustomerUpdate,
    IdentityIn,
    IdentityOut,
    MergeIn,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    PurchaseIn,
)
from kefu.idempotency.deps import Idem
from kefu.privacy import masking as pii  # response masking for callers without pii:reveal (#7)
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["customers"])
Read = Annotated[Principal, Depends(require("customers:read"))]
Write = Annotated[Principal, Depends(require("customers:write"))]


def _detail(db: DB, customer_id: int, principal: Principal) -> CustomerDetail:
    c = service.get_customer(db, customer_id, principal)
    idents = [IdentityOut.model_validate(i) for i in service.identities_of(db, c.id)]
    return pii.customer(principal, CustomerDetail(**CustomerOut.model_validate(c).model_dump(), identities=idents))


@router.get("/customers", response_model=Page[CustomerOut])
def list_customers(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    tier: int | None = None,
    vip: bool | None = None,
    organization_id: int | None = None,
    include_merged: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[CustomerOut]:
    """Customers, newest first."""
    rows, nxt = service.list_customers(
        db,
        principal,
        brand_id=brand_id,
        q=q,
        tier=tier,
        vip=vip,
        organization_id=organization_id,
        include_merged=include_merged,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[pii.customer(principal, CustomerOut.model_validate(c)) for c in rows], next_cursor=nxt)


@router.post("/customers", response_model=CustomerDetail, status_code=201)
def create_customer(body: CustomerCreate, db: DB, principal: Write, idem: Idem) -> CustomerDetail | JSONResponse:
    """Create a customer."""

    def work() -> CustomerDetail:
        c = service.create_customer(
            db,
            brand_id=body.brand_id,
            actor=principal,
            name=body.name,
            email=body.email,
            phone=body.phone,
            locale=body.locale,
            organization_id=body.organization_id,
            vip=body.vip,
            cumulative_spend=body.cumulative_spend,
            attributes=body.attributes,
            identities=[i.model_dump() for i in body.identities],
        )
        return _detail(db, c.id, principal)

    return idem.run(db, work, lambda customer_id: _detail(db, customer_id, principal))


@router.get("/customers/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: int, db: DB, principal: Read) -> CustomerDetail:
    """One customer with identities."""
    return _detail(db, customer_id, principal)


@router.patch("/customers/{customer_id}", response_model=CustomerDetail)
def update_customer(customer_id: int, body: CustomerUpdate, db: DB, principal: Write) -> CustomerDetail:
    """Change a customer."""
    c = service.get_customer(db, customer_id, principal)
    service.update_customer(db, c, principal, body)
    return _detail(db, customer_id, principal)


@router.post("/customers/{customer_id}/identities", response_model=IdentityOut, status_code=201)
def add_identity(customer_id: int, body: IdentityIn, db: DB, principal: Write) -> IdentityOut:
    """Link a channel identity to a customer."""
    c = service.get_customer(db, customer_id, principal)
    ident = service.add_identity(db, c, body.kind, body.external_id, body.display_name)
    return pii.identity(principal, IdentityOut.model_validate(ident))


@router.post("/customers/{customer_id}/purchases", response_model=CustomerOut)
def add_purchase(customer_id: int, body: PurchaseIn, db: DB, principal: Write) -> CustomerOut:
    """Record spend; the membership tier follows."""
    c = service.get_customer(db, customer_id, principal)
    return pii.customer(principal, CustomerOut.model_validate(service.record_purchase(db, c, body.amount, principal)))


@router.post("/customers/{customer_id}/merge", response_model=CustomerDetail)
def merge(customer_id: int, body: MergeIn, db: DB, principal: Write) -> CustomerDetail:
    """Merge another customer record into this one."""
    target = service.get_customer(db, customer_id, principal)
    source = service.get_customer(db, body.source_id, principal)
    service.merge_customers(db, target, source, principal)
    return _detail(db, customer_id, principal)


@router.get("/organizations", response_model=list[OrganizationOut], tags=["organizations"])
def list_organizations(db: DB, principal: Read, brand_id: int | None = None) -> list[OrganizationOut]:
    """Organizations."""
    stmt = scope_to_brands(select(Organization).order_by(Organization.id), Organization.brand_id, principal)
    if brand_id is not None:
        stmt = stmt.where(Organization.brand_id == brand_id)
    return [OrganizationOut.model_validate(o) for o in db.scalars(stmt)]


@router.post("/organizations", response_model=OrganizationOut, status_code=201, tags=["organizations"])
def create_organization(body: OrganizationCreate, db: DB, principal: Write) -> OrganizationOut:
    """Create an organization."""
    org = service.create_organization(
        db,
        brand_id=body.brand_id,
        name=body.name,
        domain=body.domain,
        dedicated_team_id=body.dedicated_team_id,
        notes=body.notes,
        actor=principal,
    )
    return OrganizationOut.model_validate(org)


@router.get("/organizations/{org_id}", response_model=OrganizationOut, tags=["organizations"])
def get_organization(org_id: int, db: DB, principal: Read) -> OrganizationOut:
    """One organization."""
    return OrganizationOut.model_validate(service.get_organization(db, org_id, principal))


@router.patch("/organizations/{org_id}", response_model=OrganizationOut, tags=["organizations"])
def update_organization(org_id: int, body: OrganizationUpdate, db: DB, principal: Write) -> OrganizationOut:
    """Change an organization."""
    org = service.get_organization(db, org_id, principal)
    return OrganizationOut.model_validate(service.update_organization(db, org, principal, body))


@router.get("/customers/{customer_id}/accessibility", response_model=acc.NeedsOut)
def get_accessibility(customer_id: int, db: DB, principal: Read) -> acc.NeedsOut:
    """Declared accessibility needs and what follows for call-backs and notices (badge on conversations, cases)."""
    return _needs_out(db, service.get_customer(db, customer_id, principal))


@router.put("/customers/{customer_id}/accessibility", response_model=acc.NeedsOut)
def put_accessibility(customer_id: int, body: acc.DeclareNeeds, db: DB, principal: Write) -> acc.NeedsOut:
    """Record the needs the customer told the agent about, with their consent (an empty list withdraws them)."""
    c = service.get_customer(db, customer_id, principal)
    acc.declare(db, c, body, principal, source="agent")
    return _needs_out(db, c)


def _needs_out(db: DB, c: Customer) -> acc.NeedsOut:
    from kefu.callbacks.service import video_template  # video sessions are call-backs, which build on customers

    brand = db.get(Brand, c.brand_id)
    return acc.describe(db, c, video=brand is not None and video_template(brand) is not None)
