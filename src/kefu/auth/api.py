"""Auth, agents, teams and API token endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth import service
from kefu.auth.deps import DB, CurrentPrincipal, SettingsDep, client_ip, require, set_session_cookie
from kefu.auth.models import Agent, Team
from kefu.auth.permissions import Principal
from kefu.auth.schemas import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    LoginIn,
    LoginOut,
    MeOut,
    SessionOut,
    TeamCreate,
    TeamMembersIn,
    TeamOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from kefu.auth.service import get_visible_agent
from kefu.core import like
from kefu.core.access import get_in_brand, scope_to_brands
from kefu.core.config import Settings
from kefu.core.errors import Forbidden, TooManyRequests, Unauthorized
from kefu.core.pagination import Page, keyset_page
from kefu.web.routing import Router

router = Router(prefix="/api/v1")
SENSITIVE_FIELDS = frozenset({"password", "email"})  # changes that need re-authentication


@router.post("/auth/login", response_model=LoginOut, tags=["auth"])
def login(body: LoginIn, request: Request, response: Response, db: DB, settings: SettingsDep) -> LoginOut:
    """Open a cookie session (for the console); API clients should use tokens."""
    try:
        result = service.login(
            db,
            settings,
            email=body.email,
            password=body.password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except (Unauthorized, TooManyRequests):
        db.commit()  # the failed attempt must count even though the request fails
        raise
    set_session_cookie(response, settings, result.token)
    return LoginOut(
        agent=AgentOut.model_validate(result.agent),
        csrf_token=result.auth_session.csrf_token,
        expires_at=result.auth_session.expires_at,
    )


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(principal: CurrentPrincipal, response: Response, db: DB, settings: SettingsDep) -> None:
    """End the current cookie session."""
    if principal.via == "session":
        service.logout(db, principal)
    response.delete_cookie(settings.session_cookie, path="/")


@router.get("/me", response_model=MeOut, tags=["auth"])
def me(principal: CurrentPrincipal, db: DB) -> MeOut:
    """The caller (no CSRF token: a script that can read this must not be able to forge console writes)."""
    agent = service.get_agent(db, principal.agent_id)
    base = AgentOut.model_validate(agent).model_dump()
    return MeOut(
        **base,
        permissions=sorted(principal.permissions),
        brand_ids=sorted(principal.brand_ids) if principal.brand_ids is not None else None,
    )


def _reauthenticate(db: Session, settings: Settings, principal: Principal, current_password: str | None) -> None:
    try:
        service.reauthenticate(db, settings, principal, current_password)
    except (Forbidden, TooManyRequests):
        db.commit()  # the failed attempt counts towards the login rate limit
        raise


@router.get("/me/sessions", response_model=list[SessionOut], tags=["auth"])
def my_sessions(principal: CurrentPrincipal, db: DB) -> list[SessionOut]:
    """The caller's open sessions."""
    return [SessionOut.model_validate(s) for s in service.list_sessions(db, principal.agent_id)]


@router.delete("/me/sessions", status_code=204, tags=["auth"])
def revoke_my_sessions(principal: CurrentPrincipal, db: DB) -> None:
    """Sign out everywhere."""
    service.revoke_all_sessions(db, principal.agent_id)


@router.get("/tokens", response_model=list[TokenOut], tags=["auth"])
def list_tokens(principal: CurrentPrincipal, db: DB) -> list[TokenOut]:
    """The caller's API tokens."""
    return [TokenOut.model_validate(t) for t in service.list_tokens(db, principal.agent_id)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["auth"])
