"""Console page for operators: job counts, dead-lettered jobs and failed inbound events, with retry buttons."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from kefu.auth.deps import DB
from kefu.channels.service import requeue_event
from kefu.core import jobs
from kefu.ops.service import ensure_operator, overview
from kefu.web.pages import Ctx, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/ops")

# Written per locale (not converted): this page's words are the operators' own.
TEXT: dict[str, dict[str, str]] = {
    "zh-TW": {
        "title": "背景工作",
        "counts": "工作佇列",
        "pending": "等待中",
        "running": "執行中",
        "dead": "失敗停止",
        "dead_jobs": "已停止重試的工作",
        "failed_inbound": "處理失敗的進線訊息",
        "name": "工作",
        "attempts": "嘗試次數",
        "error": "最後錯誤",
        "status": "狀態",
        "channel": "管道",
        "retry": "重試",
        "retry_all": "全部重試",
        "requeue": "重新處理",
        "none": "沒有項目。",
        "next": "下次重試",
    },
    "zh-CN": {
        "title": "后台任务",
        "counts": "任务队列",
        "pending": "等待中",
        "running": "运行中",
        "dead": "已失败",
        "dead_jobs": "已停止重试的任务",
        "failed_inbound": "处理失败的进线消息",
        "name": "任务",
        "attempts": "尝试次数",
        "error": "最近错误",
        "status": "状态",
        "channel": "渠道",
        "retry": "重试",
        "retry_all": "全部重试",
        "requeue": "重新处理",
        "none": "暂无。",
        "next": "下次重试",
    },
    "en": {
        "title": "Background jobs",
        "counts": "Job queue",
        "pending": "Pending",
        "running": "Running",
        "dead": "Dead",
        "dead_jobs": "Dead-lettered jobs",
        "failed_inbound": "Inbound events that failed processing",
        "name": "Job",
        "attempts": "Attempts",
        "error": "Last error",
        "status": "Status",
        "channel": "Channel",
        "retry": "Retry",
        "retry_all": "Retry all",
        "requeue": "Process again",
        "none": "Nothing here.",
        "next": "Next try",
    },
}


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, ctx: Ctx, db: DB) -> HTMLResponse:
    """Counts, dead letters and failed inbound events."""
    data = overview(db, ctx.principal)
    return render(request, ctx, "ops/jobs.html", o=TEXT.get(ctx.locale, TEXT["zh-TW"]), **data)


@router.post("/jobs/retry", response_model=None)
def retry_dead(ctx: Ctx, db: DB, job_id: int | None = None) -> RedirectResponse:
    """Retry one dead job (or all of them)."""
    ensure_operator(ctx.principal)
    jobs.retry(db, job_id)
    return RedirectResponse("/ops/jobs", status_code=303)


@router.post("/inbound/{event_id}/requeue", response_model=None)
def requeue(event_id: int, ctx: Ctx, db: DB) -> RedirectResponse:
    """Process a failed inbound event again."""
    ensure_operator(ctx.principal)
    requeue_event(db, event_id)
    return RedirectResponse("/ops/jobs", status_code=303)
