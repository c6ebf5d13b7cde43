"""Request and response bodies for auth, agents, teams and tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    """Email and password."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=512)


class AgentOut(BaseModel):
    """An agent as shown to API clients."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    locale: str
    is_active: bool
    availability: str
    capacity: int
    skills: list[str]
    created_at: datetime
    last_login_at: datetime | None


class MeOut(AgentOut):
    """The caller, with effective permissions (the CSRF token is in the console pages' meta tag, not here)."""

    permissions: list[str]
    brand_ids: list[int] | None


class LoginOut(BaseModel):
    """Result of a login."""

    agent: AgentOut
    csrf_token: str
    expires_at: datetime


class AgentCreate(BaseModel):
    """New agent."""

    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    password: str | None = Field(default=None, max_length=512)
    role: str = "agent"
    locale: str = "zh-TW"
    brand_ids: list[int] = Field(default_factory=list)


class AgentUpdate(BaseModel):
    """Partial agent change."""

    name: str | None = Field(default=None, max_length=200)
    role: str | None = None
    is_active: bool | None = None
    locale: str | None = None
    password: str | None = Field(default=None, max_length=512)
    brand_ids: list[int] | None = None
    availability: str | None = None
    capacity: int | None = Field(default=None, ge=0, le=1000)
    skills: list[str] | None = None
    # The caller's own password, required with a password change (re-authentication; console sessions only).
    current_password: str | None = Field(default=None, max_length=512)


class TeamCreate(BaseModel):
    """New team."""

    brand_id: int
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)


class TeamOut(BaseModel):
    """A team."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    slug: str
    name: str
    description: str


class TeamMemberIn(BaseModel):
    """One member in a team membership update."""

    agent_id: int
    is_lead: bool = False


class TeamMembersIn(BaseModel):
    """Full replacement of a team's members."""

    members: list[TeamMemberIn]


class TokenCreate(BaseModel):
    """New personal access token."""

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None
    current_password: str | None = Field(default=None, max_length=512)  # re-authentication


class TokenOut(BaseModel):
    """A token's metadata (never its value)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    """A freshly created token, including its one-time value."""

    token: str


class SessionOut(BaseModel):
    """An open login session."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ip: str | None
    user_agent: str | None
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
