"""Channels in Chromium: the composer attaches files (thumbnail in the timeline, a refused file explained in the
composer with the typed reply kept) and the admin's "send test message" shows the provider's answer inline in
zh-TW, zh-CN and en. Works on conversations and an inbox the test creates, so demo journeys are untouched.
Screenshots at 1280 and 390 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import loaded_width
from tests.web.test_console import _login
from tests.web.test_ticket_list_browser import _unlabeled
from tests.web.test_workspace_browser import _csrf, _overflow

PNG = bytes.fromhex(  # a 16×16 orange square
    "89504e470d0a1a0a0000000d49484452000000100000001008060000001ff3ff610000001949444154789c63f8dfc0f09f12cc306a"
    "c0a801a3060c17030080007e1f772b03300000000049454e44ae426082"
)


def _conversation(page: Any, base: str, channel: str, name: str) -> int:
    csrf = {"X-CSRF-Token": _csrf(page)}
    customer = page.request.post(f"{base}/api/v1/customers", data={"brand_id": 1, "name": name}, headers=csrf)
    assert customer.status == 201, customer.text()
    conv = page.request.post(
        f"{base}/api/v1/conversations",
        data={"brand_id": 1, "customer_id": customer.json()["id"], "channel": channel, "subject": "附件"},
        headers=csrf,
    )
    assert conv.status == 201, conv.text()
    return int(conv.json()["id"])


def test_composer_attaches_a_file_and_explains_a_refused_one(
    browser: Any, live_server: str, shots: Path, tmp_path: Path
) -> None:
    image = tmp_path / "收據.png"
    image.write_bytes(PNG)
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    chat = _conversation(page, live_server, "web_chat", "附件測試（網頁）")
    page.goto(f"{live_server}/console/conversations/{chat}?lang=zh-TW")
    assert "每個檔案上限 10 MB" in page.locator("#attach-hint").inner_text()
    page.get_by_label("📎 附加檔案").set_input_files(str(image))
    expect(page.locator("#attach-list")).to_contain_text("收據.png")
    # A file alone is a reply: the text box is no longer required.
    assert page.evaluate("document.getElementById('body').required") is False
    page.get_by_role("button", name="送出").click()
    page.wait_for_selector(".timeline .thumb img")
    thumb = page.locator(".timeline .thumb img").last
    assert thumb.get_attribute("alt") == "收據.png"
    assert loaded_width(thumb) == 16  # the stored file renders
    # Cleared when the POST's own response arrives, which may come after the WebSocket's refresh of the timeline.
    expect(page.locator("#attach-list li")).to_have_count(0)
    page.screenshot(path=str(shots / "composer-attach-1280.png"), full_page=True)

    # LINE has no video message: the server refuses the file; the reason is shown and the typed reply stays.
    line = _conversation(page, live_server, "line", "附件測試（LINE）")
    page.goto(f"{live_server}/console/conversations/{line}?lang=zh-CN")
    page.locator("#body").fill("请看影片")
    page.locator("#files").set_input_files(str(video))
    page.get_by_role("button", name="发送").click()
    error = page.locator(".attach .field-error")  # under the file input, like every form's field errors
    error.get_by_text("clip.mp4").wait_for()
    assert "无法通过 LINE 发送" in error.inner_text()
    assert page.locator("#body").input_value() == "请看影片"
    assert page.locator(".timeline").get_by_text("请看影片").count() == 0
    page.screenshot(path=str(shots / "composer-refused-zh-CN-1280.png"), full_page=True)
    assert _unlabeled(page) == []

    mobile = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone = mobile.new_page()
    _login(phone, live_server, "lead@kefu.local")
    phone.goto(f"{live_server}/console/conversations/{chat}?lang=en")
    assert "Up to 5 files, 10 MB each" in phone.locator("#attach-hint").inner_text()
    assert _overflow(phone) <= 0
    phone.screenshot(path=str(shots / "composer-attach-390.png"), full_page=True)
    mobile.close()
    ctx.close()


def test_admin_sends_a_test_message_and_sees_the_providers_answer(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "admin@kefu.local")
    # An email inbox whose relay is not listening: the test reports the connection error, inline.
    r = page.request.post(
        f"{live_server}/api/v1/brands/1/inboxes",
        data={
            "kind": "email",
            "name": "測試信箱 chan3",
            "config": {"address": "chan3-test@kefu.local", "smtp_host": "127.0.0.1", "smtp_port": 9},
        },
        headers={"X-CSRF-Token": _csrf(page)},
    )
    assert r.status == 201, r.text()
    inbox_id = r.json()["id"]
    expected = {
        "zh-TW": ("收件人 Email", "傳送測試", "傳送失敗，服務商回覆："),
        "zh-CN": ("收件人 Email", "发送测试", "发送失败，服务商回复："),
        "en": ("Recipient email", "Send test", "Not sent. The provider answered:"),
    }
    for lang, (label, button, failed) in expected.items():
        page.goto(f"{live_server}/admin?tab=inboxes&brand_id=1&lang={lang}")
        form = page.locator(f"#ct-{inbox_id}")
        form.get_by_label(label).fill("owner@shop.example")
        form.get_by_role("button", name=button).click()
        result = page.locator(f"#ct-{inbox_id}-result [data-test-result]")
        result.wait_for()
        text = result.inner_text()
        assert result.get_attribute("data-test-result") == "failed" and failed in text and "SMTP" in text, text
        form.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"channel-test-{lang}-1280.png"))
    assert _unlabeled(page) == []
    mobile = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone = mobile.new_page()
    _login(phone, live_server, "admin@kefu.local")
    phone.goto(f"{live_server}/admin?tab=inboxes&brand_id=1&lang=zh-TW")
    phone.locator(f"#ct-{inbox_id}").scroll_into_view_if_needed()
    assert _overflow(phone) <= 0
    phone.screenshot(path=str(shots / "channel-test-390.png"))
    mobile.close()
    ctx.close()
