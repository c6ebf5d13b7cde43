"""Ticket endpoints: tickets, lifecycle extras (merge, split, links, timeline), taxonomy, custom fields, progress."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from kefu.auth.deps import DB, client_ip, commit_in_one_hop, require
from kefu.auth.permissions import Principal
from kefu.core.db import loaded_values
from kefu.core.errors import NotFound, TooManyRequests
from kefu.core.pagination import Page
from kefu.idempotency.deps import Idem
from kefu.privacy import masking as pii  # response masking for callers without pii:reveal (#7)
from kefu.tickets import progress, service
from kefu.tickets.classify import classifier_for
from kefu.tickets.schemas import (
    ActivityOut,
    CategoryIn,
    CategoryOut,
    CategoryUpdate,
    ClassifyIn,
    ClassifyOut,
    CommentIn,
    FeedbackOut,
    FieldDefinitionIn,
    FieldDefinitionOut,
    FieldDefinitionUpdate,
    LinkIn,
    LinkOut,
    MergeIn,
    ProgressOut,
    ProgressQueryIn,
    SplitIn,
    TicketCreate,
    TicketOut,
    TicketUpdate,
)
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["tickets"])
Read = Annotated[Principal, Depends(require("tickets:read"))]
Write = Annotated[Principal, Depends(require("tickets:write"))]
Configure = Annotated[Principal, Depends(require("teams:manage"))]
Reports = Annotated[Principal, Depends(require("reports:read"))]


@router.get("/tickets", response_model=Page[TicketOut])
def list_tickets(
    db: DB,
    principal: Read,
    brand_id: int | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    team_id: int | None = None,
    customer_id: int | None = None,
    organization_id: int | None = None,
    category: str | None = None,
    tag: str | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Ticket number, or words that must all occur in the subject, description or messages "
            "(Traditional and Simplified Chinese match each other; case-insensitive).",
        ),
    ] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: Annotated[str, Query(pattern="^(updated_at|created_at)$")] = "updated_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[TicketOut]:
    """Tickets, newest first, with filters and keyset pagination."""
    rows, nxt = service.list_tickets(
        db,
        principal,
        brand_id=brand_id,
        status=status,
        priority=priority,
        assignee_id=assignee_id,
        unassigned=unassigned,
        team_id=team_id,
        customer_id=customer_id,
        organization_id=organization_id,
        category=category,
        tag=tag,
        q=q,
        created_after=created_after,
        created_before=created_before,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[pii.ticket(principal, TicketOut.model_validate(t)) for t in rows], next_cursor=nxt)


_OUT_FIELDS = tuple(TicketOut.model_fields)


@router.post("/tickets", response_model=TicketOut, status_code=201)
async def create_ticket(body: TicketCreate, db: DB, principal: Write, idem: Idem) -> TicketOut | JSONResponse:
    """Open a ticket (classified, routed, SLA started and auto-assigned as configured)."""

    def work() -> TicketOut:
        t = service.open_ticket(db, body, principal)  # the body is the command (TicketCreate ⊂ CreateTicket)
        # A new ticket has every column loaded: validated from those values, not one ORM attribute read per field.
        return pii.ticket(principal, TicketOut.model_validate(loaded_values(t, _OUT_FIELDS) or t))

    def again(ticket_id: int) -> TicketOut:
        return pii.ticket(principal, TicketOut.model_validate(service.get_ticket(db, ticket_id, principal)))

    # authentication came from the token cache: one hop per create
    return await commit_in_one_hop(db, lambda: idem.run(db, work, again))


@router.get("/tickets/by-number/{number}", response_model=TicketOut)
def get_by_number(number: str, db: DB, principal: Read) -> TicketOut:
    """A ticket by its number, e.g. KF-000123."""
    return pii.ticket(principal, TicketOut.model_validate(service.get_ticket_by_number(db, number, principal)))


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: int, db: DB, principal: Read) -> TicketOut:
    """One ticket."""
    return pii.ticket(principal, TicketOut.model_validate(service.get_ticket(db, ticket_id, principal)))


@router.patch("/tickets/{ticket_id}", response_model=TicketOut)
def update_ticket(ticket_id: int, body: TicketUpdate, db: DB, principal: Write) -> TicketOut:
    """Change a ticket (status, priority, category, team, assignment, tags, fields)."""
    t = service.get_ticket(db, ticket_id, principal)
    return pii.ticket(
        principal,
        TicketOut.model_validate(service.update_ticket(db, t, principal, body)),
    )


@router.post("/tickets/{ticket_id}/merge", response_model=TicketOut)
def merge(ticket_id: int, body: MergeIn, db: DB, principal: Write) -> TicketOut:
    """Merge other tickets (duplicates) into this one."""
    target = service.get_ticket(db, ticket_id, principal)
    sources = [service.get_ticket(db, sid, principal) for sid in dict.fromkeys(body.source_ids)]
    return pii.ticket(principal, TicketOut.model_validate(service.merge_tickets(db, target, sources, principal)))


@router.post("/tickets/{ticket_id}/split", response_model=TicketOut, status_code=201)
def split(ticket_id: int, body: SplitIn, db: DB, principal: Write, idem: Idem) -> TicketOut | JSONResponse:
    """Split a new child ticket off this one, moving the given conversations."""

    def work() -> TicketOut:
        source = service.get_ticket(db, ticket_id, principal)
        child = service.split_ticket(db, source, principal, **body.model_dump())
        return pii.ticket(principal, TicketOut.model_validate(child))

    def again(child_id: int) -> TicketOut:
        return pii.ticket(principal, TicketOut.model_validate(service.get_ticket(db, child_id, principal)))

    return idem.run(db, work, again)


@router.get("/tickets/{ticket_id}/links", response_model=list[LinkOut])
def links(ticket_id: int, db: DB, principal: Read) -> list[LinkOut]:
    """Links of a ticket (either end)."""
    t = service.get_ticket(db, ticket_id, principal)
    return [LinkOut.model_validate(x) for x in service.links_of(db, t)]


@router.post("/tickets/{ticket_id}/links", response_model=LinkOut, status_code=201)
def link(ticket_id: int, body: LinkIn, db: DB, principal: Write) -> LinkOut:
    """Link this ticket to another (related, duplicate, or parent of a child)."""
    source = service.get_ticket(db, ticket_id, principal)
    target = service.get_ticket(db, body.target_id, principal)
    return LinkOut.model_validate(service.link_tickets(db, source, target, body.kind, principal))


@router.delete("/tickets/{ticket_id}/links/{link_id}", status_code=204)
def unlink(ticket_id: int, link_id: int, db: DB, principal: Write) -> None:
    """Remove a link."""
    service.unlink(db, service.get_ticket(db, ticket_id, principal), link_id, principal)


@router.get("/tickets/{ticket_id}/activities", response_model=list[ActivityOut])
def activities(
    ticket_id: int,
    db: DB,
    principal: Read,
    after_id: int | None = None,
    public_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ActivityOut]:
    """The ticket's timeline, oldest first (resume with after_id)."""
    t = service.get_ticket(db, ticket_id, principal)
    rows = service.list_activities(db, t, public_only=public_only, after_id=after_id, limit=limit)
    return [pii.text_fields(principal, ActivityOut.model_validate(r), "body") for r in rows]


