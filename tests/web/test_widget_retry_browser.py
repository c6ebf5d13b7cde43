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
                    detail = "The message could not be sent just now; it will be retried."
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
