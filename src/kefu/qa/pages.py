"""QA console page: the review queue with transcripts and the scorecard form (HTMX)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.deps import DB
from kefu.auth.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.core.errors import Forbidden, ProblemError
from kefu.customers.models import Customer
from kefu.qa import service
from kefu.qa.models import QaReview
from kefu.web.pages import Ctx, PageContext, render

router = APIRouter(include_in_schema=False, prefix="/console/qa")


def _need(ctx: PageContext, perm: str = "reports:read") -> None:
    if not ctx.principal.can(perm):
        raise Forbidden(f"Missing permission {perm}.")


def _item(db: Session, r: QaReview) -> dict[str, Any]:
    conv = db.get(Conversation, r.conversation_id)
    assert conv is not None
    msgs = list(
        db.scalars(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.is_note.is_(False))
            .order_by(Message.id)
            .limit(60)
        )
    )
    return {
        "review": r,
        "conv": conv,
        "customer": db.get(Customer, conv.customer_id),
        "agent": db.get(Agent, r.agent_id) if r.agent_id else None,
        "messages": msgs,
        "card": service.default_scorecard(db, r.brand_id),
    }


@router.get("", response_class=HTMLResponse)
def queue(request: Request, ctx: Ctx, db: DB, status: str = "pending") -> HTMLResponse:
    """Pending (or reviewed) sampled conversations."""
    _need(ctx)
    status = status if status in ("pending", "done") else "pending"
    reviews = service.list_reviews(db, ctx.principal, status=status, limit=50)
    items = [_item(db, r) for r in reviews]
    return render(
        request, ctx, "qa/queue.html", items=items, qstatus=status, can_score=ctx.principal.can("teams:manage")
    )


@router.post("/{review_id}/score", response_class=HTMLResponse)
async def score(request: Request, review_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Score one review; returns its updated card."""
    _need(ctx, "teams:manage")
    review = service.get_review(db, review_id, ctx.principal)
    form = await request.form()
    error = ""
    try:
        scores = {k[6:]: float(str(v)) for k, v in form.items() if k.startswith("score_") and str(v) != ""}
        service.score(db, review, ctx.principal, scores, str(form.get("comment", "")))
    except (ProblemError, ValueError) as exc:
        error = exc.detail if isinstance(exc, ProblemError) else str(exc)
    return render(
        request, ctx, "qa/_review.html", it=_item(db, review), can_score=True, error=error, status=422 if error else 200
    )
