"""Bot endpoints: preview, agent assist, review queue, feedback."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.auth.service import get_agent
from kefu.bot import service
from kefu.bot.emotion import analyze
from kefu.bot.engine import get_registry
from kefu.bot.policy import BotSettings, Memory, Turn, decide, thresholds
from kefu.bot.schemas import AttachIn, FeedbackIn, PreviewIn, PreviewOut, ReviewOut, SuggestionOut
from kefu.brands.service import get_brand
from kefu.conversations.models import Message
from kefu.conversations.service import get_conversation
from kefu.core.access import find_in_brand
from kefu.core.errors import NotFound, ProblemError
from kefu.core.pagination import Page
from kefu.web.routing import Router

router = Router(prefix="/api/v1", tags=["bot"])
KbRead = Annotated[Principal, Depends(require("kb:read"))]
KbWrite = Annotated[Principal, Depends(require("kb:write"))]
ConvRead = Annotated[Principal, Depends(require("conversations:read"))]


@router.post("/bot/preview", response_model=PreviewOut)
def preview(body: PreviewIn, db: DB, principal: KbRead) -> PreviewOut:
    """What would the bot answer? (for editors testing the knowledge base)"""
    brand = get_brand(db, body.brand_id, principal)
    locale = body.locale or service.detect_locale(body.text, brand.default_locale)
    # A request never fits an index: while a brand's first one is being fitted the editor is told to retry.
    index = get_registry().get(db, brand.id, wait=False)
    if index.building:
        raise ProblemError.said("err_bot_still_learning").also(
            status=503,
            title="Service unavailable",
            retry_after=5,
        )
    cands = tuple(index.search(body.text, 5))
    emotion = analyze(body.text)
    settings = BotSettings.from_brand(brand.settings)
    answer_t, clarify_t = thresholds(settings, index.answer_threshold, index.clarify_threshold, stand_in=index.stand_in)
    turn = Turn(body.text, cands, emotion, service.asks_for_human(body.text), False, Memory(), answer_t, clarify_t)
    decision = decide(turn, settings)
    return PreviewOut(
        decision=service.decision_dict(decision),
        locale=locale,
        emotion=service.emotion_meta(emotion),
        candidates=[
            {
                "faq_id": c.faq.id,
                "score": round(c.score, 4),
                "question": c.matched_question,
                "intent": c.faq.intent,
                "locale": c.faq.locale,
            }
            for c in cands
            if c.faq is not None
        ],
    )


@router.get("/conversations/{conversation_id}/assist", response_model=SuggestionOut)
def assist(conversation_id: int, db: DB, principal: ConvRead) -> SuggestionOut:
    """Suggested replies and a summary for the agent handling a conversation."""
    conv = get_conversation(db, conversation_id, principal)
    suggestions = service.assist_suggestions(db, conv)
    agent = get_agent(db, principal.agent_id)  # agents read the summary in their own language
    return SuggestionOut(summary=service.summarize(db, conv, agent.locale), suggestions=suggestions)


@router.get("/bot/review", response_model=Page[ReviewOut])
def review_queue(
    db: DB,
    principal: KbRead,
    brand_id: int,
    status: Annotated[str, Query(pattern="^(open|attached|dismissed)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[ReviewOut]:
    """Questions the bot could not answer well."""
    rows, nxt = service.list_review(db, principal, brand_id=brand_id, status=status, limit=limit, cursor=cursor)
    return Page(items=[ReviewOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/bot/review/{item_id}/attach", response_model=ReviewOut)
def attach(item_id: int, body: AttachIn, db: DB, principal: KbWrite) -> ReviewOut:
    """Add the question as a new phrasing of an FAQ."""
    service.attach_review(db, item_id, body.faq_id, principal)
    from kefu.bot.models import BotReviewItem

    item = db.get(BotReviewItem, item_id)
    return ReviewOut.model_validate(item)


@router.post("/bot/review/{item_id}/dismiss", response_model=ReviewOut)
def dismiss(item_id: int, db: DB, principal: KbWrite) -> ReviewOut:
    """Close a review item without teaching the bot."""
    return ReviewOut.model_validate(service.dismiss_review(db, item_id, principal))


@router.post("/bot/feedback", status_code=204)
def feedback(body: FeedbackIn, db: DB, principal: ConvRead) -> None:
    """Record a helpfulness vote on a bot answer (the chat widget has its own visitor endpoint)."""
    # Another brand's answer is "no such answer", like a missing one (its conversation's 404 named the conversation).
    if find_in_brand(db, Message, body.message_id, principal) is None:
        raise NotFound.said("err_bot_no_answer")
    service.record_feedback(db, body.message_id, body.helpful)
