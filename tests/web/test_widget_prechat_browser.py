"""The widget's pre-chat form in Chromium (390 px): asked before the first message, then the chat works as usual."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kefu_cmd, migrated_sqlite, serve_live, stop
from tests.web.conftest import widget_settled


@pytest.fixture(scope="module")
def prechat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`kefu serve` with the demo, its web-chat inbox set to ask for name and email first."""
    tmp = tmp_path_factory.mktemp("prechat-live")
    url = f"sqlite:///{tmp / 'live.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update({"KEFU_DATABASE_URL": url, "KEFU_LOG_LEVEL": "WARNING", "KEFU_DEMO_MODE": "true"})
    migrated_sqlite(tmp / "live.db")
    subprocess.run(kefu_cmd("demo"), env=env, check=True, capture_output=True)
    # Through the service, in the server's environment: inbox settings are encrypted at rest with its key.
    script = (
        "from sqlalchemy import select\n"
        "from kefu.core.db import get_database\n"
        "from kefu.brands.models import Inbox\n"
        "from kefu.brands.service import update_inbox\n"
        "with get_database().session() as s:\n"
        "    for ib in s.scalars(select(Inbox).where(Inbox.kind == 'web_chat')):\n"
        "        update_inbox(s, ib, None, config={'prechat': True})\n"
        "    s.commit()\n"
    )
    import sys

    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    proc, base = serve_live(env, tmp / "serve.log", timeout=120)
    try:
        yield base
    finally:
        stop(proc)


def test_prechat_then_chat(browser: Any, prechat_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    page = ctx.new_page()
    page.goto(f"{prechat_server}/demo/shop")
    page.get_by_role("button", name="線上客服").click()
    page.get_by_label("姓名").fill("林小姐")
    page.get_by_label("Email", exact=True).fill("lin@example.com")
    widget_settled(page)
    page.screenshot(path=str(shots / "widget-prechat-390.png"))
    page.get_by_role("button", name="開始對話").click()
    box = page.get_by_label("輸入訊息…")
    box.fill("請問忘記密碼怎麼辦？")
    box.press("Enter")
    page.wait_for_selector("text=請在登入頁點選「忘記密碼」", timeout=90_000)  # a fresh server's first answer
    page.reload()
    page.get_by_role("button", name="線上客服").click()
    page.wait_for_selector("text=請在登入頁點選「忘記密碼」")  # history is back, no second form
    assert page.get_by_role("button", name="開始對話").count() == 0
    widget_settled(page)  # the panel's open animation
    page.screenshot(path=str(shots / "widget-after-reload-390.png"))
    ctx.close()
