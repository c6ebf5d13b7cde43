"""Import rules of the layers (docs/ARCHITECTURE.md), checked on the source so a new module cannot break them."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
WEB_FRAMEWORKS = ("fastapi", "starlette")
# Modules of the web layer besides every `api`, `pages` and `deps` module and the kefu.web package.
WEB_MODULES = frozenset(
    {"kefu.cli", "kefu.__main__", "kefu.channels.http", "kefu.privacy.middleware", "kefu.security.asgi"}
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every kefu module (migrations excluded: they are scripts, not imported by the application)."""
    return {
        _module_name(p): p for p in sorted((SRC / "kefu").rglob("*.py")) if "migrations" not in p.relative_to(SRC).parts
    }


@cache
def imports(name: str) -> frozenset[str]:
    """Every module `name` imports, at the top or inside a function (a lazy import is still a dependency)."""
    path = modules()[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            # `from kefu.x import y` may import the submodule kefu.x.y
            found.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules())
    return frozenset(found)


def is_web(name: str) -> bool:
    """True for web-layer modules, which may use FastAPI/Starlette."""
    leaf = name.rsplit(".", 1)[-1]
    return leaf in ("api", "pages", "deps") or name == "kefu.web" or name.startswith("kefu.web.") or name in WEB_MODULES


def kefu_imports(name: str) -> set[str]:
    """The kefu modules `name` imports (their parent packages are imported too, so they count)."""
    found: set[str] = set()
    for imported in imports(name):
        parts = imported.split(".")
        found.update(".".join(parts[:i]) for i in range(2, len(parts) + 1) if ".".join(parts[:i]) in modules())
    return found


