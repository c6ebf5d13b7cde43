"""Agents, teams, login sessions, API tokens and the login rate limit."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth import tokencache
from kefu.auth.models import ROLES, Agent, AgentBrand, ApiToken, AuthSession, LoginAttempt, Team, TeamMember
from kefu.auth.permissions import Principal, permissions_for
from kefu.brands.models import Brand
from kefu.core.access import find_in_brand
from kefu.core.addresses import is_email
from kefu.core.config import Settings
from kefu.core.db import after_commit, utcnow
from kefu.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from kefu.core.events import publish
from kefu.core.ratelimit import Budget, WindowLimit
from kefu.core.security import hash_password, needs_rehash, new_token, token_digest, verify_password

MIN_PASSWORD = 10


def _check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput.said("err_auth_password_too_short", min_password=MIN_PASSWORD)


def brand_ids_of(session: Session, agent: Agent) -> frozenset[int] | None:
    """Brands an agent may access (None = all, for admins)."""
    if agent.role == "admin":
        return None
    rows = session.scalars(select(AgentBrand.brand_id).where(AgentBrand.agent_id == agent.id))
    return frozenset(rows)


def principal_for(
    session: Session,
    agent: Agent,
    via: str,
    credential_id: int,
    ip: str | None,
    scopes: list[str] | None = None,
) -> Principal:
    """Build the Principal for an authenticated agent."""
    return Principal(
        agent_id=agent.id,
        email=agent.email,
        name=agent.name,
        role=agent.role,
        permissions=permissions_for(agent.role, scopes),
        brand_ids=brand_ids_of(session, agent),
        via=via,
        credential_id=credential_id,
        ip=ip,
        scoped=bool(scopes),
    )


# ---------------------------------------------------------------- agents and teams


def create_agent(
    session: Session,
    *,
    email: str,
    name: str,
    password: str | None,
    role: str = "agent",
    locale: str = "zh-TW",
    brand_ids: list[int] | None = None,
    actor: Principal | None = None,
) -> Agent:
    """Create an agent (password optional for SSO-only/bot users)."""
    email = email.strip().lower()
    if not is_email(email):
        raise InvalidInput.said("err_auth_bad_email")
    if role not in ROLES:
        raise InvalidInput.said("err_auth_unknown_role_choice", role=role, choices=", ".join(ROLES))
    if password is not None:
        _check_password_policy(password)
    if session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict.said("err_auth_email_taken", email=email)
    agent = Agent(
        email=email,
        name=name,
        role=role,
        locale=locale,
        password_hash=hash_password(password) if password else None,
    )
    session.add(agent)
    session.flush()
    set_agent_brands(session, agent, brand_ids or [])
    record(session, actor, "agent.create", target_type="agent", target_id=agent.id, details={"role": role})
    return agent


def set_agent_brands(session: Session, agent: Agent, brand_ids: list[int]) -> None:
    """Replace the brands an agent may work in."""
    existing = set(session.scalars(select(Brand.id).where(Brand.id.in_(brand_ids)))) if brand_ids else set()
    missing = set(brand_ids) - existing
    if missing:
        raise InvalidInput.said("err_auth_unknown_brand_ids", missing=sorted(missing))
    session.execute(delete(AgentBrand).where(AgentBrand.agent_id == agent.id))
    for bid in sorted(existing):
        session.add(AgentBrand(agent_id=agent.id, brand_id=bid))
    session.flush()


def get_agent(session: Session, agent_id: int) -> Agent:
    """Agent by id or 404."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound.said("err_auth_agent_not_found", agent_id=agent_id)
    return agent


