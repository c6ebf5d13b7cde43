"""LLM assist endpoints for agents: status, reply drafts, translation (brand-checked like every conversation route)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Depends

from kefu.auth.deps import DB, CurrentPrincipal, SettingsDep, require
from kefu.auth.permissions import Principal
from kefu.conversations.service import get_conversation
from kefu.llm import assist
from kefu.llm.client import is_enabled
from kefu.llm.schemas import AssistOut, DraftIn, StatusOut, TranslateIn
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["llm"])
ConvRead = Annotated[Principal, Depends(require("conversations:read"))]
ConvWrite = Annotated[Principal, Depends(require("conversations:write"))]


@router.get("/llm/status", response_model=StatusOut)
def status(principal: CurrentPrincipal, settings: SettingsDep) -> StatusOut:
    """Is LLM assist configured?"""
    on = is_enabled(settings)
    return StatusOut(enabled=on, model=settings.llm_model if on else None)


@router.post("/conversations/{conversation_id}/llm/draft", response_model=AssistOut)
def draft(conversation_id: int, body: DraftIn, db: DB, principal: ConvWrite, settings: SettingsDep) -> AssistOut:
    """A reply draft in the customer's language from the knowledge base (falls back to the best KB answer)."""
    conv = get_conversation(db, conversation_id, principal)
    return AssistOut(**asdict(assist.draft_reply(db, principal, conv, settings, body.instructions)))


@router.post("/conversations/{conversation_id}/llm/translate", response_model=AssistOut)
def translate(conversation_id: int, body: TranslateIn, db: DB, principal: ConvRead, settings: SettingsDep) -> AssistOut:
    """Translate a customer message into the agent's language, or a draft into the customer's."""
    conv = get_conversation(db, conversation_id, principal)
    result = assist.translate(
        db, principal, conv, settings, message_id=body.message_id, text=body.text, target=body.target_locale
    )
    return AssistOut(**asdict(result))