def closure(name: str) -> set[str]:
    """Every kefu module reachable from `name` through imports."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(kefu_imports(current) - seen)
    return seen


def framework_users() -> set[str]:
    """Modules that import FastAPI or Starlette themselves."""
    return {m for m in modules() if any(i.split(".")[0] in WEB_FRAMEWORKS for i in imports(m))}


def test_the_scan_sees_the_tree() -> None:
    assert {"kefu.core.errors", "kefu.web.problems", "kefu.tickets.service", "kefu.auth.deps"} <= set(modules())
    assert "kefu.web.problems" in framework_users()
    assert "kefu.auth.permissions" not in kefu_imports("kefu.core.access")


def test_domain_modules_do_not_import_the_web_framework() -> None:
    """Services, models, jobs and the core never pull in FastAPI/Starlette, not even through another module."""
    users = framework_users()
    offenders = {m: sorted(closure(m) & users) for m in modules() if not is_web(m) and closure(m) & users}
    assert offenders == {}, "domain modules reaching the web framework (move the web part to api/pages/web)"


def test_domain_modules_do_not_import_the_web_layer() -> None:
    offenders = {m: sorted(i for i in kefu_imports(m) if is_web(i)) for m in modules() if not is_web(m)}
    assert {m: bad for m, bad in offenders.items() if bad} == {}


def test_core_depends_on_nothing_else_in_kefu() -> None:
    """kefu.core is the bottom layer: capabilities import it, it imports no capability (protocols invert the rest)."""
    core = [m for m in modules() if m.startswith("kefu.core.")]
    offenders = {m: sorted(i for i in kefu_imports(m) if not i.startswith("kefu.core")) for m in core}
    assert {m: bad for m, bad in offenders.items() if bad} == {}


# Page modules that may still run queries themselves, with how many query calls they hold. Every page module now
# calls services only; keep this empty (a page that needs data asks its package's service for it).
PAGE_QUERY_ALLOWANCE: dict[str, int] = {}
_STATEMENTS = frozenset({"select", "insert", "update", "delete", "text"})
_SESSION_CALLS = frozenset(
    {"get", "scalar", "scalars", "execute", "query", "add", "add_all", "delete", "flush", "merge"}
)
_SESSION_NAMES = frozenset({"db", "session", "s"})


def page_queries(name: str) -> list[str]:
    """Statements built and session calls made directly in a module (`select(...)`, `db.get(...)`), with lines."""
    found = []
    for node in ast.walk(ast.parse(modules()[name].read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in _STATEMENTS:
            found.append(f"{name}:{node.lineno} {func.id}()")
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in _SESSION_CALLS
            and isinstance(func.value, ast.Name)
            and func.value.id in _SESSION_NAMES
        ):
            found.append(f"{name}:{node.lineno} {func.value.id}.{func.attr}()")
    return found


def test_page_query_scan_finds_queries() -> None:
    assert len(page_queries("kefu.tickets.taxonomy")) > 20  # the scanner sees a service's queries
    assert page_queries("kefu.qa.pages") == []


def test_pages_hold_no_queries() -> None:
    """Pages call services; the allow-listed modules may not gain queries, and the rest hold none."""
    pages = sorted(m for m in modules() if m.rsplit(".", 1)[-1] == "pages")
    over = {}
    for name in pages:
        found = page_queries(name)
        if len(found) > PAGE_QUERY_ALLOWANCE.get(name, 0):
            over[name] = found
    assert over == {}, "move these queries into the package's service (or the list only shrinks)"
    stale = {m: n for m, n in PAGE_QUERY_ALLOWANCE.items() if m in modules() and not page_queries(m)}
    assert stale == {}, "no queries left: remove these from PAGE_QUERY_ALLOWANCE"


# Modules besides the web layer, jobs and the CLI that may commit, each with why: the rest flush and leave the
# commit to the request or job that owns the unit of work (so events, jobs and sends follow the real commit).
COMMIT_ALLOWED = {
    "kefu.core.db": "the session factory and the request/job transaction helpers",
    "kefu.tickets.search": "its `main` is a CLI backfill committing per batch on its own connection",
}


def commits(name: str) -> list[str]:
    """Calls of `.commit()` in a module, with lines."""
    return [
        f"{name}:{node.lineno}"
        for node in ast.walk(ast.parse(modules()[name].read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
    ]


def test_services_leave_the_commit_to_the_request_or_job() -> None:
    """Only the web layer, jobs, CLIs and the allow-listed modules commit; a service that commits fails here."""
    owners = {m for m in modules() if is_web(m) or m.rsplit(".", 1)[-1] in ("jobs", "cli") or m in COMMIT_ALLOWED}
    found = {m: commits(m) for m in modules() if m not in owners}
    assert {m: lines for m, lines in found.items() if lines} == {}
    assert commits("kefu.analytics.jobs")  # the scan sees a commit where there is one


# What a migration may import from kefu. A migration runs years after it was written, against the code of the day:
# app code it imports may since have changed (a new column in a hashed field list, another phone rule) and then
# rewrite history or fail on a fresh install. Copy what it needs into it, frozen as of its revision (2760, 1850).
# kefu.core.db: the column types (UTCDateTime, JsonType) and utcnow, the schema's own vocabulary.
MIGRATION_IMPORTS_OK = frozenset({"kefu.core.db"})
# Older exceptions, each a debt to retire, never a pattern: the audit chain is hashed with the code that verifies
# it (0701 chains, 1600 re-chains keyed), and 0901 builds search documents with the app's builder (or, with
# KEFU_SEARCH_BACKFILL=later, leaves that to `python -m kefu.tickets.search backfill`).
MIGRATION_IMPORTS_GRANDFATHERED = {
    "0701_privacy.py": {"kefu.audit.chain"},
    "0901_search.py": {"kefu.tickets.search"},
    "1600_audit_keyed_chain.py": {"kefu.audit.chain"},
}


def _migration_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "kefu")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kefu":
            found.add(str(node.module))
    return found


def test_migrations_import_no_app_code() -> None:
    versions = sorted((SRC / "kefu" / "migrations" / "versions").glob("*.py"))
    assert len(versions) > 50  # the scan sees the migrations
    bad = {
        p.name: sorted(extra)
        for p in versions
        if (extra := _migration_imports(p) - MIGRATION_IMPORTS_OK - MIGRATION_IMPORTS_GRANDFATHERED.get(p.name, set()))
    }
    assert not bad, f"migrations importing app code (copy what they need into them): {bad}"
    assert _migration_imports(versions[0].parent / "1850_customer_phone_key.py") <= MIGRATION_IMPORTS_OK
