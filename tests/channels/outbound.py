"""Loopback stub servers are reachable only because they list their own port in KEFU_OUTBOUND_ALLOW."""

from __future__ import annotations

import os


def allow_port(port: int, host: str = "127.0.0.1") -> str:
    """Add `host:port` to the outbound allow-list (the operator setting the guard reads); returns the entry."""
    entry = f"{host}:{port}"
    current = [e for e in os.environ.get("KEFU_OUTBOUND_ALLOW", "").split(",") if e]
    os.environ["KEFU_OUTBOUND_ALLOW"] = ",".join([*current, entry])
    return entry


def revoke(entry: str) -> None:
    """Remove an entry added by allow_port."""
    current = [e for e in os.environ.get("KEFU_OUTBOUND_ALLOW", "").split(",") if e and e != entry]
    os.environ["KEFU_OUTBOUND_ALLOW"] = ",".join(current)
