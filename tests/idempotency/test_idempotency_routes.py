"""Idempotency-Key on the remaining creates: POST /conversations and the multipart agent reply with files (its
fingerprint covers the form fields and the files' bytes); and every public 201 create accepts the header."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kefu.channels.models import ChannelAttachment, OutboxMessage
from kefu.conversations.models import Conversation, Message
from kefu.customers.models import CustomerIdentity

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _setup(make: Any, db: Any) -> tuple[Any, Any, dict[str, str], Any]:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    headers = make.token(make.agent("admin", [brand]))
    inbox = create_inbox(
        db, brand, kind="api", name="API", config={"callback_url": "https://kefu-test.invalid/callback"}, actor=None
    )
    customer = make.customer(brand)
    db.add(CustomerIdentity(brand_id=brand.id, customer_id=customer.id, kind="api", external_id="user-4711"))
    db.commit()
    return brand, inbox, headers, customer


def _count(db: Any, model: Any, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)))


def test_create_conversation_replays_with_the_same_key(client: Any, make: Any, db: Any) -> None:
    brand, inbox, headers, customer = _setup(make, db)
    h = {**headers, "Idempotency-Key": "conv-1"}
    body = {"brand_id": brand.id, "customer_id": customer.id, "channel": "api", "inbox_id": inbox.id, "subject": "退貨"}
    first = client.post("/api/v1/conversations", json=body, headers=h)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/conversations", json=dict(reversed(list(body.items()))), headers=h)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert again.json() == first.json()
    assert _count(db, Conversation, Conversation.customer_id == customer.id) == 1
    other = client.post("/api/v1/conversations", json={**body, "subject": "換貨"}, headers=h)
    assert other.status_code == 422 and other.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in other.json()["detail"]
    assert _count(db, Conversation, Conversation.customer_id == customer.id) == 1


def _conversation(client: Any, brand: Any, inbox: Any, customer: Any, headers: dict[str, str]) -> int:
    body = {"brand_id": brand.id, "customer_id": customer.id, "channel": "api", "inbox_id": inbox.id}
    r = client.post("/api/v1/conversations", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _reply(client: Any, conv_id: int, h: dict[str, str], body: str, *files: tuple[str, bytes, str]) -> Any:
    return client.post(
        f"/api/v1/channels/conversations/{conv_id}/messages",
        data={"body": body},
        files=[("files", f) for f in files],
        headers=h,
    )


def test_multipart_reply_replays_and_a_different_file_is_422(
    client: Any, make: Any, db: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path))  # count this test's files only
    brand, inbox, headers, customer = _setup(make, db)
    conv = _conversation(client, brand, inbox, customer, headers)
    h = {**headers, "Idempotency-Key": "reply-1"}
    first = _reply(client, conv, h, "這是您的收據", ("receipt.png", PNG, "image/png"))
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # A retry is a new multipart body (another boundary) with the same fields and file: the same reply.
    again = _reply(client, conv, h, "這是您的收據", ("receipt.png", PNG, "image/png"))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert again.json() == first.json()
    # The same key with another file (same name, other bytes), another text or no file: a different request.
    for files in ((("receipt.png", PNG + b"\x01", "image/png"),), ()):
        r = _reply(client, conv, h, "這是您的收據", *files)
        assert r.status_code == 422, r.text
        assert "Idempotency-Key" in r.json()["detail"]
    zh = _reply(client, conv, {**h, "Accept-Language": "zh-TW"}, "這是您的收據!", ("receipt.png", PNG, "image/png"))
    assert (
        zh.status_code == 422 and zh.json()["detail"] == "此 Idempotency-Key 已用於另一個不同的請求，請改用新的金鑰。"
    )
    agent_messages = (Message.conversation_id == conv, Message.sender_type == "agent")
    assert _count(db, Message, *agent_messages) == 1
    assert _count(db, ChannelAttachment, ChannelAttachment.conversation_id == conv) == 1
    assert _count(db, OutboxMessage, OutboxMessage.conversation_id == conv) == 1  # one send queued, not three
    # The replays stored their files and rolled back: the files went with the rows (nothing left to find or erase).
    from kefu.channels.config import data_dir

    assert len([p for p in (data_dir() / "attachments" / str(brand.id)).rglob("*") if p.is_file()]) == 1


def test_multipart_reply_in_flight_duplicate_is_409(client: Any, make: Any, db: Any, in_flight: Any) -> None:
    from kefu.channels import media

    brand, inbox, headers, customer = _setup(make, db)
    conv = _conversation(client, brand, inbox, customer, headers)
    h = {**headers, "Idempotency-Key": "slow-reply"}

    def send() -> Any:
        return _reply(client, conv, h, "稍等", ("a.png", PNG, "image/png"))

    first, dup = in_flight(media, "reply", send)  # media.reply is what the multipart route calls
    assert dup.status_code == 409, dup.text
    assert dup.headers["Retry-After"] == "1"
    assert dup.headers["content-type"].startswith("application/problem+json")
    assert first.status_code == 201, first.text
    later = send()
    assert later.headers["Idempotent-Replayed"] == "true" and later.json()["id"] == first.json()["id"]
    assert _count(db, Message, Message.conversation_id == conv, Message.sender_type == "agent") == 1
    assert _count(db, OutboxMessage, OutboxMessage.conversation_id == conv) == 1


def test_form_fingerprint_ignores_field_order_but_not_file_order() -> None:
    from kefu.idempotency.service import form_fingerprint

    a = ("files", ["a.png", "image/png", "1" * 64])
    b = ("files", ["b.png", "image/png", "2" * 64])
    one = form_fingerprint("POST", "/x", [("body", "hi"), a, b])
    assert one == form_fingerprint("POST", "/x", [a, ("body", "hi"), b])
    assert one != form_fingerprint("POST", "/x", [("body", "hi"), b, a])
    assert one != form_fingerprint("POST", "/y", [("body", "hi"), a, b])


# POST routes answering 201 that need no Idempotency-Key, each with the reason.
_CONFIG = (
    "admin configuration made by hand in the console or a setup script, not an integration's retried create; a "
    "duplicate is visible and removable"
)
_PUBLIC = "public visitor route: no principal to scope a key by (keys are per token or agent)"
_SUBMISSION = "public visitor route without a principal to scope a key by: the body's `submission_id` replays instead"
_SECRET = "answers a secret once: a replay could not show it again (stored hashed), so a retry makes a new one"
NO_KEY_201 = {
    "POST /api/v1/agents": _CONFIG,
    "POST /api/v1/brands": _CONFIG,
    "POST /api/v1/brands/{brand_id}/inboxes": _CONFIG,
    "POST /api/v1/canned-responses": _CONFIG,
    "POST /api/v1/follow-up-rules": _CONFIG,
    "POST /api/v1/kb/articles": _CONFIG,
    "POST /api/v1/kb/faqs": _CONFIG,
    "POST /api/v1/notices/outages": _CONFIG,
    "POST /api/v1/organizations": _CONFIG,
    "POST /api/v1/qa/scorecards": _CONFIG,
    "POST /api/v1/quality/causes": _CONFIG,
    "POST /api/v1/quality/plans/{plan_id}/items": _CONFIG,
    "POST /api/v1/routing/rules": _CONFIG,
    "POST /api/v1/sla/calendars": _CONFIG,
    "POST /api/v1/sla/policies": _CONFIG,
    "POST /api/v1/survey-campaigns": _CONFIG,
    "POST /api/v1/teams": _CONFIG,
    "POST /api/v1/teams/{team_id}/shift-exceptions": _CONFIG,
    "POST /api/v1/ticket-categories": _CONFIG,
    "POST /api/v1/ticket-fields": _CONFIG,
    "POST /api/v1/tokens": _SECRET,
    "POST /api/v1/channels/board/{inbox_id}": _SUBMISSION,
    "POST /api/v1/public/brands/{slug}/callbacks": _SUBMISSION,
    "POST /api/v1/widget/attachments": _PUBLIC,
    "POST /api/v1/widget/leave-message": _PUBLIC,
    "POST /api/v1/widget/messages": _PUBLIC,
    "POST /api/v1/customers/{customer_id}/identities": (
        "a repeat is harmless without a key: the same kind and external id on the same customer answers the existing "
        "identity (add_identity), on another customer 409"
    ),
    "POST /api/v1/qa/samples": (
        "once per brand and day by construction: a repeat answers the day's existing run (sample_day), no second draw"
    ),
    "POST /api/v1/tickets/{ticket_id}/links": (
        "no second row is possible: the same link again is refused 409 (link_tickets checks the pair both ways)"
    ),
    "POST /api/v1/tickets/{ticket_id}/security-steps": (
        "idempotent by design: a step is recorded once per case; recording it again answers the first record with 200"
    ),
}


def test_every_public_201_create_accepts_an_idempotency_key() -> None:
    """A new create route (201) must take `idem: Idem` (kefu.idempotency.deps) or be listed above with a reason."""
    from fastapi.routing import APIRoute

    from kefu import registry
    from kefu.idempotency.deps import idempotency

    def uses_idem(dependant: Any) -> bool:
        return any(d.call is idempotency or uses_idem(d) for d in dependant.dependencies)

    creates = {
        f"POST {r.path}": uses_idem(r.dependant)
        for router in registry.routers("api")
        for r in router.routes
        if isinstance(r, APIRoute) and "POST" in r.methods and r.status_code == 201 and r.path.startswith("/api/")
    }
    assert len(creates) >= 5, creates
    missing = sorted(route for route, ok in creates.items() if not ok and route not in NO_KEY_201)
    assert not missing, f"201 creates without Idempotency-Key (take `idem: Idem` or list them with a reason): {missing}"
    assert not set(NO_KEY_201) - set(creates), "stale entries in NO_KEY_201"
