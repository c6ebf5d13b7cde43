"""The AI-assist panel in a real browser: `kefu serve` with LLM assist pointed at a local chat-completions server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE, kefu_cmd, migrated_sqlite, serve_live, stop
from tests.llm.server import ChatServer, Received, Reply
from tests.web.conftest import CHROMIUM

DRAFT = "您好，款項將於 7 個工作天內退回，造成不便非常抱歉。"


def _script(r: Received) -> Reply:
    system = r.body["messages"][0]["content"]
    if system.startswith("Translate"):
        return Reply("Roughly how long does a refund take to arrive?")
    return Reply(DRAFT)


@pytest.fixture(scope="module")
def llm_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ChatServer]]:
    """`kefu serve` (demo data) whose LLM endpoint is a chat-completions server on 127.0.0.1."""
    if not os.path.exists(CHROMIUM):
        if REQUIRE:
            pytest.fail("chromium is required in CI (apt-get install chromium fonts-wqy-microhei)")
        pytest.skip("chromium not installed")
    chat = ChatServer(script=_script).start()
    tmp = tmp_path_factory.mktemp("llm-live")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update(
        {
            "KEFU_DATABASE_URL": f"sqlite:///{tmp / 'live.db'}",
            "KEFU_LOG_LEVEL": "WARNING",
            "KEFU_LLM_BASE_URL": chat.base_url,
            "KEFU_LLM_MODEL": "qwen2.5:7b-instruct",
            "KEFU_LLM_ALLOW_NETWORKS": "127.0.0.1/32",
        }
    )
    migrated_sqlite(tmp / "live.db")
    subprocess.run(kefu_cmd("demo"), env=env, check=True, capture_output=True)
    proc, base = serve_live(env, tmp / "serve.log", timeout=120)
    try:
        yield base, chat
    finally:
        stop(proc)
        chat.stop()


def test_agent_drafts_and_translates_with_the_panel(
    llm_live: tuple[str, ChatServer], tmp_path: Path, browser: Any
) -> None:
    base, chat = llm_live
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login?lang=zh-TW")
        page.get_by_label("電子郵件").fill("mei@kefu.local")
        page.get_by_label("密碼").fill("kefu-demo-pass")
        page.get_by_role("button", name="登入").click()
        page.wait_for_url(f"{base}/console")
        page.goto(f"{base}/console?view=all")
        page.get_by_role("link", name="張○婷").first.click()
        page.wait_for_selector("#llm h2")
        page.get_by_label("補充說明（選填）").fill("道歉")
        page.get_by_role("button", name="AI 草擬回覆").click()
        page.wait_for_selector(f"#llm .llm-text:text('{DRAFT}')")
        page.get_by_role("button", name="放入回覆框").click()
        assert page.input_value("#body") == DRAFT
        page.get_by_role("button", name="翻譯客戶最新訊息").click()
        page.wait_for_selector("#llm .llm-text:text('how long does a refund')")
        assert page.inner_text("#llm .llm-note") == ""  # nothing to double-check
        page.screenshot(path=str(tmp_path / "llm_panel.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
    sent = [r.body["messages"][1]["content"] for r in chat.received]
    assert len(sent) == 2 and "道歉" in sent[0]