def update_agent(
    session: Session,
    agent: Agent,
    *,
    actor: Principal,
    name: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
    locale: str | None = None,
    password: str | None = None,
    brand_ids: list[int] | None = None,
    availability: str | None = None,
    capacity: int | None = None,
    skills: list[str] | None = None,
) -> Agent:
    """Change an agent; deactivation and password changes revoke their sessions and tokens."""
    changes: dict[str, object] = {}
    if name is not None:
        agent.name = name
        changes["name"] = name
    if role is not None:
        if role not in ROLES:
            raise InvalidInput.said("err_auth_unknown_role", role=role)
        changes["role"] = [agent.role, role]
        agent.role = role
    if locale is not None:
        agent.locale = locale
    if availability is not None:
        if availability not in ("online", "away", "offline"):
            raise InvalidInput.said("err_auth_availability_choice")
        agent.availability = availability
    if capacity is not None:
        agent.capacity = capacity
    if skills is not None:
        agent.skills = list(skills)
    if brand_ids is not None:
        set_agent_brands(session, agent, brand_ids)
        changes["brand_ids"] = brand_ids
    credentials = False
    if password is not None:
        _check_password_policy(password)
        agent.password_hash = hash_password(password)
        changes["password"] = "changed"  # noqa: S105 - audit marker, not a secret
        credentials = True
    if is_active is not None:
        agent.is_active = is_active
        changes["is_active"] = is_active
        credentials = credentials or not is_active
    session.flush()
    if credentials:
        # A new password (or a deactivation) ends every other session and every API token, open WebSockets too;
        # the session that changed its own password stays signed in.
        own = actor.via == "session" and actor.agent_id == agent.id
        revoke_credentials(session, agent.id, keep_session_id=actor.credential_id if own else None)
    elif role is not None:
        revoke_all_sessions(session, agent.id)
    elif brand_ids is not None:
        # Tokens stay valid, but their cached principals carry the old brands (kefu.auth.tokencache).
        _announce(session, f"auth:agent:{agent.id}", sessions=False, tokens=False, keep_session_id=None)
    record(session, actor, "agent.update", target_type="agent", target_id=agent.id, details=changes)
    return agent


# ---------------------------------------------------------------- brand scoping of agents (one place)


def agent_visibility(principal: Principal) -> ColumnElement[bool]:
    """Agents a principal may see: colleagues sharing one of its brands, platform admins, itself."""
    if principal.brand_ids is None:
        return true()
    colleagues = select(AgentBrand.agent_id).where(AgentBrand.brand_id.in_(principal.brand_ids))
    return or_(Agent.id == principal.agent_id, Agent.role == "admin", Agent.id.in_(colleagues))


def get_visible_agent(session: Session, principal: Principal, agent_id: int) -> Agent:
    """An agent the principal may see, else 404."""
    agent = session.scalar(select(Agent).where(Agent.id == agent_id, agent_visibility(principal)))
    if agent is None:
        raise NotFound.said("err_auth_agent_not_found", agent_id=agent_id)
    return agent


def can_reply(role: str) -> bool:
    """Whether agents of this role may answer customers (only they can own conversations and tickets)."""
    return "conversations:write" in permissions_for(role)


