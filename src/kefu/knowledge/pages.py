"""Admin page for bulk FAQ import: upload, preview every row-level problem, then apply (the same bulk service)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB
from kefu.brands.models import Brand
from kefu.brands.service import get_brand, visible_brands
from kefu.core.errors import Forbidden, InvalidInput, ProblemError
from kefu.knowledge import bulk
from kefu.knowledge import service as kb_service
from kefu.knowledge.commands import CreateArticle, CreateFaq, UpdateArticle, UpdateFaq, build
from kefu.knowledge.models import LOCALES, Article, FaqEntry
from kefu.knowledge.render import for_channel
from kefu.security.asgi import MIB, BodyTooLarge
from kefu.web.forms import PostedForm, lenient_int
from kefu.web.i18n import error_text, translator
from kefu.web.pages import Ctx, PageContext, render
from kefu.web.routing import Router

router = Router(include_in_schema=False, prefix="/admin/kb")

# Written per locale (not converted): zh-TW, zh-CN, en.
TEXT: dict[str, dict[str, str]] = {
    "zh-TW": {
        "title": "知識庫批次匯入",
        "back": "← 知識庫",
        "brand": "品牌",
        "file": "CSV 或 JSON 檔案",
        "limit": "檔案大小上限 {mb} MB。",
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
        "limit": "文件大小上限 {mb} MB。",
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
        "limit": "Files up to {mb} MB.",
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
        raise Forbidden.said("err_auth_missing_permission", permission="kb:write")


def _brands(db: Session, ctx: PageContext) -> list[Brand]:
    return visible_brands(db, ctx.principal)


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
        brands=brands, brand=brand, limit_mb=bulk.MAX_FILE_BYTES // MIB, **data,
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
    data = await file.read(bulk.MAX_FILE_BYTES + 1)

    def work() -> HTMLResponse:
        try:
            if len(data) > bulk.MAX_FILE_BYTES:
                raise BodyTooLarge(bulk.MAX_FILE_BYTES)
            brand = get_brand(db, brand_id, ctx.principal)
            records = bulk.read_records(data, bulk.detect_format(file.filename, data))
            report = bulk.import_faqs(db, ctx.principal, brand, records, dry_run=dry_run)
        except ProblemError as exc:
            db.rollback()
            return _page(request, ctx, db, brand_id, 422, error=error_text(ctx, exc), partial=True)
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


# ----------------------------------------------------------------- FAQ and article editors

FORMATS = ("text", "markdown", "html")


def _faq_values(copies: dict[str, FaqEntry]) -> dict[str, str]:
    values: dict[str, str] = {}
    for loc, faq in copies.items():
        values[f"id_{loc}"] = str(faq.id)
        values[f"q_{loc}"] = faq.questions[0] if faq.questions else ""
        values[f"alt_{loc}"] = "\n".join(faq.questions[1:])
        values[f"answer_{loc}"] = faq.answer
        values[f"fmt_{loc}"] = faq.answer_format
        values[f"pub_{loc}"] = "1" if faq.is_published else ""
    first = next(iter(copies.values()), None)
    values["category"] = " > ".join(first.category_path) if first and first.category_path else ""
    if first and not values["category"]:
        values["category"] = first.category or ""
    return values


def _editor(
    request: Request,
    ctx: PageContext,
    db: Session,
    brand: Brand,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    return render(
        request,
        ctx,
        "admin/kb_faq.html",
        status=422 if errors else 200,
        brand=brand,
        values=values,
        errors=errors or {},
        form_id="faq" if errors else None,
        saved=saved,
        kb_locales=LOCALES,
        formats=FORMATS,
    )


def _brand_or_first(db: Session, ctx: PageContext, brand_id: int | None) -> Brand:
    """The brand asked for, else the agent's first (a bare /new link opened the editor as a 422 error page)."""
    if brand_id is None:
        brands = visible_brands(db, ctx.principal)
        brand_id = brands[0].id if brands else 0  # no brand at all: the usual 404
    return get_brand(db, brand_id, ctx.principal)


