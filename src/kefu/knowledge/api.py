"""Knowledge-base endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kefu.auth.deps import DB, require
from kefu.auth.permissions import Principal
from kefu.knowledge import service
from kefu.knowledge.schemas import (
    LOCALE_PATTERN,
    ArticleCreate,
    ArticleOut,
    ArticleUpdate,
    FaqCreate,
    FaqOut,
    FaqUpdate,
)

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge"])
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
    return FaqOut.model_validate(service.create_faq(db, principal, **body.model_dump()))


@router.get("/faqs/{faq_id}", response_model=FaqOut)
def get_faq(faq_id: int, db: DB, principal: Read) -> FaqOut:
    """One FAQ entry."""
    return FaqOut.model_validate(service.get_faq(db, faq_id, principal))


@router.patch("/faqs/{faq_id}", response_model=FaqOut)
def update_faq(faq_id: int, body: FaqUpdate, db: DB, principal: Write) -> FaqOut:
    """Change an FAQ entry."""
    faq = service.get_faq(db, faq_id, principal)
    return FaqOut.model_validate(service.update_faq(db, faq, principal, body.model_dump(exclude_unset=True)))


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
    return ArticleOut.model_validate(service.create_article(db, principal, **body.model_dump()))


@router.get("/articles/{article_id}", response_model=ArticleOut)
def get_article(article_id: int, db: DB, principal: Read) -> ArticleOut:
    """One article."""
    return ArticleOut.model_validate(service.get_article(db, article_id, principal))


@router.patch("/articles/{article_id}", response_model=ArticleOut)
def update_article(article_id: int, body: ArticleUpdate, db: DB, principal: Write) -> ArticleOut:
    """Change an article."""
    art = service.get_article(db, article_id, principal)
    return ArticleOut.model_validate(service.update_article(db, art, principal, body.model_dump(exclude_unset=True)))