def in_brand(brand_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """SQL filter for agents who may read `brand_id`: admins and its members (the rule of brand_ids_of, for queries)."""
    members = select(AgentBrand.agent_id).where(AgentBrand.brand_id == brand_id)
    return or_(Agent.role == "admin", Agent.id.in_(members))


def assignable_clause(brand_id: int | ColumnElement[int]) -> ColumnElement[bool]:
    """SQL filter for agents who may be assigned work of `brand_id` (the rule of ensure_assignable, for queries)."""
    roles = [r for r in ROLES if can_reply(r)]
    return and_(Agent.is_active.is_(True), Agent.role.in_(roles), in_brand(brand_id))


def agent_in_brand(session: Session, agent_id: int, brand_id: int | None) -> Agent | None:
    """The agent named on a row of `brand_id` (an owner, a contact) if it may read that brand, else None alike for
    missing agents and outsiders; a row of no brand (install-wide) may name any agent."""
    stmt = select(Agent).where(Agent.id == agent_id)
    return session.scalar(stmt if brand_id is None else stmt.where(in_brand(brand_id)))


def ensure_assignable(session: Session, agent_id: int, brand_id: int) -> Agent:
    """The assignee of a brand's ticket or conversation: active, working in that brand, allowed to reply."""
    agent = agent_in_brand(session, agent_id, brand_id)
    if agent is None or not agent.is_active:
        raise InvalidInput.said("err_auth_agent_not_assignable", agent_id=agent_id)
    if not can_reply(agent.role):
        raise InvalidInput.said("err_auth_agent_cannot_reply", agent_id=agent_id, role=agent.role)
    return agent


def assignable_agents(session: Session, brand_id: int) -> list[Agent]:
    """Who may be assigned a brand's work (the console's assignee list)."""
    stmt = select(Agent).where(assignable_clause(brand_id))
    return list(session.scalars(stmt.order_by(Agent.name, Agent.id)))


def create_team(
    session: Session, *, brand_id: int, slug: str, name: str, description: str, actor: Principal | None
) -> Team:
    """Create a team in a brand."""
    if session.get(Brand, brand_id) is None:
        raise InvalidInput.said("err_auth_unknown_brand", brand_id=brand_id)
    if session.scalar(select(Team.id).where(Team.brand_id == brand_id, Team.slug == slug)) is not None:
        raise Conflict.said("err_auth_team_exists", slug=slug, brand_id=brand_id)
    team = Team(brand_id=brand_id, slug=slug, name=name, description=description)
    session.add(team)
    session.flush()
    record(session, actor, "team.create", target_type="team", target_id=team.id, brand_id=brand_id)
    return team


def set_team_members(session: Session, team: Team, members: list[tuple[int, bool]], actor: Principal) -> None:
    """Replace a team's members: list of (agent_id, is_lead)."""
    ids = [m[0] for m in members]
    # Only agents working in the team's brand may join it (routing assigns the team's tickets to its members).
    known = set(session.scalars(select(Agent.id).where(Agent.id.in_(ids), in_brand(team.brand_id)))) if ids else set()
    if set(ids) - known:
        raise InvalidInput.said("err_auth_unknown_team_agents", ids=sorted(set(ids) - known))
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    for agent_id, is_lead in members:
        session.add(TeamMember(team_id=team.id, agent_id=agent_id, is_lead=is_lead))
    session.flush()
    record(
        session,
        actor,
        "team.members",
        target_type="team",
        target_id=team.id,
        brand_id=team.brand_id,
        details={"members": ids},
    )


def team_members(session: Session, team_id: int) -> list[TeamMember]:
    """Members of a team."""
    return list(session.scalars(select(TeamMember).where(TeamMember.team_id == team_id)))


# ---------------------------------------------------------------- login, sessions, rate limit


@dataclass
class LoginResult:
    """A new browser session: the raw cookie token is only ever returned here."""

    agent: Agent
    auth_session: AuthSession
    token: str


def _check_rate_limit(session: Session, settings: Settings, username: str, ip: str) -> None:
    failures = WindowLimit(
        LoginAttempt.at, timedelta(seconds=settings.login_window_seconds), (LoginAttempt.success.is_(False),)
    )
    # An IP gets more room than one account: offices share NAT addresses.
    budgets = [
        Budget(LoginAttempt.username == username, settings.login_max_failures),
        Budget(LoginAttempt.ip == ip, settings.login_max_failures * 4),
    ]
    failures.enforce(session, budgets, "err_auth_too_many_logins")


def login(
    session: Session, settings: Settings, *, email: str, password: str, ip: str, user_agent: str | None
) -> LoginResult:
    """Check credentials (rate limited per account and per IP) and open a session."""
    username = email.strip().lower()
    _check_rate_limit(session, settings, username, ip)
    agent = session.scalar(select(Agent).where(Agent.email == username))
    ok = verify_password(agent.password_hash if agent else None, password) and agent is not None and agent.is_active
    session.add(LoginAttempt(username=username, ip=ip, success=bool(ok)))
    session.flush()
    if not ok or agent is None:
        record(
            session,
            None,
            "auth.login_failed",
            details={"email": username},
            actor_type="anonymous",
            actor_label=ip,
        )
        raise Unauthorized.said("err_auth_bad_login")
    if agent.password_hash and needs_rehash(agent.password_hash):
        agent.password_hash = hash_password(password)
    token = new_token("kefu_s")
    now = utcnow()
    auth_session = AuthSession(
        agent_id=agent.id,
        token_hash=token_digest(token),
        csrf_token=secrets.token_urlsafe(24),
        ip=ip,
        user_agent=(user_agent or "")[:400],
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_ttl_hours),
        last_seen_at=now,
    )
    agent.last_login_at = now
    session.add(auth_session)
    session.flush()
    record(
        session,
        principal_for(session, agent, "session", auth_session.id, ip),
        "auth.login",
        target_type="agent",
        target_id=agent.id,
    )
    return LoginResult(agent=agent, auth_session=auth_session, token=token)


