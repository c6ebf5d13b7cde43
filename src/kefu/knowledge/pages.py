"""Admin page for bulk FAQ import: upload, preview every row-level problem, then apply (the same bulk service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB
from kefu.brands.models import Brand
from kefu.brands.service import get_brand
from kefu.core.errors import Forbidden, ProblemError
from kefu.knowledge import bulk
from kefu.web.pages import Ctx, PageContext, render

router = APIRouter(include_in_schema=False, prefix="/admin/kb")
MAX_BYTES = 50 * 1024 * 1024

# Written per locale (not converted): zh-TW, zh-CN, en.
TEXT: dict[str, dict[str, str]] = {
    "zh-TW": {
        "title": "知識庫批次匯入",
        "back": "← 知識庫",
        "brand": "品牌",
        "file": "CSV 或 JSON 檔案",
        "help": (
            "欄位：id、locale、category（以「 > 」分層）、question、alternatives（一行一個問法）、answer、"
            "format（text／html／markdown）、published。同一個 id 再次匯入會更新，不會重複建立。"
        ),
        "preview": "預覽",
        "apply": "匯入",
        "export": "匯出",
        "rows": "筆",
        "act_create": "新增",
        "act_update": "更新",
        "act_unchanged": "未變更",
        "phrasings": "個問法",
        "errors": "個問題",
        "row": "列",
        "field": "欄位",
        "message": "說明",
        "action": "動作",
        "question": "問題",
        "category": "分類",
        "locale": "語言",
        "has_errors": "檔案有問題，修正後再匯入；目前不會寫入任何資料。",
        "ready": "檢查通過，可以匯入。",
        "done": "匯入完成。",
        "first_rows": "前 {n} 筆",
    },
    "zh-CN": {
        "title": "知识库批量导入",
        "back": "← 知识库",
        "brand": "品牌",
        "file": "CSV 或 JSON 文件",
        "help": (
            "字段：id、locale、category（用“ > ”分层）、question、alternatives（每行一个问法）、answer、"
            "format（text／html／markdown）、published。同一个 id 再次导入会更新，不会重复创建。"
        ),
        "preview": "预览",
        "apply": "导入",
        "export": "导出",
        "rows": "条",
        "act_create": "新增",
        "act_update": "更新",
        "act_unchanged": "未变化",
        "phrasings": "个问法",
        "errors": "个问题",
        "row": "行",
        "field": "字段",
        "message": "说明",
        "action": "操作",
        "question": "问题",
        "category": "分类",
        "locale": "语言",
        "has_errors": "文件有问题，请修改后再导入；当前不会写入任何数据。",
        "ready": "检查通过，可以导入。",
        "done": "导入完成。",
        "first_rows": "前 {n} 条",
    },
    "en": {
        "title": "Knowledge base import",
        "back": "← Knowledge base",
        "brand": "Brand",
        "file": "CSV or JSON file",
        "help": (
            "Columns: id, locale, category (levels joined by “ > ”), question, alternatives (one phrasing per line), "
            "answer, format (text / html / markdown), published. Re-importing an id updates it, never adds a copy."
        ),
        "preview": "Preview",
        "apply": "Import",
        "export": "Export",
        "rows": "rows",
        "act_create": "new",
        "act_update": "updated",
        "act_unchanged": "unchanged",
        "phrasings": "phrasings",
        "errors": "problems",
        "row": "Row",
        "field": "Field",
        "message": "Problem",
        "action": "Action",
        "question": "Question",
        "category": "Category",
        "locale": "Locale",
        "has_errors": "Fix the file and import again; nothing has been written.",
        "ready": "No problems found; ready to import.",
        "done": "Import finished.",
        "first_rows": "First {n} rows",
    },
}


def _need(ctx: PageContext) -> None:
    if not ctx.principal.can("kb:write"):
        raise Forbidden("Missing permission kb:write.")


def _brands(db: Session, ctx: PageContext) -> list[Brand]:
    stmt = select(Brand).order_by(Brand.id)
    if ctx.principal.brand_ids is not None:
        stmt = stmt.where(Brand.id.in_(ctx.principal.brand_ids))
    return list(db.scalars(stmt))


def _page(
    request: Request, ctx: PageContext, db: Session, brand_id: int | None, status: int = 200, **data: Any
) -> HTMLResponse:
    brands = _brands(db, ctx)
    brand = next((b for b in brands if b.id == brand_id), brands[0] if brands else None)
    data.setdefault("report", None)
    data.setdefault("error", None)
    data.setdefault("applied", False)
    name = "admin/kb_import_result.html" if request.headers.get("HX-Request") and data.get("partial") else None
    return render(
        request, ctx, name or "admin/kb_import.html", status=status, kt=TEXT.get(ctx.locale, TEXT["zh-TW"]),
        brands=brands, brand=brand, **data,
    )  # fmt: skip


@router.get("/import", response_class=HTMLResponse)
def import_page(request: Request, ctx: Ctx, db: DB, brand_id: int | None = None) -> HTMLResponse:
    """Upload form."""
    _need(ctx)
    return _page(request, ctx, db, brand_id)


async def _run(
    request: Request, ctx: PageContext, db: Session, brand_id: int, file: UploadFile, *, dry_run: bool
) -> HTMLResponse:
    _need(ctx)
    data = await file.read(MAX_BYTES + 1)

    def work() -> HTMLResponse:
        try:
            if len(data) > MAX_BYTES:
                raise ProblemError("The file is larger than 50 MB.", status=413)
            brand = get_brand(db, brand_id, ctx.principal)
            records = bulk.read_records(data, bulk.detect_format(file.filename, data))
            report = bulk.import_faqs(db, ctx.principal, brand, records, dry_run=dry_run)
        except ProblemError as exc:
            db.rollback()
            return _page(request, ctx, db, brand_id, 422, error=exc.detail, partial=True)
        status = 422 if report.errors and not dry_run else 200
        return _page(request, ctx, db, brand_id, status, report=report, applied=report.applied, partial=True)

    return await run_in_threadpool(work)


@router.post("/import/preview", response_class=HTMLResponse)
async def import_preview(
    request: Request, ctx: Ctx, db: DB, brand_id: Annotated[int, Form()], file: UploadFile
) -> HTMLResponse:
    """Dry run: counts, the first rows and every row-level problem; nothing is written."""
    return await _run(request, ctx, db, brand_id, file, dry_run=True)


@router.post("/import", response_class=HTMLResponse)
async def import_apply(
    request: Request, ctx: Ctx, db: DB, brand_id: Annotated[int, Form()], file: UploadFile
) -> HTMLResponse:
    """Import (all or nothing: any invalid row and nothing is written)."""
    return await _run(request, ctx, db, brand_id, file, dry_run=False)


@router.get("/export", response_class=Response)
def export(ctx: Ctx, db: DB, brand_id: int, format: str = "csv") -> Response:
    """Download the brand's FAQs in the import format."""
    _need(ctx)
    brand = get_brand(db, brand_id, ctx.principal)
    fmt = "json" if format == "json" else "csv"
    body = bulk.export_faqs(db, brand.id, fmt)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    headers = {"Content-Disposition": f'attachment; filename="kb-{brand.slug}.{fmt}"'}
    return Response(body, media_type=media, headers=headers)
