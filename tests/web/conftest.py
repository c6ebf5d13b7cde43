"""Browser fixtures: a live `kefu serve` with demo data and Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kefu_cmd, migrated_sqlite, serve_live, stop

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def live_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live server's log (INFO: requests, socket opens and closes, index fits, job failures) for failures."""
    return tmp_path_factory.mktemp("live") / "serve.log"


def log_since(log: Path, offset: int, limit: int = 4000) -> str:
    """What `log` gained after byte `offset` (its last `limit` characters), with the file's path to read the rest."""
    try:
        with log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError as exc:
        return f"(no live server log: {exc})"
    return f"live server log {log} from byte {offset}:\n{text[-limit:]}"


@pytest.fixture(scope="session")
def live_server(live_log: Path) -> Iterator[str]:
    """`kefu serve` on a fresh SQLite database with the demo loaded; yields its base URL."""
    tmp = live_log.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_DATABASE_URL": f"sqlite:///{tmp / 'live.db'}",
            # INFO, to a file only read when a test fails: one access line per request costs little next to a page.
            "KEFU_LOG_LEVEL": "INFO",
            "KEFU_DEMO_MODE": "true",
            # Every browser test of a worker shares this server and the address 127.0.0.1: the per-address limits on
            # public routes (widget sessions 60/min, needs 20/10 min) would otherwise depend on how fast the tests
            # before ran. The limits themselves are tested through HTTP (tests/security/test_ratelimit.py).
            "KEFU_RATE_LIMIT_EXEMPT_NETWORKS": "127.0.0.1/32",
        }
    )
    migrated_sqlite(tmp / "live.db")  # the schema `kefu db upgrade` builds (tests/test_cli.py runs that)
    subprocess.run(kefu_cmd("demo"), env=env, check=True, capture_output=True)
    proc, base = serve_live(env, live_log, timeout=120)
    try:
        yield base
    finally:
        stop(proc)


# Screenshots are artefacts: kept after the run (CI and reviewers open them), one folder per test.
SHOTS_DIR = Path(os.environ.get("KEFU_SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots")


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """Where a test saves screenshots: var/screenshots/<module>/<test> (KEFU_SCREENSHOT_DIR overrides the root)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    folder = SHOTS_DIR / request.node.module.__name__.rsplit(".", 1)[-1] / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def loaded_width(img: object, timeout: float = 30.0) -> int:
    """The natural width of an <img> once it has loaded: scrolled into view first (timeline thumbnails are lazy).

    Scrolled again on every try: a live refresh (kefu:refresh over the WebSocket) may swap the timeline meanwhile,
    detaching the element between two calls (retried) and leaving a new, still lazy <img> that must be scrolled to.
    """
    import time

    from playwright.sync_api import Error

    locator: Any = img
    deadline = time.monotonic() + timeout
    while True:
        try:
            locator.scroll_into_view_if_needed()
            width = int(locator.evaluate("el => (el.complete && el.naturalWidth) || 0"))
        except Error:
            if time.monotonic() > deadline:
                raise
            width = 0
        if width or time.monotonic() > deadline:
            return width
        time.sleep(0.1)


# The widget is settled once its session answered (its log, empty until then, has a greeting, a form or the history) and
# no animation of it runs (the panel's fade-in, the launcher's transition), so screenshots and contrast see the end.
_WIDGET_SETTLED = """() => {
  const root = document.querySelector(".kefu-root");
  const panel = root && root.querySelector(".kefu-panel");
  if (!panel || panel.hidden || !root.querySelector(".kefu-log > *")) return false;
  return root.getAnimations({ subtree: true }).every((a) => !a.pending && a.playState !== "running");
}"""


def widget_settled(page: Any) -> None:
    """Wait until the opened widget is settled (see _WIDGET_SETTLED)."""
    page.wait_for_function(_WIDGET_SETTLED)