def resolve_session(session: Session, token: str, ip: str | None) -> tuple[Principal, AuthSession] | None:
    """Principal for a session cookie, or None if unknown, expired or revoked."""
    # Session and agent in one round trip: every console request pays for this lookup.
    found = session.execute(
        select(AuthSession, Agent)
        .join(Agent, Agent.id == AuthSession.agent_id)
        .where(AuthSession.token_hash == token_digest(token))
    ).first()
    now = utcnow()
    if found is None:
        return None
    row, agent = found
    if row.revoked_at is not None or row.expires_at <= now or not agent.is_active:
        return None
    # Touch at most once a minute to keep read requests write-free.
    if (now - row.last_seen_at).total_seconds() > 60:
        row.last_seen_at = now
    return principal_for(session, agent, "session", row.id, ip), row


REVOKED_EVENT = tokencache.REVOKED_EVENT


def revocation_topics(principal: Principal) -> tuple[str, ...]:
    """Internal realtime topics on which a connection of `principal` hears that its credential was revoked."""
    return (f"auth:agent:{principal.agent_id}", f"auth:{principal.via}:{principal.credential_id}")


def _announce(session: Session, topic: str, **data: object) -> None:
    # After commit, over the bus (so every process): open WebSockets of revoked credentials close (kefu.web.ws) and
    # cached token principals are dropped (kefu.auth.tokencache); this process drops its own without the bus too.
    publish(session, REVOKED_EVENT, dict(data), (topic,))
    after_commit(session, lambda: tokencache.forget((topic,)))


