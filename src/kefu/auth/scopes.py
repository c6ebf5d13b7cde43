"""What each authenticated API route requires, in one place, and the check every authenticated request passes.

A route declares its permission either with `require("perm")` (kefu.auth.deps marks the dependency) or, for routes
that check permissions inside or act on the caller's own account, with an entry in ROUTE_PERMISSIONS. A route with
neither is refused to scoped tokens (fail closed) and fails tests/security/test_scopes.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kefu.auth.permissions import Principal

# Pseudo-permission: the route acts on the caller's own account/inbox. Session users and unscoped tokens pass;
# a scoped token passes only on safe methods (reading its own profile), never to change the account.
SELF = "self"
# Pseudo-permission for actions that only reduce the caller's own access or touch its own inbox state (log out,
# revoke its own token, mark its notifications read): any authenticated principal, scoped tokens included.
OWN = "own"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MARK = "kefu_permissions"

# (method, path) -> alternatives; each alternative is a tuple of permissions that must all be held.
ROUTE_PERMISSIONS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("POST", "/api/v1/auth/logout"): ((OWN,),),
    ("GET", "/api/v1/me"): ((SELF,),),
    ("GET", "/api/v1/me/sessions"): ((SELF,),),
    ("DELETE", "/api/v1/me/sessions"): ((OWN,),),
    ("GET", "/api/v1/tokens"): ((SELF,),),
    ("POST", "/api/v1/tokens"): ((SELF,),),  # and re-authentication, sessions only (kefu.auth.service.reauthenticate)
    ("DELETE", "/api/v1/tokens/{token_id}"): ((OWN,),),  # the service allows others' tokens to agents:manage only
    ("GET", "/api/v1/agents"): (("tickets:read",),),
    ("GET", "/api/v1/agents/{agent_id}"): (("tickets:read",),),
    ("PATCH", "/api/v1/agents/{agent_id}"): (("agents:manage",), (SELF,)),
    ("GET", "/api/v1/teams"): (("tickets:read",),),
    ("GET", "/api/v1/brands"): ((SELF,),),
    ("GET", "/api/v1/brands/{brand_id}"): ((SELF,),),
    ("GET", "/api/v1/brands/{brand_id}/inboxes"): (("conversations:read",),),
    ("GET", "/api/v1/inboxes/{inbox_id}"): (("conversations:read",),),
    ("GET", "/api/v1/llm/status"): (("conversations:read",),),
    ("GET", "/api/v1/canned-responses"): (("conversations:read",),),
    ("GET", "/api/v1/notifications"): ((SELF,),),
    ("POST", "/api/v1/notifications/{notification_id}/read"): ((OWN,),),
    ("POST", "/api/v1/notifications/read-all"): ((OWN,),),
    # Checked inside by kefu.privacy.api.require_all / kefu.security.api._manager; declared here for tokens.
    ("POST", "/api/v1/customers/{customer_id}/reveal"): (("customers:read", "pii:reveal"),),
    ("POST", "/api/v1/conversations/{conversation_id}/reveal"): (("conversations:read", "pii:reveal"),),
    ("POST", "/api/v1/customers/{customer_id}/export"): (("customers:read", "pii:reveal"),),
    ("POST", "/api/v1/customers/{customer_id}/erase"): (("customers:write", "pii:reveal"),),
    ("POST", "/api/v1/privacy/requests/{request_id}/verify"): (("customers:write", "pii:reveal"),),
    ("POST", "/api/v1/privacy/requests/{request_id}/reject"): (("customers:write", "pii:reveal"),),
    ("POST", "/api/v1/privacy/requests/{request_id}/execute"): (("customers:write", "pii:reveal"),),
    ("POST", "/api/v1/security/incidents"): (("audit:read",),),
    ("PATCH", "/api/v1/security/incidents/{incident_id}"): (("audit:read",),),
    ("POST", "/api/v1/security/incidents/{incident_id}/report"): (("audit:read",),),
    ("POST", "/api/v1/security/incidents/{incident_id}/form"): (("audit:read",),),
    ("POST", "/api/v1/security/incidents/{incident_id}/status"): (("audit:read",),),
}


def _dependency_calls(route: Any) -> Iterator[Any]:
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        yield dep.call
        stack.extend(dep.dependencies)


def declared(route: Any, method: str) -> tuple[tuple[tuple[str, ...], ...] | None, bool]:
    """(alternatives from the central table or None, whether a dependency enforces a permission itself)."""
    # Cached on the route object itself (a dict keyed by id() could outlive the route and match a new one).
    cache: dict[str, tuple[tuple[tuple[str, ...], ...] | None, bool]] = route.__dict__.setdefault("_kefu_declared", {})
    hit = cache.get(method)
    if hit is not None:
        return hit
    marked = any(getattr(call, MARK, None) for call in _dependency_calls(route))
    table = ROUTE_PERMISSIONS.get((method, str(getattr(route, "path", ""))))
    cache[method] = (table, marked)
    return table, marked


def satisfies(principal: Principal, alternatives: tuple[tuple[str, ...], ...], method: str) -> bool:
    """True when the principal holds every permission of at least one alternative."""
    return any(all(_holds(principal, p, method) for p in perms) for perms in alternatives)


def _holds(principal: Principal, permission: str, method: str) -> bool:
    if permission == OWN:
        return True
    if permission == SELF:
        return not principal.scoped or method in SAFE_METHODS
    return principal.can(permission)


def check_route(principal: Principal, route: Any, method: str) -> str | None:
    """None when the principal may call the route, else why not (the caller turns it into a 403)."""
    if route is None:
        return None
    table, marked = declared(route, method)
    if table is not None:
        if not satisfies(principal, table, method):
            return "This route needs a permission (or token scope) the caller does not have."
        return None
    if marked:
        return None  # require() checks it
    if principal.scoped:
        return "This route declares no permission, so scoped tokens may not call it."
    return None
