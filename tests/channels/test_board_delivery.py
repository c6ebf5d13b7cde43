"""Board replies reach the customer (#17): by email when the post left one, else in the portal progress thread;
channels that cannot deliver refuse a written reply with a clear error."""

from __future__ import annotations

from typing import Any

from tests.channels.test_email import _email_inbox


def _post(client: Any, board_id: int, contact: str, sid: str) -> Any:
    r = client.post(
        f"/api/v1/channels/board/{board_id}",
        json={"name": "林小姐", "contact": contact, "message": "商品少寄一件", "submission_id": sid},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_board_reply_goes_by_email_or_to_the_portal_and_phone_refuses_written_replies(
    client: Any, make: Any, inbox: Any, jobs: Any, upstream: Any
) -> None:
    captured, port = upstream
    brand = make.brand()
    h = make.token(make.agent("agent", [brand]))
    _email_inbox(inbox, brand, port)
    board = inbox(brand, "board")

    by_mail = _post(client, board.id, "Lin@Example.com", "post-mail-1")
    r = client.post(
        f"/api/v1/conversations/{by_mail['conversation_id']}/messages", json={"body": "已補寄，明天到貨"}, headers=h
    )
    assert r.status_code == 201, r.text
    assert jobs.drain()
    sent = captured.wait(1)[0]
    assert sent["To"] == "lin@example.com" and by_mail["ticket_number"] in sent["Subject"]
    assert "已補寄" in sent.get_content()

    by_phone = _post(client, board.id, "0912-345-678", "post-phone-1")
    r = client.post(
        f"/api/v1/conversations/{by_phone['conversation_id']}/messages", json={"body": "已補寄，請查收"}, headers=h
    )
    assert r.status_code == 201, r.text
    view = client.post(
        "/api/v1/public/tickets/progress", json={"number": by_phone["ticket_number"], "contact": "0912345678"}
    )
    assert view.status_code == 200, view.text
    assert view.json()["last_update"]["body"] == "已補寄，請查收"
    assert len(captured.messages) == 1  # nothing was mailed for the phone-only post

    call = client.post(
        "/api/v1/channels/phone/calls",
        json={
            "brand_id": brand.id,
            "phone": "+886911000999",
            "direction": "inbound",
            "duration_seconds": 30,
            "outcome": "follow_up",
        },
        headers=h,
    )
    conv_id = call.json()["conversation_id"]
    refused = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "您好"}, headers=h)
    assert refused.status_code == 409 and "phone" in refused.json()["detail"]
    note = client.post(f"/api/v1/conversations/{conv_id}/messages", json={"body": "已回電", "is_note": True}, headers=h)
    assert note.status_code == 201
