"""Knowledge-base endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core.errors import InvalidInput, ProblemError
from kefu.knowledge import bulk, service
from kefu.knowledge.commands import LOCALE_PATTERN, UpdateArticle, build
from kefu.knowledge.schemas import (
    ArticleCreate,
    ArticleOut,
    ArticleUpdate,
    FaqCreate,
    FaqOut,
    FaqUpdate,
)
from kefu.web.i18n import reader_locale
from kefu.web.routing import Router

router = Router(prefix="/api/v1/kb", tags=["knowledge"])
Read = Annotated[Principal, Depends(require("kb:read"))]
Write = Annotated[Principal, Depends(require("kb:write"))]
Locale = Annotated[str | None, Query(pattern=LOCALE_PATTERN)]


@router.get("/faqs", response_model=list[FaqOut])
def list_faqs(db: DB, principal: Read, brand_id: int, locale: Locale = None) -> list[FaqOut]:
    """FAQ entries of a brand."""
    rows = service.list_faqs(db, principal, brand_id=brand_id, locale=locale, published_only=False)
    return [FaqOut.model_validate(f) for f in rows]


@router.post("/faqs", response_model=FaqOut, status_code=201)
def create_faq(body: FaqCreate, db: DB, principal: Write) -> FaqOut:
    """Add an FAQ entry."""
    return FaqOut.model_validate(service.create_faq(db, principal, body))


@router.get("/faqs/{faq_id}", response_model=FaqOut)
def get_faq(faq_id: int, db: DB, principal: Read) -> FaqOut:
    """One FAQ entry."""
    return FaqOut.model_validate(service.get_faq(db, faq_id, principal))


@router.patch("/faqs/{faq_id}", response_model=FaqOut)
def update_faq(faq_id: int, body: FaqUpdate, db: DB, principal: Write) -> FaqOut:
    """Change an FAQ entry."""
    faq = service.get_faq(db, faq_id, principal)
    return FaqOut.model_validate(service.update_faq(db, faq, principal, body))


@router.delete("/faqs/{faq_id}", status_code=204)
def delete_faq(faq_id: int, db: DB, principal: Write) -> None:
    """Remove an FAQ entry."""
    service.delete_faq(db, service.get_faq(db, faq_id, principal), principal)


@router.get("/articles", response_model=list[ArticleOut])
def list_articles(db: DB, principal: Read, brand_id: int, locale: Locale = None) -> list[ArticleOut]:
    """Articles of a brand."""
    rows = service.list_articles(db, principal, brand_id=brand_id, locale=locale, published_only=False)
    return [ArticleOut.model_validate(a) for a in rows]


@router.post("/articles", response_model=ArticleOut, status_code=201)
def create_article(body: ArticleCreate, db: DB, principal: Write) -> ArticleOut:
    """Add an article."""
    return ArticleOut.model_validate(service.create_article(db, principal, body))


@router.get("/articles/{article_id}", response_model=ArticleOut)
def get_article(article_id: int, db: DB, principal: Read) -> ArticleOut:
    """One article."""
    return ArticleOut.model_validate(service.get_article(db, article_id, principal))


@router.patch("/articles/{article_id}", response_model=ArticleOut)
def update_article(article_id: int, body: ArticleUpdate, db: DB, principal: Write) -> ArticleOut:
    """Change an article."""
    art = service.get_article(db, article_id, principal)
    return ArticleOut.model_validate(
        service.update_article(db, art, principal, build(UpdateArticle, body.model_dump(exclude_unset=True)))
    )


async def _upload(request: Request) -> tuple[bytes, str | None]:
    """The file of a multipart upload (field `file`) or the raw request body."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput.said("err_knowledge_no_file_field")
        return await upload.read(bulk.MAX_FILE_BYTES + 1), upload.filename
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > bulk.MAX_FILE_BYTES:
            break
    fmt = "json" if "json" in ctype else ("csv" if "csv" in ctype else None)
    return bytes(data), (f"upload.{fmt}" if fmt else None)


@router.post("/import", responses={422: {"description": "Invalid rows (nothing was imported)"}})
async def import_faqs(
    request: Request,
    db: DB,
    principal: Write,
    brand_id: int,
    dry_run: bool = False,
    format: Annotated[str | None, Query(pattern="^(csv|json)$")] = None,
) -> dict[str, Any]:
    """Create or update FAQs from a CSV or JSON file (idempotent by external id and locale).

    `dry_run=true` previews: counts, the first rows and every row-level error, without writing. A real import
    with any invalid row writes nothing and answers 422 with the same report.
    """
    data, filename = await _upload(request)
    if len(data) > bulk.MAX_FILE_BYTES:
        mb = bulk.MAX_FILE_BYTES // (1024 * 1024)
        raise ProblemError.said("err_knowledge_file_too_large", mb=mb).also(status=413, title="Payload too large")
    if not data.strip():
        raise InvalidInput.said("err_knowledge_file_empty")

    def run() -> dict[str, Any]:
        brand = get_brand(db, brand_id, principal)
        records = bulk.read_records(data, format or bulk.detect_format(filename, data))
        report = bulk.import_faqs(db, principal, brand, records, dry_run=dry_run)
        # Row messages in the reader's language (each row keeps its stable `code`); no preference: English.
        body = report.as_dict(reader_locale(request))
        if report.errors and not dry_run:
            raise InvalidInput.said("err_knowledge_import_problems", count=len(report.errors)).also(**body)
        return body

    return await run_in_threadpool(run)


@router.get("/export", response_class=Response)
def export_faqs(
    db: DB,
    principal: Read,
    brand_id: int,
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
    locale: Locale = None,
) -> Response:
    """All FAQs of a brand in the import format (CSV or JSON)."""
    brand = get_brand(db, brand_id, principal)
    body = bulk.export_faqs(db, brand.id, format, locale)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    filename = f"kb-{brand.slug}.{format}"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
