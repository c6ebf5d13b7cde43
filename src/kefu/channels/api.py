"""Channel-wide endpoints: attachment downloads, outbox (dead letters, retry), agent typing; starts the sweeper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from kefu.auth.deps import DB, commit_in_one_hop, optional_principal, require
from kefu.auth.permissions import Principal
from kefu.channels import config, media, outbox, testsend
from kefu.channels import jobs as _jobs  # noqa: F401 - registers channel jobs (create_app does not load jobs)
from kefu.channels.downloads import attachment_for
from kefu.channels.email import jobs as _email_jobs  # noqa: F401
from kefu.channels.models import OutboxMessage
from kefu.channels.web_chat.service import visitor_attachment
from kefu.channels.web_chat.token import verify
from kefu.conversations.schemas import MessageOut
from kefu.conversations.service import get_conversation, get_message
from kefu.core.access import scope_to_brands
from kefu.core.errors import NotFound, Unauthorized
from kefu.core.events import publish
from kefu.idempotency.deps import Idem
from kefu.privacy import masking as pii
from kefu.web.files import StoredFile
from kefu.web.routing import Router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the channel sweeper when the app owns a real connection pool (not in-transaction test apps)."""
    from kefu.channels.background import Background

    factory = getattr(app.state, "session_factory", None)
    runner = None
    if isinstance(factory, sessionmaker) and config.settings().channels_background:
        runner = Background(factory)
        runner.start()
    try:
        yield
    finally:
        if runner is not None:
            runner.stop()


router = Router(prefix="/api/v1/channels", tags=["channels"], lifespan=lifespan)
Read = Annotated[Principal, Depends(require("conversations:read"))]
Write = Annotated[Principal, Depends(require("conversations:write"))]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


@router.get("/attachments/{attachment_id}")
def download_attachment(
    attachment_id: int, request: Request, db: DB, principal: MaybePrincipal, vt: str | None = None
) -> StoredFile:
    """A stored file, as a download (agents of the brand, or the visitor of that conversation)."""
    if principal is not None:
        row, path = attachment_for(db, attachment_id, principal)  # the same checks as the console's download
    else:
        visitor = verify(request.headers.get("x-kefu-visitor") or vt)
        if visitor is None:
            raise Unauthorized.said("err_channels_visitor_or_agent")
        row, path = visitor_attachment(db, visitor, attachment_id)
    # Always a download, never rendered inline under our origin (uploaded HTML/SVG cannot run as a page).
    return StoredFile(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )


@router.get("/media/{token}/{filename}")
def public_media(token: str, filename: str, db: DB) -> StoredFile:
    """A file an agent sent, behind a signed, expiring link (providers such as LINE fetch media by https URL)."""
    row, path = media.public_file(db, token)
    # Images display inline (the provider renders them); anything else is a download, never a page of our origin.
    inline = row.content_type in media.IMAGE_TYPES
    # A shared cache may keep the file a day, but never past the link's own expiry.
    max_age = min(86400, media.seconds_left(token))
    return StoredFile(
        path,
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": f"public, max-age={max_age}"},
    )


async def read_uploads(files: list[UploadFile]) -> list[media.Upload]:
    """Multipart files as uploads (read up to the largest per-file limit plus one byte, so oversize is caught)."""
    out = []
    for f in files:
        if not f.filename:
            continue  # an empty file input posts a nameless part
        out.append(media.Upload(f.filename, f.content_type or "", await f.read(media.MAX_READ)))
    return out


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=201)
async def post_message_with_files(
    conversation_id: int,
    db: DB,
    principal: Write,
    body: Annotated[str, Form(max_length=100_000)] = "",
    is_note: Annotated[bool, Form()] = False,
    files: Annotated[list[UploadFile] | None, File()] = None,
    *,
    idem: Idem,
) -> MessageOut | JSONResponse:
    """An agent reply or note with attachments (multipart); 413/415/422 when the channel cannot carry a file."""
    uploads = await read_uploads(files or [])

    def run() -> MessageOut:
        conv = get_conversation(db, conversation_id, principal)
        msg = media.reply(db, conv, agent_id=principal.agent_id, body=body, uploads=uploads, note=is_note)
        return pii.message(principal, MessageOut.model_validate(msg))

    def again(message_id: int) -> MessageOut:
        conv = get_conversation(db, conversation_id, principal)
        return pii.message(principal, MessageOut.model_validate(get_message(db, conv, message_id)))

    return await commit_in_one_hop(db, lambda: idem.run(db, run, again))


class TestMessage(BaseModel):
    """Who receives an inbox's test message (email address, LINE user id, PSID, phone number, API user id)."""

    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, Field(min_length=1, max_length=320)]
    text: Annotated[str | None, Field(max_length=1000)] = None


@router.post("/inboxes/{inbox_id}/test")
def send_test_message(
    inbox_id: int, body: TestMessage, db: DB, principal: Annotated[Principal, Depends(require("brands:manage"))]
) -> dict[str, Any]:
    """Send a real test message through the inbox's adapter; the provider's answer (or error) is returned."""
    from kefu.brands.service import inbox_in_brands

    inbox = inbox_in_brands(db, inbox_id, principal)
    if inbox is None:
        raise NotFound.said("err_channels_inbox_not_found")
    text = body.text or f"kefu test message ({inbox.name})"
    outcome = testsend.send_test(
        db, inbox, principal, body.to, text=text, subject="kefu test message", release=db.commit
    )
    return {
        "ok": outcome.ok,
        "provider_message_id": outcome.provider_message_id,
        "error": outcome.error,
        "retryable": outcome.retryable,
        "status_code": outcome.status_code,
    }


class OutboxOut(BaseModel):
    """An outbox row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    inbox_id: int
    conversation_id: int | None
    message_id: int | None
    channel: str
    recipient: str
    automatic: bool
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None


@router.get("/outbox", response_model=list[OutboxOut])
def list_outbox(
    db: DB,
    principal: Read,
    status: str | None = None,
    brand_id: int | None = None,
    conversation_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxOut]:
    """Outbound deliveries, newest first (status=dead lists the dead letters)."""
    stmt = select(OutboxMessage)
    stmt = scope_to_brands(stmt, OutboxMessage.brand_id, principal)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    if brand_id is not None:
        stmt = stmt.where(OutboxMessage.brand_id == brand_id)
    if conversation_id is not None:
        stmt = stmt.where(OutboxMessage.conversation_id == conversation_id)
    rows = db.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit))
    return [OutboxOut.model_validate(r) for r in rows]


@router.post("/outbox/{outbox_id}/retry", response_model=OutboxOut)
def retry_outbox(outbox_id: int, db: DB, principal: Write) -> OutboxOut:
    """Re-send a dead-lettered delivery."""
    row = outbox.get_row(db, outbox_id, principal)
    return OutboxOut.model_validate(outbox.requeue(db, row))


class Typing(BaseModel):
    """Typing indicator state."""

    typing: bool = True


@router.post("/conversations/{conversation_id}/typing", status_code=204)
def agent_typing(conversation_id: int, body: Typing, db: DB, principal: Write) -> None:
    """Tell the customer (web chat) that an agent is typing."""
    conv = get_conversation(db, conversation_id, principal)
    data: dict[str, Any] = {"conversation_id": conv.id, "sender_type": "agent", "typing": body.typing}
    publish(db, "typing", data, (f"conversation:{conv.id}:public", f"conversation:{conv.id}"))
