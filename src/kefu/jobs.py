"""Import every module that registers job handlers, so workers know all job names."""

from __future__ import annotations

import importlib

JOB_MODULES: tuple[str, ...] = ("kefu.housekeeping",)


def load_all() -> None:
    """Import job-defining modules."""
    for name in JOB_MODULES:
        importlib.import_module(name)
