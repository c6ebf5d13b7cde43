"""Structural: no route does database work on the event loop.

FastAPI runs a plain `def` endpoint (or dependency) in the thread pool and an `async def` one on the event loop, so
one slow query inside an `async def` handler stalls every request of the process. An `async def` endpoint or
dependency that takes the request's DB session (kefu.auth.deps.DB) may use it only inside
`run_in_threadpool(...)` / `commit_in_one_hop(...)` (directly, in a lambda or `partial` there, or in a nested
`def` handed to them and never called on the loop), or pass it to an async helper that follows the same rule;
and it opens no session of its own on the loop (`session_scope(...)`, `get_database().session()`). WebSocket
handlers are held to the second part. A form is read with kefu.web.forms.PostedForm so the handler can be a `def`.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

OFFLOAD = {"run_in_threadpool", "commit_in_one_hop", "to_thread"}
OPENS_SESSION = {"session_scope", "session", "sessionmaker", "read_sessionmaker", "session_factory"}

# qualified name -> why it may keep DB work on the loop (none so far: keep it short and reasoned).
ALLOWED: dict[str, str] = {}


def _routes(routes: list[Any]) -> Iterator[Any]:
    for r in routes:
        if hasattr(r, "original_router"):
            yield from _routes(list(r.original_router.routes))
        else:
            yield r


def _dependants(dep: Dependant) -> Iterator[Dependant]:
    for sub in dep.dependencies:
        yield sub
        yield from _dependants(sub)


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _loop_nodes(fn: ast.AST) -> Iterator[ast.AST]:
    """Nodes of fn's own body, not descending into nested functions or lambdas."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def violations(fn: Callable[..., Any], db_names: set[str], seen: set[tuple[str, frozenset[str]]]) -> list[str]:
    """Where fn (async) touches the DB session on the event loop."""
    key = (_qualname(fn), frozenset(db_names))
    if key in seen or _qualname(fn) in ALLOWED:
        return []
    seen.add(key)
    lines, first = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    root = tree.body[0]
    offloaded: set[int] = set()
    handed: set[str] = set()
    for node in ast.walk(root):
        if isinstance(node, ast.Call) and _name(node) in OFFLOAD:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                for sub in ast.walk(arg):
                    offloaded.add(id(sub))
                    if isinstance(sub, ast.Name):
                        handed.add(sub.id)
    on_loop = list(_loop_nodes(root))
    called_on_loop = {_name(n) for n in on_loop if isinstance(n, ast.Call) and id(n) not in offloaded}
    for node in ast.walk(root):
        if isinstance(node, ast.FunctionDef) and node is not root and node.name in handed - called_on_loop:
            offloaded.update(id(sub) for sub in ast.walk(node))
    where = _qualname(fn)
    found: list[str] = []
    for node in on_loop:
        if isinstance(node, ast.Call) and id(node) not in offloaded and _name(node) in OPENS_SESSION:
            found.append(f"{where}: opens a session on the event loop ({ast.unparse(node)[:60]})")
    for node in ast.walk(root):
        if isinstance(node, ast.Call) and id(node) not in offloaded and _name(node) not in OFFLOAD:
            callee = fn.__globals__.get(_name(node) or "") if isinstance(node.func, ast.Name) else None
            args = {i: a.id for i, a in enumerate(node.args) if isinstance(a, ast.Name) and a.id in db_names}
            kwargs = {
                k.arg: k.value.id for k in node.keywords if isinstance(k.value, ast.Name) and k.value.id in db_names
            }
            if (args or kwargs) and callee is not None and inspect.iscoroutinefunction(callee):
                params = list(inspect.signature(callee).parameters)
                names = {params[i] for i in args} | {k for k in kwargs if k}
                found += violations(callee, names, seen)
                offloaded.update(id(a) for a in node.args if isinstance(a, ast.Name) and a.id in db_names)
                offloaded.update(id(k.value) for k in node.keywords)
    for node in ast.walk(root):
        on_the_loop = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in offloaded
        if on_the_loop and isinstance(node, ast.Name) and node.id in db_names:
            found.append(f"{where}: uses `{node.id}` on the event loop (line {first + node.lineno - 1})")
    return found


def _db_params(dep: Dependant) -> set[str]:
    from kefu.auth.deps import db_session

    return {d.name for d in dep.dependencies if d.call is db_session and d.name}


def test_no_async_route_or_dependency_does_db_work_on_the_event_loop(app: Any) -> None:
    checked: dict[str, list[str]] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    routes = [r for r in _routes(app.router.routes) if isinstance(r, APIRoute | APIWebSocketRoute)]
    assert len(routes) > 300  # the walk reached the included routers
    for route in routes:
        for dep in [route.dependant, *_dependants(route.dependant)]:
            call = dep.call
            if call is None or not inspect.iscoroutinefunction(call) or _qualname(call) in checked:
                continue
            names = _db_params(dep)
            if names or isinstance(route, APIWebSocketRoute):
                checked[_qualname(call)] = violations(call, names, seen)
    found = sorted(v for vs in checked.values() for v in vs)
    assert not found, "\n".join(found)
    assert "kefu.auth.deps.optional_principal" in checked  # the async dependency that offloads its lookups


def test_the_rule_catches_a_query_on_the_loop() -> None:
    """The checker itself: a direct use, a nested def called on the loop and a helper's direct use fail."""
    from tests.web import _async_examples as ex

    assert violations(ex.bad, {"db"}, set())
    assert violations(ex.sneaky, {"db"}, set())
    assert violations(ex.via_helper, {"db"}, set())
    assert violations(ex.own_session, set(), set())
    assert violations(ex.good, {"db"}, set()) == []
    assert violations(ex.good_lambda, {"db"}, set()) == []