def logout(session: Session, principal: Principal) -> None:
    """Revoke the current session."""
    row = session.get(AuthSession, principal.credential_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    _announce(session, f"auth:session:{principal.credential_id}")
    record(session, principal, "auth.logout", target_type="agent", target_id=principal.agent_id)


def revoke_all_sessions(session: Session, agent_id: int) -> int:
    """Revoke every open session of an agent; returns how many."""
    rows = list(
        session.scalars(select(AuthSession).where(AuthSession.agent_id == agent_id, AuthSession.revoked_at.is_(None)))
    )
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    session.flush()
    _announce(session, f"auth:agent:{agent_id}", sessions=True, tokens=False, keep_session_id=None)
    return len(rows)


def revoke_credentials(session: Session, agent_id: int, *, keep_session_id: int | None = None) -> None:
    """Revoke every session (except `keep_session_id`) and every API token of an agent, and close their sockets."""
    now = utcnow()
    for row in session.scalars(
        select(AuthSession).where(AuthSession.agent_id == agent_id, AuthSession.revoked_at.is_(None))
    ):
        if row.id != keep_session_id:
            row.revoked_at = now
    for tok in session.scalars(select(ApiToken).where(ApiToken.agent_id == agent_id, ApiToken.revoked_at.is_(None))):
        tok.revoked_at = now
    session.flush()
    _announce(session, f"auth:agent:{agent_id}", sessions=True, tokens=True, keep_session_id=keep_session_id)


def reauthenticate(session: Session, settings: Settings, principal: Principal, current_password: str | None) -> None:
    """Sensitive account changes need a console session and the caller's current password (never a bearer token)."""
    if principal.via != "session":
        raise Forbidden.said("err_auth_console_only").also(reauth=True)
    agent = get_agent(session, principal.agent_id)
    _check_rate_limit(session, settings, agent.email, principal.ip or "unknown")
    if not current_password or not verify_password(agent.password_hash, current_password):
        session.add(LoginAttempt(username=agent.email, ip=principal.ip or "unknown", success=False))
        session.flush()
        raise Forbidden.said("err_auth_confirm_password").also(reauth=True)


def list_sessions(session: Session, agent_id: int) -> list[AuthSession]:
    """Open sessions of an agent."""
    now = utcnow()
    return list(
        session.scalars(
            select(AuthSession)
            .where(
                AuthSession.agent_id == agent_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.id.desc())
        )
    )


# ---------------------------------------------------------------- API tokens


def create_token(
    session: Session,
    agent: Agent,
    *,
    name: str,
    scopes: list[str] | None,
    expires_at: datetime | None,
    actor: Principal | None,
) -> tuple[ApiToken, str]:
    """Issue a personal access token; the raw value is returned once and never stored."""
    if scopes:
        unknown = set(scopes) - set(permissions_for("admin"))
        if unknown:
            raise InvalidInput.said("err_auth_unknown_scopes", unknown=sorted(unknown))
    raw = new_token("kefu_pat")
    tok = ApiToken(
        agent_id=agent.id,
        name=name,
        prefix=raw[:16],
        token_hash=token_digest(raw),
        scopes=list(scopes or []),
        expires_at=expires_at,
    )
    session.add(tok)
    try:
        session.flush()
    except IntegrityError as exc:  # pragma: no cover - 256-bit collision
        raise Conflict.said("err_auth_token_collision") from exc
    record(session, actor, "token.create", target_type="api_token", target_id=tok.id, details={"name": name})
    return tok, raw


def resolve_token(session: Session, raw: str, ip: str | None, *, cache_seconds: float = 0) -> Principal | None:
    """Principal for a bearer token, or None; with `cache_seconds`, kept that long in kefu.auth.tokencache."""
    # Token and agent in one round trip (on a tokencache miss: the request dependency asks the cache first).
    digest = token_digest(raw)
    since = tokencache.generation()  # a revocation dropped while this reads must not be undone by the store below
    row = session.execute(
        select(ApiToken, Agent).join(Agent, Agent.id == ApiToken.agent_id).where(ApiToken.token_hash == digest)
    ).first()
    now = utcnow()
    if row is None:
        return None
    tok, agent = row
    if tok.revoked_at is not None or (tok.expires_at is not None and tok.expires_at <= now) or not agent.is_active:
        return None
    if tok.last_used_at is None or (now - tok.last_used_at).total_seconds() > 60:
        tok.last_used_at = now
    principal = principal_for(session, agent, "token", tok.id, ip, scopes=list(tok.scopes) or None)
    tokencache.store(digest, principal, tok.expires_at, cache_seconds, since=since)
    return principal


def list_tokens(session: Session, agent_id: int) -> list[ApiToken]:
    """An agent's tokens, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.agent_id == agent_id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    """Revoke a token of the caller (admins may revoke anyone's)."""
    tok = session.get(ApiToken, token_id)
    if tok is None or (tok.agent_id != principal.agent_id and not principal.can("agents:manage")):
        raise NotFound.said("err_auth_token_not_found", token_id=token_id)
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
    _announce(session, f"auth:token:{tok.id}")
    record(session, principal, "token.revoke", target_type="api_token", target_id=tok.id)
    return tok


def agent_names(session: Session, principal: Principal) -> dict[int, str]:
    """Names of the agents the principal may see, by id (for "by whom" columns)."""
    rows = session.execute(select(Agent.id, Agent.name).where(agent_visibility(principal)))
    return {row.id: row.name for row in rows}


def all_agents(session: Session) -> list[Agent]:
    """Every agent account, by id (the agents admin tab)."""
    return list(session.scalars(select(Agent).order_by(Agent.id)))


def active_agents(session: Session) -> list[Agent]:
    """Agents whose account is active."""
    return list(session.scalars(select(Agent).where(Agent.is_active.is_(True))))


def agent_brand_pairs(session: Session) -> set[tuple[int, int]]:
    """Every (agent id, brand id) membership."""
    return {(ab.agent_id, ab.brand_id) for ab in session.scalars(select(AgentBrand))}


def brand_teams(session: Session, brand_id: int) -> list[Team]:
    """A brand's teams, by id."""
    return list(session.scalars(select(Team).where(Team.brand_id == brand_id).order_by(Team.id)))


def team_member_ids(session: Session, team_ids: list[int]) -> dict[int, set[int]]:
    """Agent ids of each team's members (every asked team present, empty when it has none)."""
    members: dict[int, set[int]] = {team_id: set() for team_id in team_ids}
    for tm in session.scalars(select(TeamMember).where(TeamMember.team_id.in_(members))):
        members[tm.team_id].add(tm.agent_id)
    return members


def team_in_brands(session: Session, team_id: int, principal: Principal) -> Team | None:
    """The team when it exists in one of the principal's brands, else None."""
    return find_in_brand(session, Team, team_id, principal)
