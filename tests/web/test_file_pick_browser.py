"""File inputs speak the page's language, not the browser's, and stay reachable by keyboard and by their label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.test_channels_browser import PNG, _conversation
from tests.web.test_console import _login

SAID = {
    "zh-TW": ("選擇檔案（可多選）", "尚未選擇檔案", "已選擇 2 個檔案"),
    "zh-CN": ("选择文件（可多选）", "未选择文件", "已选择 2 个文件"),
    "en": ("Choose files", "No file chosen", "2 files chosen"),
}


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_the_portal_form_file_input_in_the_pages_language(
    browser: Any, live_server: str, shots: Path, tmp_path: Path, width: int, height: int
) -> None:
    """The browser is English; the page is zh-TW / zh-CN / en: the button and the status follow the page."""
    one, two = tmp_path / "收據.png", tmp_path / "b.png"
    one.write_bytes(PNG)
    two.write_bytes(PNG)
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    page = ctx.new_page()
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    for lang, (button, none, many) in SAID.items():
        page.goto(f"{live_server}/portal/demo/new?lang={lang}")
        pick = page.locator(".file-pick").first
        expect(pick.locator(".file-btn")).to_have_text(button)
        expect(page.locator("#pn-files-chosen")).to_have_text(none)
        # The real input keeps its own label (the field's) and takes the keyboard focus, shown on the drawn button.
        field = page.get_by_label("附件" if lang != "en" else "Attachments")
        assert field.get_attribute("id") == "pn-files"
        page.locator("#pn-message").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "pn-files"
        outline = pick.locator(".file-btn").evaluate("e => getComputedStyle(e).outlineStyle")
        assert outline == "solid"
        assert pick.bounding_box()["width"] <= width  # type: ignore[index]
        field.set_input_files([str(one), str(two)])
        expect(page.locator("#pn-files-chosen")).to_have_text(many)
        page.screenshot(path=str(shots / f"portal-new-{lang}-{width}.png"), full_page=True)
        field.set_input_files(str(one))
        expect(page.locator("#pn-files-chosen")).to_have_text("收據.png")
        # The footer offers the other ways in, not this form again.
        assert page.locator("footer a[href='/portal/demo/new']").count() == 0
        assert page.locator("footer a[href='/portal/demo/track']").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert csp == []
    ctx.close()


def test_the_console_composer_and_admin_file_inputs(
    browser: Any, live_server: str, shots: Path, tmp_path: Path
) -> None:
    """The agent's composer (its own list of files stays) and the KB import, in the agent's language."""
    image = tmp_path / "收據.png"
    image.write_bytes(PNG)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    chat = _conversation(page, live_server, "web_chat", "檔案按鈕")
    page.goto(f"{live_server}/console/conversations/{chat}?lang=zh-CN")
    composer = page.locator(".composer .file-pick")
    expect(composer.locator(".file-btn")).to_have_text("选择文件（可多选）")
    expect(page.locator("#files-chosen")).to_have_text("未选择文件")
    page.get_by_label("📎 添加附件").set_input_files(str(image))
    expect(page.locator("#files-chosen")).to_have_text("收據.png")
    expect(page.locator("#attach-list")).to_contain_text("收據.png")
    page.locator(".composer").screenshot(path=str(shots / "composer-zh-CN.png"))
    ctx.close()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    page.goto(f"{live_server}/admin/kb/import?lang=en")
    expect(page.locator(".file-pick .file-btn")).to_have_text("Choose a file")
    expect(page.locator("#kb-file-chosen")).to_have_text("No file chosen")
    page.screenshot(path=str(shots / "kb-import-en.png"), full_page=True)
    page.goto(f"{live_server}/admin?tab=brands&lang=zh-TW")
    expect(page.locator(".file-pick .file-btn").first).to_have_text("選擇檔案")
    page.screenshot(path=str(shots / "admin-brands-zh-TW.png"), full_page=True)
    ctx.close()
