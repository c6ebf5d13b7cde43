"""In Chromium: the widget's helpful/not-helpful and quick-reply buttons, and the admin import preview (1280/390 px)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import kefu_cmd, migrated_sqlite, serve_live, stop
from tests.web.test_console import _login

BAD_CSV = (
    "id,locale,category,question,alternatives,answer,format,published\r\n"
    'card-1,zh-TW,信用卡 > 掛失,信用卡遺失怎麼辦？,"卡片不見了\n信用卡被偷",'
    "請撥 **0800-000-123** 掛失。,markdown,true\r\n"
    "card-2,fr,信用卡,年費怎麼算？,,首年免年費。,text,true\r\n"
    "card-3,zh-TW,信用卡,,,,text,maybe\r\n"
)
GOOD_CSV = BAD_CSV.split("card-2")[0]
SERVER_SECRET = "k" * 64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`kefu serve` with the demo on a SQLite file this test can also write to; yields (base URL, database URL)."""
    tmp = tmp_path_factory.mktemp("kb-live")
    url = f"sqlite:///{tmp / 'live.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env.update({"KEFU_DATABASE_URL": url, "KEFU_LOG_LEVEL": "WARNING", "KEFU_SECRET_KEY": SERVER_SECRET})
    migrated_sqlite(tmp / "live.db")
    subprocess.run(kefu_cmd("demo"), env=env, check=True, capture_output=True)
    env["KEFU_DEMO_MODE"] = "true"  # /demo/shop exists only in demo mode (#16)
    proc, base = serve_live(env, tmp / "serve.log", timeout=120)
    try:
        yield base, url
    finally:
        stop(proc)


def _serve_log(db_url: str) -> str:
    """The last lines `kefu serve` wrote (the fixture keeps its log beside the database)."""
    log = Path(db_url.removeprefix("sqlite:///")).parent / "serve.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else "(no log)"


def _bot_clarify(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's clarify message with quick replies (the contract the bot writes), in the newest web conversation."""
    from kefu.core.config import get_settings

    # Written with the server's secret: message columns are encrypted at rest with a key derived from it.
    monkeypatch.setenv("KEFU_SECRET_KEY", SERVER_SECRET)
    get_settings.cache_clear()
    try:
        _insert_clarify(db_url)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _insert_clarify(db_url: str) -> None:
    from sqlalchemy import select

    from kefu.conversations.models import Conversation
    from kefu.conversations.service import add_message
    from kefu.core.db import Database

    database = Database(db_url)
    try:
        with database.session() as s:
            conv = s.scalars(
                select(Conversation).where(Conversation.channel == "web_chat").order_by(Conversation.id.desc())
            ).first()
            assert conv is not None
            quick = [{"label": "重設密碼", "text": "忘記密碼怎麼辦"}, {"label": "轉真人客服", "text": "我要找真人客服"}]
            add_message(
                s,
                conv,
                sender_type="bot",
                body="請問您是指：\n1. 重設密碼\n2. 轉真人客服",
                meta={"quick_replies": quick},
            )
    finally:
        database.dispose()


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 900)])
def test_widget_vote_and_quick_reply_buttons(
    browser: Any, server: tuple[str, str], shots: Path, width: int, height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, db_url = server
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-TW")
    shop = ctx.new_page()
    shop.goto(f"{base}/demo/shop")
    shop.get_by_role("button", name="線上客服").click()
    box = shop.get_by_label("輸入訊息…")
    box.fill("請問忘記密碼怎麼辦？")
    box.press("Enter")
    try:  # the first answer of a fresh server: generous, since the other CI worker may hold both cores
        shop.wait_for_selector("text=請在登入頁點選「忘記密碼」", timeout=60_000)
    except Exception as exc:
        raise AssertionError(f"no bot answer; server log ends:\n{_serve_log(db_url)}") from exc
    votes = shop.get_by_role("group", name="這個回答有幫助嗎？")
    votes.get_by_role("button", name="沒幫助").wait_for()
    shop.screenshot(path=str(shots / f"widget-vote-{width}.png"))
    votes.get_by_role("button", name="沒幫助").click()
    shop.get_by_role("status").filter(has_text="謝謝您的回饋！").wait_for()
    expect(votes).to_have_count(0)
    # "Not helpful" offers a person right there (used below through the clarification's own button).
    expect(shop.get_by_role("status").get_by_role("button", name="轉真人客服")).to_have_count(1)

    _bot_clarify(db_url, monkeypatch)
    shop.reload()  # the widget resumes from its last message id and replays what it missed
    shop.get_by_role("button", name="線上客服").click()
    options = shop.get_by_role("group", name="建議選項")
    options.get_by_role("button", name="轉真人客服").wait_for()
    # After a reload the history is back; the answer already voted on shows the thanks line, not the buttons.
    shop.wait_for_selector("text=請在登入頁點選「忘記密碼」")
    expect(shop.get_by_text("謝謝您的回饋！")).to_have_count(1)
    expect(shop.get_by_role("button", name="沒幫助")).to_have_count(0)
    shop.screenshot(path=str(shots / f"widget-quick-{width}.png"))
    options.get_by_role("button", name="轉真人客服").click()
    shop.wait_for_selector(".kefu-mine >> text=我要找真人客服")  # sent as the customer's message
    shop.wait_for_selector("text=正在為您轉接真人客服")
    expect(options).to_have_count(0)  # quick replies vanish once used
    ctx.close()


@pytest.mark.parametrize("width,height", [(1280, 900), (390, 844)])
def test_admin_import_preview_shows_row_errors_then_imports(
    browser: Any, server: tuple[str, str], shots: Path, tmp_path: Path, width: int, height: int
) -> None:
    base, _ = server
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-TW")
    page = ctx.new_page()
    _login(page, base, "admin@kefu.local")
    page.goto(f"{base}/admin?tab=kb")
    page.get_by_role("link", name="批次匯入／匯出").click()
    page.wait_for_url(f"{base}/admin/kb/import**")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")
    page.get_by_label("CSV 或 JSON 檔案").set_input_files(str(bad))
    page.get_by_role("button", name="預覽").click()
    errors = page.get_by_role("table", name="4 個問題")
    errors.wait_for()
    assert "不支援的語言 'fr'" in errors.inner_text()  # the row's reason in the page's language
    assert page.get_by_role("table", name="前 1 筆").count() == 1
    page.screenshot(path=str(shots / f"kb-import-preview-{width}.png"), full_page=True)
    page.get_by_role("button", name="匯入").click()  # refused as a whole: the file still has problems
    page.get_by_text("檔案有問題，修正後再匯入").wait_for()
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    page.get_by_label("CSV 或 JSON 檔案").set_input_files(str(good))
    page.get_by_role("button", name="匯入").click()
    page.get_by_text("匯入完成。").wait_for()
    page.screenshot(path=str(shots / f"kb-import-done-{width}.png"), full_page=True)
    ctx.close()
