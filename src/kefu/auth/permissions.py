"""Roles, permissions and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field

PERMISSIONS = (
    "tickets:read",
    "tickets:write",
    "conversations:read",
    "conversations:write",
    "customers:read",
    "customers:write",
    "pii:reveal",
    "kb:read",
    "kb:write",
    "reports:read",
    "teams:manage",
    "agents:manage",
    "brands:manage",
    "audit:read",
)

_READ = frozenset(p for p in PERMISSIONS if p.endswith(":read"))
_WORK = frozenset(
    {
        "tickets:read",
        "tickets:write",
        "conversations:read",
        "conversations:write",
        "customers:read",
        "customers:write",
        "kb:read",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "supervisor": _WORK | {"pii:reveal", "kb:write", "reports:read", "teams:manage", "audit:read"},
    "agent": _WORK,
    # Auditors see everything (masked) and the audit trail, but change nothing.
    "auditor": _READ | {"audit:read"},
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent, through a session cookie or an API token."""

    agent_id: int
    email: str
    name: str
    role: str
    permissions: frozenset[str]
    brand_ids: frozenset[int] | None  # None = every brand (admins)
    via: str  # "session" | "token"
    credential_id: int
    ip: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    scoped: bool = False  # an API token limited to explicit scopes

    def can(self, permission: str) -> bool:
        """True when the principal holds `permission`."""
        return permission in self.permissions

    def can_access_brand(self, brand_id: int) -> bool:
        """True when the principal may see data of `brand_id`."""
        return self.brand_ids is None or brand_id in self.brand_ids

    @property
    def label(self) -> str:
        """Human label for audit entries."""
        return f"{self.email} ({self.via})"


def permissions_for(role: str, scopes: list[str] | None = None) -> frozenset[str]:
    """Effective permissions: the role's, narrowed to token scopes when given."""
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    if scopes:
        perms = perms & frozenset(scopes)
    return perms