def create_token(body: TokenCreate, principal: CurrentPrincipal, db: DB, settings: SettingsDep) -> TokenCreated:
    """Issue a personal access token for the caller (shown once); needs a console session and current_password."""
    if principal.via == "token":
        raise Forbidden.said("err_auth_token_mints_token")
    _reauthenticate(db, settings, principal, body.current_password)
    agent = service.get_agent(db, principal.agent_id)
    tok, raw = service.create_token(
        db, agent, name=body.name, scopes=body.scopes or None, expires_at=body.expires_at, actor=principal
    )
    return TokenCreated(**TokenOut.model_validate(tok).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", status_code=204, tags=["auth"])
def revoke_token(token_id: int, principal: CurrentPrincipal, db: DB) -> None:
    """Revoke a token."""
    service.revoke_token(db, principal, token_id)


@router.get("/agents", response_model=Page[AgentOut], tags=["agents"])
def list_agents(
    principal: CurrentPrincipal,
    db: DB,
    role: str | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[AgentOut]:
    """Agents of the caller's brands (and platform admins), e.g. to assign work."""
    stmt = select(Agent).where(service.agent_visibility(principal))
    if role:
        stmt = stmt.where(Agent.role == role)
    if active is not None:
        stmt = stmt.where(Agent.is_active.is_(active))
    if q:
        stmt = stmt.where(like.icontains(Agent.email, q) | like.contains(Agent.name, q))
    rows, nxt = keyset_page(db, stmt, Agent.id, Agent.id, limit=limit, cursor=cursor, descending=False)
    return Page(items=[AgentOut.model_validate(a) for a in rows], next_cursor=nxt)


@router.post("/agents", response_model=AgentOut, status_code=201, tags=["agents"])
def create_agent(
    body: AgentCreate, db: DB, principal: Annotated[Principal, Depends(require("agents:manage"))]
) -> AgentOut:
    """Create an agent."""
    agent = service.create_agent(
        db,
        email=body.email,
        name=body.name,
        password=body.password,
        role=body.role,
        locale=body.locale,
        brand_ids=body.brand_ids,
        actor=principal,
    )
    return AgentOut.model_validate(agent)


@router.get("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def get_agent(agent_id: int, principal: CurrentPrincipal, db: DB) -> AgentOut:
    """One agent (404 outside the caller's brands)."""
    return AgentOut.model_validate(service.get_visible_agent(db, principal, agent_id))


@router.patch("/agents/{agent_id}", response_model=AgentOut, tags=["agents"])
def update_agent(
    agent_id: int, body: AgentUpdate, principal: CurrentPrincipal, db: DB, settings: SettingsDep
) -> AgentOut:
    """Change an agent; agents may change their own name, locale, availability and password.

    A password change needs the caller's current_password and a console session; it signs the account out
    everywhere else and revokes all its API tokens.
    """
    agent = get_visible_agent(db, principal, agent_id)
    self_fields = {"name", "locale", "availability", "password", "current_password"}
    sent = body.model_fields_set
    if not principal.can("agents:manage") and (agent_id != principal.agent_id or not sent <= self_fields):
        raise Forbidden.said("err_auth_missing_permission", permission="agents:manage")
    if sent & SENSITIVE_FIELDS:
        _reauthenticate(db, settings, principal, body.current_password)
    changes = body.model_dump(exclude_unset=True, exclude={"current_password"})
    service.update_agent(db, agent, actor=principal, **changes)
    return AgentOut.model_validate(agent)


@router.get("/teams", response_model=list[TeamOut], tags=["teams"])
def list_teams(principal: CurrentPrincipal, db: DB, brand_id: int | None = None) -> list[TeamOut]:
    """Teams in the brands visible to the caller."""
    stmt = select(Team).order_by(Team.id)
    if brand_id is not None:
        stmt = stmt.where(Team.brand_id == brand_id)
    stmt = scope_to_brands(stmt, Team.brand_id, principal)
    return [TeamOut.model_validate(t) for t in db.scalars(stmt)]


@router.post("/teams", response_model=TeamOut, status_code=201, tags=["teams"])
def create_team(body: TeamCreate, db: DB, principal: Annotated[Principal, Depends(require("teams:manage"))]) -> TeamOut:
    """Create a team."""
    if not principal.can_access_brand(body.brand_id):
        raise Forbidden.said("err_auth_no_brand_access")
    team = service.create_team(
        db,
        brand_id=body.brand_id,
        slug=body.slug,
        name=body.name,
        description=body.description,
        actor=principal,
    )
    return TeamOut.model_validate(team)


@router.put("/teams/{team_id}/members", status_code=204, tags=["teams"])
def set_members(
    team_id: int,
    body: TeamMembersIn,
    db: DB,
    principal: Annotated[Principal, Depends(require("teams:manage"))],
) -> None:
    """Replace a team's members."""
    team = get_in_brand(db, Team, team_id, principal, f"Team {team_id}")
    service.set_team_members(db, team, [(m.agent_id, m.is_lead) for m in body.members], principal)
