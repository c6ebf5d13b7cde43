"""Import every module that registers job handlers, so workers know all job names."""

from __future__ import annotations

from kefu.registry import load_jobs


def load_all() -> None:
    """Import job-defining modules (`<package>.jobs`)."""
    load_jobs()
