"""One place decides brand access by id: kefu.core.access. A function that fetches a brand-owned row by primary key and
then compares its brand by hand (the pattern that drifts: 403 here, 404 there, a forgotten check on a side path) fails
this test; it should call get_in_brand / find_in_brand / ref_in_brand (or brands.service.get_brand for a brand).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
HELPERS = SRC / "core" / "access.py"
HAND_CHECKS = frozenset({"ensure_brand", "can_access_brand"})

# "path:function" -> why its fetch-then-compare is not one of the helpers' cases. Keep it short and explained.
ALLOWED: dict[str, str] = {
    "brands/service.py:get_brand": "the one getter of a brand itself (Brand has no brand_id column)",
    "web/ws.py:_authorize_topics": "brand topics are brands themselves; other topics go through find_in_brand",
    "analytics/service.py:resolve_filters": "the organization must be in the query's brand set, already narrowed to "
    "the caller's brands",
    "customers/claims.py:confirm_claim": "a customer's signed claim link: the claim, not a principal, names the brand",
    "llm/assist.py:translate": "a message is reached through its conversation (get_in_brand on messages has no "
    "brand_id); the check is on the conversation",
    "workspace/service.py:delete_view": "saved views may be personal (brand_id NULL); owner check comes first",
    "portal/service.py:retrieve": "search hits are already brand-filtered; get only reloads each hit",
    "care/service.py:convert": "picks, without an error, a conversation of the opportunity's own brand among the "
    "ids it stored as evidence",
    "channels/email/adapter.py:find_conversation": "threads an inbound mail only onto a conversation of the "
    "receiving inbox's brand (no principal; a miss starts a new thread)",
    "customers/service.py:merge_customers": "reloads the brand of two customers already fetched through get_customer",
}


@cache
def brand_owned() -> frozenset[str]:
    """Model class names whose table has a brand_id column, and Brand itself."""
    import kefu.models  # noqa: F401 - registers every model
    from kefu.core.db import Base

    names = {m.class_.__name__ for m in Base.registry.mappers if "brand_id" in m.columns}
    return frozenset(names | {"Brand"})


def _fetches_by_id(fn: ast.AST, owned: frozenset[str]) -> list[str]:
    """`x.get(Model, ...)` calls on a brand-owned model inside `fn`."""
    found = []
    for n in ast.walk(fn):
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "get"
            and len(n.args) == 2
            and isinstance(n.args[0], ast.Name)
            and n.args[0].id in owned
        ):
            found.append(n.args[0].id)
    return found


def _is_column(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id[:1].isupper()


def _compares_brand(fn: ast.AST) -> bool:
    """A hand-written brand check: ensure_brand / can_access_brand, or `row.brand_id` compared (not a column)."""
    for n in ast.walk(fn):
        if isinstance(n, ast.Call):
            f = n.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in HAND_CHECKS:
                return True
        if isinstance(n, ast.Compare):
            sides = (n.left, *n.comparators)
            if any(_is_column(side) for side in sides):
                continue  # `Ticket.brand_id == conv.brand_id` is a query filter, not a check of a fetched row
            for side in sides:
                if (
                    isinstance(side, ast.Attribute)
                    and side.attr == "brand_id"
                    and isinstance(side.value, ast.Name)
                    and side.value.id[:1].islower()  # `row.brand_id`, not `Ticket.brand_id` in a query
                ):
                    return True
    return False


def hand_rolled() -> dict[str, list[str]]:
    """Every function outside kefu.core.access that fetches a brand-owned row by id and checks its brand itself."""
    owned = brand_owned()
    out: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path == HELPERS or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            models = _fetches_by_id(fn, owned)
            if models and _compares_brand(fn):
                out[f"{path.relative_to(SRC).as_posix()}:{fn.name}"] = models
    return out


def test_brand_checks_by_id_go_through_core_access() -> None:
    found = hand_rolled()
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not new, (
        "These fetch a brand-owned row by id and compare its brand by hand; use kefu.core.access.get_in_brand "
        "(404 across brands), find_in_brand (None) or ref_in_brand (a command's reference), or add an ALLOWED "
        "entry with the reason:\n" + "\n".join(f"  {k}: {v}" for k, v in sorted(new.items()))
    )


def test_allow_list_has_no_stale_entries() -> None:
    stale = set(ALLOWED) - set(hand_rolled())
    assert not stale, f"ALLOWED names functions that no longer hand-roll a brand check: {sorted(stale)}"


def test_the_detector_sees_the_pattern() -> None:
    """The scan recognises the three shapes it exists to catch (so it cannot silently go blind)."""
    owned = frozenset({"Ticket"})
    shapes = [
        "def f(s, i, p):\n    t = s.get(Ticket, i)\n    ensure_brand(p, t.brand_id)\n",
        "def f(s, i, p):\n    t = s.get(Ticket, i)\n    return t if p.can_access_brand(t.brand_id) else None\n",
        "def f(s, i, b):\n    t = s.get(Ticket, i)\n    if t is None or t.brand_id != b:\n        raise X\n",
    ]
    for src in shapes:
        fn = ast.parse(src).body[0]
        assert _fetches_by_id(fn, owned) and _compares_brand(fn), src
    ok = ast.parse("def f(s, b):\n    return s.scalars(select(Ticket).where(Ticket.brand_id == b))\n").body[0]
    assert not _compares_brand(ok)


# The caller's brands written into a query by hand, where scope_to_brands does not fit; why each one stays.
HAND_SCOPED: dict[str, str] = {
    "auth/service.py": "agent visibility: a subquery of colleagues (AgentBrand), not a filter on a brand column",
    "audit/service.py": "audit_log.brand_id is nullable (platform-wide entries); the same rule as scope_to_brands",
}
HAND_SCOPE = re.compile(r"\.in_\(\s*(?:[\w.]*\.)?(?:principal|actor)\.brand_ids\b")


def test_list_queries_scope_through_core_access() -> None:
    """A list query restricts to the caller's brands with scope_to_brands, not `col.in_(principal.brand_ids)`."""
    found = {
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if path != HELPERS and HAND_SCOPE.search(path.read_text(encoding="utf-8"))
    }
    assert found <= set(HAND_SCOPED), f"use kefu.core.access.scope_to_brands in: {sorted(found - set(HAND_SCOPED))}"
    assert set(HAND_SCOPED) <= found, (
        f"HAND_SCOPED lists files that no longer scope by hand: {set(HAND_SCOPED) - found}"
    )
