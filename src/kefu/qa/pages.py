"""QA console page: the review queue with transcripts and the scorecard form (HTMX)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kefu.auth.deps import DB
from kefu.core.errors import Forbidden, ProblemError
from kefu.qa import service
from kefu.web.forms import PostedForm
from kefu.web.i18n import error_text
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/console/qa")


def _need(ctx: PageContext, perm: str = "reports:read") -> None:
    if not ctx.principal.can(perm):
        raise Forbidden.said("err_auth_missing_permission", permission=perm)


@router.get("", response_class=HTMLResponse)
def queue(request: Request, ctx: Ctx, db: DB, status: str = "pending") -> HTMLResponse:
    """Pending (or reviewed) sampled conversations."""
    _need(ctx)
    status = status if status in ("pending", "done") else "pending"
    reviews = service.list_reviews(db, ctx.principal, status=status, limit=50)
    items = service.review_items(db, reviews)
    return render(
        request,
        ctx,
        "qa/queue.html",
        items=items,
        qstatus=status,
        can_score=ctx.principal.can("teams:manage"),
        runs=service.recent_runs(db, ctx.principal),
    )


@router.post("/{review_id}/score", response_class=HTMLResponse)
def score(request: Request, review_id: int, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse:
    """Score one review; returns its updated card."""
    _need(ctx, "teams:manage")
    review = service.get_review(db, review_id, ctx.principal)
    error = ""
    try:
        scores = {k[6:]: float(str(v)) for k, v in form.items() if k.startswith("score_") and str(v) != ""}
        service.score(db, review, ctx.principal, scores, str(form.get("comment", "")))
    except (ProblemError, ValueError) as exc:
        error = error_text(ctx, exc)
    return render(
        request,
        ctx,
        "qa/_review.html",
        it=service.review_items(db, [review])[0],
        can_score=True,
        error=error,
        status=422 if error else 200,
    )
