"""Agent access to stored attachments: the same checks as opening the attachment's conversation (files of no
conversation are not served here)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.channels.models import ChannelAttachment
from kefu.channels.storage import path_of
from kefu.conversations import service as conv_service
from kefu.core.access import get_in_brand
from kefu.core.errors import NotFound


def attachment_for(session: Session, attachment_id: int, principal: Principal) -> tuple[ChannelAttachment, Path]:
    """The attachment row and its file, or 404 for anyone who could not open its conversation."""
    if not principal.can("conversations:read"):
        raise NotFound.said("err_channels_attachment_not_found")
    row = get_in_brand(session, ChannelAttachment, attachment_id, principal, "Attachment")
    if row.conversation_id is None:
        # A file of no conversation (an organisation report's CSV/PDF for the outbox) has its own download with its
        # own permission; served here it would skip that check (customers:read) for anyone reading conversations.
        raise NotFound.said("err_channels_attachment_not_found")
    # Raises NotFound exactly where the conversation page would.
    conv_service.get_conversation(session, row.conversation_id, principal)
    path = path_of(row)
    if not path.exists():
        raise NotFound.said("err_channels_attachment_file_missing")
    return row, path
