"""Site basics found in the walk-through: favicon, and `make run` keeping the base URL on the chosen port."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_favicon_served_and_linked(client: Any) -> None:
    """/favicon.ico is a real icon (no 404 on every page) and pages point at the SVG icon."""
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # ICO header: reserved 0, type 1 (icon)
    assert client.get("/static/favicon.svg").status_code == 200
    login = client.get("/login")
    assert '<link rel="icon" href="/static/favicon.svg"' in login.text


def _make_run(*args: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("KEFU_BASE_URL", "HOST", "PORT")}
    out = subprocess.run(
        ["make", "-n", "-W", ".venv/bin/.installed", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        check=True,
    )
    return out.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_run_base_url_follows_port() -> None:
    """Survey and widget links use the port the server actually listens on, unless KEFU_BASE_URL is set."""
    assert "KEFU_BASE_URL=http://127.0.0.1:9000" in _make_run("PORT=9000")
    assert "--port 9000" in _make_run("PORT=9000")
    assert "KEFU_BASE_URL=http://127.0.0.1:8000" in _make_run()
    custom = _make_run("PORT=9000", env={"KEFU_BASE_URL": "https://help.example.com"})
    assert "KEFU_BASE_URL=https://help.example.com" in custom and "127.0.0.1:9000" not in custom.split("serve")[0]
