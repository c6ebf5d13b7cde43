"""A board / help-centre post is returned again only for the same submission: same id and the same content."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

POST = {
    "name": "林小姐",
    "contact": "lin@example.com",
    "category": "order",
    "message": "訂單沒出貨",
    "submission_id": "s-000001",
}


def _tickets(db: Any, brand: Any) -> int:
    from kefu.tickets.models import Ticket

    return int(db.scalar(select(func.count()).select_from(Ticket).where(Ticket.brand_id == brand.id)))


def test_same_id_and_content_is_one_ticket_other_content_is_a_new_one(
    client: Any, make: Any, inbox: Any, db: Any
) -> None:
    from kefu.conversations.models import Conversation, Message

    brand = make.brand()
    ib = inbox(brand, "board")
    url = f"/api/v1/channels/board/{ib.id}"
    first = client.post(url, json=POST)
    assert first.status_code == 201, first.text
    again = client.post(url, json=POST)  # a double-submitted form
    assert again.json() == first.json() and _tickets(db, brand) == 1

    # Someone else's post under the same id: a ticket of its own, nothing of the first one in the answer.
    other = {**POST, "name": "王先生", "contact": "wang@example.com", "message": "我的退款呢"}
    second = client.post(url, json=other)
    assert second.status_code == 201, second.text
    number = first.json()["ticket_number"]
    assert second.json()["ticket_number"] != number and number not in second.text
    assert second.json()["conversation_id"] != first.json()["conversation_id"] and _tickets(db, brand) == 2
    form = client.post(url, data={**other, "message": "表單再問一次"})  # the HTML answer names no first number either
    assert form.status_code == 201 and number not in form.text and _tickets(db, brand) == 3
    # The second poster's own double submit is still recognised under its fresh id.
    assert client.post(url, json=other).json() == second.json() and _tickets(db, brand) == 3

    db.expire_all()
    conv = db.get(Conversation, first.json()["conversation_id"])
    bodies = db.scalars(select(Message.body).where(Message.conversation_id == conv.id)).all()
    assert bodies == ["訂單沒出貨"]  # the first post is untouched
    threads = db.scalars(select(Conversation.external_thread_id).where(Conversation.brand_id == brand.id)).all()
    assert len(set(threads)) == 3  # no thread shared with the first post (its case would be reopened for it)


def _portal(client: Any, make: Any, db: Any) -> tuple[Any, str]:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    create_inbox(db, brand, kind="board", name="留言板", config={}, actor=None)
    db.commit()
    assert client.get(f"/portal/{brand.slug}/new").status_code == 200
    return brand, str(client.cookies.get("kefu_portal_csrf"))


def test_help_centre_files_never_join_another_post_or_its_own_twice(client: Any, make: Any, db: Any) -> None:
    from kefu.conversations.models import Message

    brand, token = _portal(client, make, db)
    url = f"/portal/{brand.slug}/new"
    form = {"csrf_token": token, "name": "陳小姐", "contact": "chen@example.com", "message": "杯子有裂痕"}
    form["submission_id"] = "shared-id-1"
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100

    def post(data: dict[str, str], name: str) -> str:
        r = client.post(url, data=data, files=[("files", (name, png, "image/png"))])
        assert r.status_code == 200, r.text
        return str(r.text.split('class="ticket-number">')[1].split("<")[0])

    number = post(form, "first.png")
    assert post(form, "first.png") == number  # a double submit: the same case, its file not attached twice
    other = post({**form, "name": "路人", "contact": "x@example.com", "message": "別人的留言"}, "other.png")
    assert other != number
    db.expire_all()
    rows = db.execute(
        select(Message.body, Message.attachments)
        .where(Message.brand_id == brand.id, Message.sender_type == "customer")
        .order_by(Message.id)
    ).all()
    assert [(body, [a["filename"] for a in files]) for body, files in rows] == [
        ("杯子有裂痕", ["first.png"]),
        ("別人的留言", ["other.png"]),
    ]
    assert _tickets(db, brand) == 2
