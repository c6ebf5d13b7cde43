"""Ticket list, case page and attachments in Chromium at desktop and phone widths (demo data)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from tests.web.conftest import loaded_width
from tests.web.test_console import _login


def _png(width: int = 40, height: int = 30) -> bytes:
    """A small valid PNG (solid orange), so the thumbnail really decodes in the browser."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xd3\x54\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _unlabeled(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                  .map(el => el.outerHTML)"""
        )
    )


def test_phone_ticket_in_list_and_case_page(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # wait_for_function evals
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    page.get_by_role("link", name="工單列表").click()
    page.wait_for_selector(".ticket-table")
    # The demo's urgent phone ticket has no conversation but is a row like any other.
    row = page.locator("tr", has_text="帐号异常登录")
    assert row.count() == 1
    assert "無對話" in row.inner_text() and "緊急" in row.inner_text()
    # SLA countdown, or its overrun: the demo ticket's 10-minute intervention target may lapse while a loaded
    # worker is still running earlier browser tests against the same live server.
    sla_cell = row.locator("td").nth(9).inner_text()
    assert "剩" in sla_cell or "逾時" in sla_cell, sla_cell
    page.locator("details.filters summary").click()
    page.get_by_label("管道").fill("phone")
    page.get_by_role("button", name="套用", exact=True).click()
    page.wait_for_url("**channel=phone**")
    assert page.locator("tbody tr").count() >= 1
    assert all(t.strip() in ("電話", "phone") for t in page.locator("tbody tr td:nth-child(5)").all_inner_texts())
    assert _unlabeled(page) == []
    page.screenshot(path=str(shots / "tickets-1280.png"), full_page=True)
    # The language switch keeps the list and its filter.
    page.get_by_role("link", name="EN").click()
    page.wait_for_url("**lang=en**")
    assert "channel=phone" in page.url and page.locator("h1").inner_text().startswith("Tickets")
    page.get_by_role("link", name="简").click()
    page.wait_for_url("**lang=zh-CN**")
    assert "channel=phone" in page.url and "工单列表" in page.locator("h1").inner_text()
    page.goto(f"{live_server}/console/tickets?channel=phone&lang=zh-TW")
    page.locator("tr", has_text="帐号异常登录").get_by_role("link").first.click()
    page.wait_for_selector("#case")
    assert page.get_by_role("heading", name="SLA 目標").count() == 1
    page.get_by_label("優先級").select_option("high")
    page.get_by_label("標籤 (以逗號分隔)").fill("帳號, 盜用")
    with page.expect_response(lambda r: r.url.endswith("/fields")) as resp:
        page.get_by_role("button", name="儲存").click()
    assert resp.value.status == 200
    page.wait_for_selector("text=已儲存")
    assert page.locator("#c-priority").input_value() == "high"
    assert "更新案件" in page.locator("#hist-h + .table-scroll table").inner_text()  # ticket.update, labelled
    page.screenshot(path=str(shots / "case-1280.png"), full_page=True)
    # Back goes to the filtered list it came from.
    page.get_by_role("link", name="← 回到列表").click()
    page.wait_for_url("**channel=phone**")
    ctx.close()


def test_list_and_case_fit_phone_width(browser: Any, live_server: str, shots: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, bypass_csp=True)
    page = ctx.new_page()
    _login(page, live_server, "mei@kefu.local")
    page.goto(f"{live_server}/console/tickets?view=all")
    page.wait_for_selector(".ticket-table")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert _unlabeled(page) == []
    page.screenshot(path=str(shots / "tickets-390.png"), full_page=True)
    page.locator("tbody tr").first.get_by_role("link").first.click()
    page.wait_for_selector("#case")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    page.screenshot(path=str(shots / "case-390.png"), full_page=True)
    ctx.close()


def test_portal_attachment_shows_as_thumbnail_for_agent(browser: Any, live_server: str, shots: Path) -> None:
    customer = browser.new_context(bypass_csp=True).new_page()
    customer.goto(f"{live_server}/portal/demo/new?lang=zh-TW")
    customer.get_by_label("姓名").fill("陳小姐")
    customer.get_by_label("聯絡方式（Email 或電話）").fill("chen@example.com")
    customer.get_by_label("標題").fill("退款收據")
    customer.get_by_label("問題描述").fill("附上收據，請協助退款")
    customer.set_input_files(
        "#pn-files",
        files=[
            {"name": "receipt.png", "mimeType": "image/png", "buffer": _png()},
            {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 demo"},
        ],
    )
    customer.get_by_role("button", name="送出").click()
    customer.wait_for_selector(".ticket-number")
    number = customer.locator(".ticket-number").inner_text()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # wait_for_function evals
    page = ctx.new_page()
    _login(page, live_server, "lead@kefu.local")
    page.goto(f"{live_server}/console/tickets?sort=created")
    page.get_by_role("link", name=number).click()
    page.wait_for_selector("#case")
    page.get_by_role("link", name="開啟對話").first.click()
    page.wait_for_selector(".timeline img")
    img = page.locator(".timeline .attachments img").first
    assert loaded_width(img) == 40
    chip = page.locator(".timeline .file-chip", has_text="invoice.pdf")
    assert "application/pdf" in chip.inner_text() and "13 Bytes" in chip.inner_text()
    with page.expect_download() as dl:
        chip.click()
    assert dl.value.suggested_filename == "invoice.pdf"
    page.screenshot(path=str(shots / "attachments-1280.png"), full_page=True)
    # The conversation links back to the case it was opened from.
    page.get_by_role("link", name="← 案件").click()
    page.wait_for_selector("#case")
    ctx.close()
