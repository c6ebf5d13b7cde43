"""The widget in a real browser recovers from a busy server: a failed session start and a message the server could not
store (answered {"op":"error","retry":true}) are both tried again, without a reload or a reconnect."""

from __future__ import annotations

import json
from typing import Any


def test_widget_retries_a_failed_session_and_an_unstored_message(browser: Any, live_server: str) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    page = ctx.new_page()
    sessions: list[str] = []

    def session(route: Any) -> None:
        sessions.append(route.request.method)
        if len(sessions) == 1:  # the first start meets a busy server
            route.fulfill(status=503, headers={"Retry-After": "1"}, body="busy")
        else:
            route.continue_()

    sent: list[dict[str, Any]] = []

    def route_socket(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(raw: str | bytes) -> None:
            d = json.loads(raw)
            if d.get("op") == "message":
                sent.append(d)
                if len(sent) == 1:  # what the server answers when its database could not store the message
                    detail = "訊息暫時送不出去，系統會自動再試。"
                    ws.send(json.dumps({"op": "error", "client_id": d["client_id"], "detail": detail, "retry": True}))
                    return
            server.send(raw)

        ws.on_message(from_page)

    page.route("**/api/v1/widget/session", session)
    page.route_web_socket("**/api/v1/widget/ws*", route_socket)
    page.goto(f"{live_server}/demo/shop")
    page.get_by_role("button", name="線上客服").click()
    page.locator(".kefu-greeting").wait_for()  # greeted: the second start got through
    assert len(sessions) == 2
    box = page.get_by_label("輸入訊息…")
    box.fill("我想查訂單")
    box.press("Enter")
    page.locator(".kefu-row.kefu-mine", has_text="我想查訂單").wait_for()  # acknowledged: stored on the resend
    assert len(sent) >= 2 and len({m["client_id"] for m in sent}) == 1  # the same message, deduped by its id
    assert page.locator(".kefu-row.kefu-mine").count() == 1
    ctx.close()


def _until(page: Any, ok: Any, what: str, seconds: float = 15.0) -> None:
    for _ in range(int(seconds * 10)):
        if ok():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_refused_message_is_shown_as_not_sent_and_never_resent(browser: Any, live_server: str, shots: Any) -> None:
    """The server refuses a too-long message for good (retry false): the widget shows it as not sent with the reason in
    the customer's language, does not send it again on a reconnect, and lets the customer edit and resend or remove it
    from the keyboard."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-TW")
    page = ctx.new_page()
    sockets: list[Any] = []
    sent: list[dict[str, Any]] = []

    def route_socket(ws: Any) -> None:
        server = ws.connect_to_server()
        sockets.append(ws)

        def from_page(raw: str | bytes) -> None:
            d = json.loads(raw)
            if d.get("op") == "message":
                sent.append(d)
                if d["body"].startswith("長訊息"):  # made longer than the server takes: the real server refuses it
                    raw = json.dumps({**d, "body": d["body"] + "字" * 10_000}, ensure_ascii=False)
            server.send(raw)

        ws.on_message(from_page)

    page.route_web_socket("**/api/v1/widget/ws*", route_socket)
    page.goto(f"{live_server}/demo/shop")
    page.get_by_role("button", name="線上客服").click()
    page.locator(".kefu-greeting").wait_for()
    box = page.get_by_label("輸入訊息…")
    box.fill("長訊息：我的訂單到現在還沒出貨")
    box.press("Enter")
    unsent = page.locator(".kefu-row.kefu-unsent", has_text="長訊息：我的訂單到現在還沒出貨")
    unsent.wait_for()
    why = unsent.locator(".kefu-why").inner_text()
    assert why.startswith("未送出") and "訊息太長了（最多 10000 個字）" in why, why
    assert page.locator(".kefu-root [role=alert]").inner_text() == why  # said to screen readers too
    page.screenshot(path=str(shots / "refused_not_sent.png"))
    refused_id = sent[-1]["client_id"]

    # A reconnect re-sends what is still waiting for its ack; the refused message is no longer waiting.
    sockets[-1].close()
    _until(page, lambda: len(sockets) == 2, "the reconnect")
    page.wait_for_timeout(1500)
    assert [m["client_id"] for m in sent].count(refused_id) == 1
    assert unsent.count() == 1  # still shown, not silently dropped

    # Edit and resend, from the keyboard: the text goes back into the box, focused, and the edited one is stored.
    unsent.get_by_role("button", name="修改後重新傳送").focus()
    page.keyboard.press("Enter")
    assert unsent.count() == 0 and box.input_value() == "長訊息：我的訂單到現在還沒出貨"
    assert page.evaluate("document.activeElement.classList.contains('kefu-input')")
    box.fill("我的訂單到現在還沒出貨")
    box.press("Enter")
    page.locator(".kefu-row.kefu-mine:not(.kefu-unsent)", has_text="我的訂單到現在還沒出貨").wait_for()

    # Remove, with the space bar: gone from the screen, and never sent again.
    box.fill("長訊息：不用了")
    box.press("Enter")
    gone = page.locator(".kefu-row.kefu-unsent", has_text="長訊息：不用了")
    gone.wait_for()
    gone.get_by_role("button", name="移除").focus()
    page.keyboard.press(" ")
    assert gone.count() == 0 and page.locator(".kefu-unsent").count() == 0
    assert page.evaluate("document.activeElement.classList.contains('kefu-input')")
    assert [m["body"] for m in sent].count("長訊息：不用了") == 1
    ctx.close()
