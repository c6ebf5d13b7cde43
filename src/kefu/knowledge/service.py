"""Knowledge-base CRUD; every change publishes kb.changed so the bot can retrain in the background."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core.access import ensure_brand
from kefu.core.errors import InvalidInput, NotFound
from kefu.core.events import publish
from kefu.knowledge.models import LOCALES, Article, FaqEntry


def _changed(session: Session, brand_id: int, kind: str, item_id: int) -> None:
    publish(session, "kb.changed", {"brand_id": brand_id, "kind": kind, "id": item_id}, (f"brand:{brand_id}",))


def _clean_questions(questions: list[str]) -> list[str]:
    out: list[str] = []
    for q in questions:
        q = q.strip()
        if q and q not in out:
            out.append(q)
    if not out:
        raise InvalidInput("At least one non-empty question is required.")
    return out


def create_faq(session: Session, actor: Principal | None, **fields: Any) -> FaqEntry:
    """Add an FAQ entry."""
    get_brand(session, fields["brand_id"], actor)
    if fields["locale"] not in LOCALES:
        raise InvalidInput(f"Unknown locale {fields['locale']!r}.")
    fields["questions"] = _clean_questions(fields["questions"])
    faq = FaqEntry(**fields)
    session.add(faq)
    session.flush()
    record(session, actor, "kb.faq_create", target_type="faq", target_id=faq.id, brand_id=faq.brand_id)
    _changed(session, faq.brand_id, "faq", faq.id)
    return faq


def get_faq(session: Session, faq_id: int, principal: Principal | None) -> FaqEntry:
    """FAQ entry by id."""
    faq = session.get(FaqEntry, faq_id)
    if faq is None:
        raise NotFound(f"FAQ {faq_id} not found.")
    ensure_brand(principal, faq.brand_id, "FAQ")
    return faq


def update_faq(session: Session, faq: FaqEntry, actor: Principal, changes: dict[str, Any]) -> FaqEntry:
    """Apply a partial change."""
    if changes.get("questions") is not None:
        changes["questions"] = _clean_questions(changes["questions"])
    for key, value in changes.items():
        if value is not None or key in ("category", "intent"):
            setattr(faq, key, value)
    session.flush()
    record(session, actor, "kb.faq_update", target_type="faq", target_id=faq.id, brand_id=faq.brand_id)
    _changed(session, faq.brand_id, "faq", faq.id)
    return faq


def delete_faq(session: Session, faq: FaqEntry, actor: Principal) -> None:
    """Remove an FAQ entry."""
    brand_id, faq_id = faq.brand_id, faq.id
    session.delete(faq)
    session.flush()
    record(session, actor, "kb.faq_delete", target_type="faq", target_id=faq_id, brand_id=brand_id)
    _changed(session, brand_id, "faq", faq_id)


def list_faqs(
    session: Session, principal: Principal | None, *, brand_id: int, locale: str | None, published_only: bool
) -> list[FaqEntry]:
    """FAQ entries of a brand."""
    ensure_brand(principal, brand_id, "Brand")
    stmt = select(FaqEntry).where(FaqEntry.brand_id == brand_id).order_by(FaqEntry.id)
    if locale:
        stmt = stmt.where(FaqEntry.locale == locale)
    if published_only:
        stmt = stmt.where(FaqEntry.is_published.is_(True))
    return list(session.scalars(stmt))


def create_article(session: Session, actor: Principal | None, **fields: Any) -> Article:
    """Add an article."""
    get_brand(session, fields["brand_id"], actor)
    art = Article(**fields)
    session.add(art)
    session.flush()
    record(session, actor, "kb.article_create", target_type="article", target_id=art.id, brand_id=art.brand_id)
    _changed(session, art.brand_id, "article", art.id)
    return art


def get_article(session: Session, article_id: int, principal: Principal | None) -> Article:
    """Article by id."""
    art = session.get(Article, article_id)
    if art is None:
        raise NotFound(f"Article {article_id} not found.")
    ensure_brand(principal, art.brand_id, "Article")
    return art


def update_article(session: Session, art: Article, actor: Principal, changes: dict[str, Any]) -> Article:
    """Apply a partial change."""
    for key, value in changes.items():
        if value is not None or key == "category":
            setattr(art, key, value)
    session.flush()
    record(session, actor, "kb.article_update", target_type="article", target_id=art.id, brand_id=art.brand_id)
    _changed(session, art.brand_id, "article", art.id)
    return art


def list_articles(
    session: Session, principal: Principal | None, *, brand_id: int, locale: str | None, published_only: bool
) -> list[Article]:
    """Articles of a brand."""
    ensure_brand(principal, brand_id, "Brand")
    stmt = select(Article).where(Article.brand_id == brand_id).order_by(Article.id)
    if locale:
        stmt = stmt.where(Article.locale == locale)
    if published_only:
        stmt = stmt.where(Article.is_published.is_(True))
    return list(session.scalars(stmt))