@router.get("/faq/new", response_class=HTMLResponse)
def new_faq(request: Request, ctx: Ctx, db: DB, brand_id: int | None = None) -> HTMLResponse:
    """An empty FAQ with its three locale columns."""
    _need(ctx)
    brand = _brand_or_first(db, ctx, brand_id)
    values = {f"pub_{loc}": "1" for loc in LOCALES} | {f"fmt_{loc}": "text" for loc in LOCALES}
    return _editor(request, ctx, db, brand, values)


@router.get("/faq/{faq_id}", response_class=HTMLResponse)
def edit_faq(request: Request, faq_id: int, ctx: Ctx, db: DB, saved: int = 0) -> HTMLResponse:
    """One FAQ with its locale copies side by side; a missing locale shows as needing translation."""
    _need(ctx)
    faq = kb_service.get_faq(db, faq_id, ctx.principal)
    brand = get_brand(db, faq.brand_id, ctx.principal)
    return _editor(
        request, ctx, db, brand, _faq_values(kb_service.faq_copies(db, ctx.principal, faq)), saved=bool(saved)
    )


@router.post("/faq", response_class=HTMLResponse, response_model=None)
def save_faq(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse | RedirectResponse:
    """Save every locale column: update existing copies, create filled-in new ones under the shared id."""
    _need(ctx)
    t = translator(ctx.locale)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    brand = get_brand(db, lenient_int(values.get("brand_id")) or 0, ctx.principal)
    errors: dict[str, str] = {}
    existing: dict[str, FaqEntry] = {}
    for loc in LOCALES:
        faq_id = lenient_int(values.get(f"id_{loc}"))
        if faq_id is not None:
            faq = kb_service.get_faq(db, faq_id, ctx.principal)
            if faq.brand_id != brand.id or faq.locale != loc:
                raise InvalidInput.said("err_knowledge_faq_other_brand")
            existing[loc] = faq
    filled: dict[str, tuple[list[str], str, str, bool]] = {}
    for loc in LOCALES:
        question = values.get(f"q_{loc}", "").strip()
        answer = values.get(f"answer_{loc}", "").strip()
        fmt = values.get(f"fmt_{loc}", "text")
        if fmt not in FORMATS:
            errors[f"fmt_{loc}"] = t["ae_choice"]
        if not question and not answer and loc not in existing:
            continue  # needs translation: nothing to create yet
        if not question:
            errors[f"q_{loc}"] = t["ae_required"] if loc in existing else t["kb_need_both"]
        if not answer:
            errors[f"answer_{loc}"] = t["ae_required"] if loc in existing else t["kb_need_both"]
        if len(answer) > 20_000:
            errors[f"answer_{loc}"] = t["af_cannot_save"].format(detail="20,000")
        alts = [a.strip() for a in values.get(f"alt_{loc}", "").splitlines() if a.strip()]
        filled[loc] = ([question[:1000], *[a[:1000] for a in alts]], answer, fmt, values.get(f"pub_{loc}") == "1")
    if not filled and not errors:
        errors[f"q_{ctx.locale if ctx.locale in LOCALES else 'zh-TW'}"] = t["ae_required"]
    path = [p.strip() for p in values.get("category", "").split(">") if p.strip()][:10]
    if not errors:
        group = next((f.external_id for f in existing.values() if f.external_id), None)
        group = group or f"faq-{secrets.token_hex(4)}"
        try:
            first_id: int | None = None
            for loc, (questions, answer, fmt, published) in filled.items():
                fields = {
                    "questions": questions,
                    "answer": answer,
                    "answer_format": fmt,
                    "is_published": published,
                    "category_path": path,
                }
                if loc in existing:
                    faq = existing[loc]
                    if not faq.external_id:
                        faq.external_id = group
                    kb_service.update_faq(db, faq, ctx.principal, build(UpdateFaq, fields))
                else:
                    new = {"brand_id": brand.id, "locale": loc, "external_id": group, "intent": None, **fields}
                    faq = kb_service.create_faq(db, ctx.principal, build(CreateFaq, new))
                first_id = first_id or faq.id
        except ProblemError as exc:
            db.rollback()
            errors["_form"] = t["af_cannot_save"].format(detail=error_text(ctx, exc))
        else:
            db.commit()
            return RedirectResponse(f"/admin/kb/faq/{first_id}?saved=1", status_code=303)
    return _editor(request, ctx, db, brand, values, errors=errors)


@router.post("/preview", response_class=HTMLResponse)
async def preview(request: Request, ctx: Ctx) -> HTMLResponse:
    """The answer as the web chat would show it (sanitised), for the editor's preview pane."""
    _need(ctx)
    form = await request.form()
    loc = str(form.get("preview_locale", ""))
    answer = str(form.get(f"answer_{loc}", form.get("body", "")))[:20_000]
    fmt = str(form.get(f"fmt_{loc}", "markdown" if "body" in form else "text"))
    rendered = for_channel(answer, fmt if fmt in FORMATS else "text", "web_chat")
    html = rendered.html if rendered.html is not None else Markup("<p>{}</p>").format(rendered.text)
    return HTMLResponse(Markup('<div class="kb-preview-body">{}</div>').format(html))


def _article_values(art: Article | None) -> dict[str, str]:
    if art is None:
        return {"pub": "1"}
    return {
        "id": str(art.id),
        "locale": art.locale,
        "title": art.title,
        "category": art.category or "",
        "body": art.body,
        "pub": "1" if art.is_published else "",
    }


def _article_page(
    request: Request, ctx: PageContext, brand: Brand, values: dict[str, str], errors: dict[str, str] | None = None
) -> HTMLResponse:
    return render(
        request,
        ctx,
        "admin/kb_article.html",
        status=422 if errors else 200,
        brand=brand,
        values=values,
        errors=errors or {},
        form_id="article" if errors else None,
        saved=request.query_params.get("saved") == "1",
        kb_locales=LOCALES,
    )


@router.get("/article/new", response_class=HTMLResponse)
def new_article(request: Request, ctx: Ctx, db: DB, brand_id: int | None = None, locale: str = "zh-TW") -> HTMLResponse:
    """An empty help-centre article."""
    _need(ctx)
    brand = _brand_or_first(db, ctx, brand_id)
    return _article_page(request, ctx, brand, {"pub": "1", "locale": locale if locale in LOCALES else "zh-TW"})


@router.get("/article/{article_id}", response_class=HTMLResponse)
def edit_article(request: Request, article_id: int, ctx: Ctx, db: DB) -> HTMLResponse:
    """Edit a help-centre article (Markdown body with preview)."""
    _need(ctx)
    art = kb_service.get_article(db, article_id, ctx.principal)
    return _article_page(request, ctx, get_brand(db, art.brand_id, ctx.principal), _article_values(art))


@router.post("/article", response_class=HTMLResponse, response_model=None)
def save_article(request: Request, ctx: Ctx, db: DB, form: PostedForm) -> HTMLResponse | RedirectResponse:
    """Create or update an article; errors are shown next to the field with the text kept."""
    _need(ctx)
    t = translator(ctx.locale)
    values = {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    brand = get_brand(db, lenient_int(values.get("brand_id")) or 0, ctx.principal)
    errors: dict[str, str] = {}
    title, body, locale = values.get("title", "").strip(), values.get("body", "").strip(), values.get("locale", "")
    if not title:
        errors["title"] = t["ae_required"]
    if not body:
        errors["body"] = t["ae_required"]
    if locale not in LOCALES:
        errors["locale"] = t["ae_choice"]
    if errors:
        return _article_page(request, ctx, brand, values, errors)
    fields = {
        "title": title[:300],
        "body": body[:100_000],
        "category": values.get("category", "").strip()[:64] or None,
        "is_published": values.get("pub") == "1",
        "locale": locale,
    }
    art_id = lenient_int(values.get("id"))
    if art_id is not None:
        art = kb_service.get_article(db, art_id, ctx.principal)
        if art.brand_id != brand.id:
            raise InvalidInput.said("err_knowledge_article_other_brand")
        kb_service.update_article(db, art, ctx.principal, build(UpdateArticle, fields))
    else:
        art = kb_service.create_article(db, ctx.principal, build(CreateArticle, {"brand_id": brand.id, **fields}))
    db.commit()
    return RedirectResponse(f"/admin/kb/article/{art.id}?saved=1", status_code=303)
