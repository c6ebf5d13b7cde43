"""Discovers capability modules by name, so adding a capability touches only its own folder.

Every package under `kefu` may provide `models` (tables), `api` (a `router`, or a tuple `routers`), `pages` (a
`router` for HTML pages) and `jobs` (job handlers registered with `kefu.core.jobs.job`, recurring ones with
`kefu.core.scheduler.periodic`).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from functools import lru_cache
from types import ModuleType
from typing import Any

import kefu

SKIP = frozenset({"kefu.migrations", "kefu.demo"})


@lru_cache(maxsize=1)
def _packages() -> tuple[str, ...]:
    names = ["kefu"]
    for info in pkgutil.walk_packages(kefu.__path__, "kefu."):
        if info.ispkg and not any(info.name == s or info.name.startswith(s + ".") for s in SKIP):
            names.append(info.name)
    return tuple(sorted(names))


def modules(leaf: str) -> list[ModuleType]:
    """Import `<package>.<leaf>` for every capability package that has one."""
    found: list[ModuleType] = []
    for pkg in _packages():
        name = f"{pkg}.{leaf}"
        if importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name))
    return found


def load_models() -> None:
    """Register every table on Base.metadata."""
    modules("models")


def load_jobs() -> None:
    """Register every job handler and periodic job (`@job` / `@periodic` in each package's `jobs` module)."""
    for module in modules("jobs"):
        if hasattr(module, "SCHEDULE"):  # the retired second way; a merged branch must not reintroduce it silently
            raise LookupError(f"{module.__name__}.SCHEDULE: declare periodic jobs with @kefu.core.scheduler.periodic")


def routers(leaf: str = "api") -> list[Any]:
    """FastAPI routers exported by `<package>.<leaf>` modules: `routers` (a tuple) if present, else `router`."""
    found: list[Any] = []
    for m in modules(leaf):
        found.extend(getattr(m, "routers", None) or ([m.router] if hasattr(m, "router") else []))
    return found