@router.post("/tickets/{ticket_id}/activities", response_model=ActivityOut, status_code=201)
def comment(ticket_id: int, body: CommentIn, db: DB, principal: Write, idem: Idem) -> ActivityOut | JSONResponse:
    """Post a public update (the customer sees it in the progress query) or an internal note."""

    def work() -> ActivityOut:
        t = service.get_ticket(db, ticket_id, principal)
        return pii.text_fields(
            principal,
            ActivityOut.model_validate(service.add_comment(db, t, principal, body.body, public=body.public)),
            "body",
        )

    def again(activity_id: int) -> ActivityOut:
        activity = service.get_activity(db, service.get_ticket(db, ticket_id, principal), activity_id)
        return pii.text_fields(principal, ActivityOut.model_validate(activity), "body")

    return idem.run(db, work, again)


@router.post("/tickets/classify", response_model=ClassifyOut)
def classify(body: ClassifyIn, db: DB, principal: Read) -> ClassifyOut:
    """Preview the brand's classifier on a text."""
    from kefu.core.access import ensure_brand

    ensure_brand(principal, body.brand_id, "Brand")
    category, confidence = classifier_for(db, body.brand_id).classify(body.text)
    return ClassifyOut(category=category, confidence=confidence)


@router.get("/classification-feedback", response_model=Page[FeedbackOut], tags=["tickets"])
def feedback(
    db: DB,
    principal: Reports,
    brand_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> Page[FeedbackOut]:
    """Agents' corrections of automatic categories, newest first (training data for the classifier)."""
    rows, nxt = service.list_feedback(db, principal, brand_id=brand_id, limit=limit, cursor=cursor)
    return Page(items=[FeedbackOut.model_validate(r) for r in rows], next_cursor=nxt)


# ---------------------------------------------------------------- taxonomy and custom fields


@router.get("/ticket-categories", response_model=list[CategoryOut])
def categories(brand_id: int, db: DB, principal: Read) -> list[CategoryOut]:
    """A brand's ticket categories."""
    return [CategoryOut.model_validate(c) for c in service.list_categories(db, brand_id, principal)]


@router.post("/ticket-categories", response_model=CategoryOut, status_code=201)
def create_category(body: CategoryIn, db: DB, principal: Configure) -> CategoryOut:
    """Add a category (admins and supervisors)."""
    return CategoryOut.model_validate(service.create_category(db, body, actor=principal))


@router.patch("/ticket-categories/{category_id}", response_model=CategoryOut)
def update_category(category_id: int, body: CategoryUpdate, db: DB, principal: Configure) -> CategoryOut:
    """Change a category."""
    row = service.get_category(db, category_id, principal)
    return CategoryOut.model_validate(service.update_category(db, row, principal, body))


@router.post("/brands/{brand_id}/ticket-categories/defaults", response_model=list[CategoryOut])
def install_categories(brand_id: int, db: DB, principal: Configure) -> list[CategoryOut]:
    """Install the default bilingual taxonomy (existing keys are kept)."""
    service.install_default_categories(db, brand_id, principal)
    return [CategoryOut.model_validate(c) for c in service.list_categories(db, brand_id, principal)]


@router.get("/ticket-fields", response_model=list[FieldDefinitionOut])
def fields(brand_id: int, db: DB, principal: Read) -> list[FieldDefinitionOut]:
    """A brand's custom field definitions."""
    return [FieldDefinitionOut.model_validate(f) for f in service.list_field_definitions(db, brand_id, principal)]


@router.post("/ticket-fields", response_model=FieldDefinitionOut, status_code=201)
def create_field(body: FieldDefinitionIn, db: DB, principal: Configure) -> FieldDefinitionOut:
    """Define a custom field (admins and supervisors)."""
    return FieldDefinitionOut.model_validate(service.create_field_definition(db, body, actor=principal))


@router.patch("/ticket-fields/{field_id}", response_model=FieldDefinitionOut)
def update_field(field_id: int, body: FieldDefinitionUpdate, db: DB, principal: Configure) -> FieldDefinitionOut:
    """Change a custom field definition."""
    row = service.get_field_definition(db, field_id, principal)
    changed = service.update_field_definition(db, row, principal, body)
    return FieldDefinitionOut.model_validate(changed)


# ---------------------------------------------------------------- public (no agent authentication)

public = Router(prefix="/api/v1/public", tags=["public"])


@public.post(
    "/tickets/progress",
    response_model=ProgressOut,
    responses={404: {"description": "No ticket matches"}, 429: {"description": "Too many attempts"}},
)
def ticket_progress(body: ProgressQueryIn, request: Request, db: DB) -> ProgressOut:
    """Customer progress query: ticket number plus the email or phone on file (rate limited, no data leak)."""
    try:
        view = progress.customer_progress(db, body.number, body.contact, ip=client_ip(request))
    except (NotFound, TooManyRequests):
        db.commit()  # the failed attempt must count even though the request fails
        raise
    return ProgressOut.model_validate(view)


@public.post("/tickets/confirm", response_model=ProgressOut, responses={404: {"description": "No ticket matches"}})
def confirm_resolution(body: ProgressQueryIn, request: Request, db: DB) -> ProgressOut:
    """The customer confirms a resolved ticket is solved; it closes."""
    try:
        # The ticket the verified lookup found (same number normalisation), never a second lookup by raw number.
        ticket = progress.verified_ticket(db, body.number, body.contact, ip=client_ip(request))
    except (NotFound, TooManyRequests):
        db.commit()
        raise
    service.confirm_resolution(db, ticket, None)
    return ProgressOut.model_validate(progress.progress_view(db, ticket))


routers = (router, public)  # kefu.registry includes both; unnested so each keeps its prefix pre-check
