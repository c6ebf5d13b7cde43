"""Knowledge-base CRUD; every change publishes kb.changed so the bot can retrain in the background."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth.permissions import Principal
from kefu.brands.service import get_brand
from kefu.core.access import ensure_brand, get_in_brand
from kefu.core.errors import Conflict, InvalidInput
from kefu.core.events import publish
from kefu.core.jobs import enqueue
from kefu.core.like import contains
from kefu.knowledge.commands import CreateArticle, CreateFaq, UpdateArticle, UpdateFaq, changes_of, ensure
from kefu.knowledge.models import LOCALES, Article, FaqEntry
from kefu.knowledge.render import clean_answer


def _changed(session: Session, brand_id: int, kind: str, item_id: int | None, **extra: Any) -> None:
    data = {"brand_id": brand_id, "kind": kind, "id": item_id, **extra}
    publish(session, "kb.changed", data, (f"brand:{brand_id}",))
    if kind == "faq":
        refit_bot(session, brand_id)


def refit_bot(session: Session, brand_id: int) -> None:
    """Have the bot refit the brand's FAQ index once this transaction commits (the job is the bot's)."""
    enqueue(session, "bot.rebuild_index", {"brand_id": brand_id}, key=f"bot.index:{brand_id}")


def clean_questions(questions: list[str]) -> list[str]:
    """Phrasings stripped and deduplicated in order (no cap on how many)."""
    out: list[str] = []
    seen: set[str] = set()
    for q in questions:
        q = q.strip()
        if q and q not in seen:
            seen.add(q)
            out.append(q)
    if not out:
        raise InvalidInput.said("err_knowledge_question_required")
    return out


def clean_category(path: list[str] | None, category: str | None) -> tuple[list[str], str | None]:
    """Category path and the flat category (its first level, as tickets and the bot use it)."""
    segments = [p.strip() for p in (path or []) if p and p.strip()]
    if not segments and category and category.strip():
        segments = [category.strip()]
    return segments, (segments[0][:64] if segments else None)


def _fill(fields: dict[str, Any], current: FaqEntry | None = None) -> dict[str, Any]:
    if fields.get("questions") is not None:
        fields["questions"] = clean_questions(fields["questions"])
    if "category_path" in fields or "category" in fields:
        path, flat = clean_category(fields.pop("category_path", None), fields.pop("category", None))
        fields["category_path"], fields["category"] = path, flat
    fmt = fields.get("answer_format") or (current.answer_format if current else "text")
    if fields.get("answer") is not None or "answer_format" in fields:
        answer = fields.get("answer") if fields.get("answer") is not None else (current.answer if current else "")
        fields["answer"] = clean_answer(str(answer), fmt)
        fields["answer_format"] = fmt
        if not fields["answer"]:
            raise InvalidInput.said("err_knowledge_answer_empty")
    return fields


def _check_external_id(session: Session, brand_id: int, external_id: str | None, locale: str, own: int | None) -> None:
    if external_id is None:
        return
    other = session.scalar(
        select(FaqEntry.id).where(
            FaqEntry.brand_id == brand_id, FaqEntry.external_id == external_id, FaqEntry.locale == locale
        )
    )
    if other is not None and other != own:
        raise Conflict.said("err_knowledge_faq_exists", external_id=external_id, lang=locale, other=other)


def create_faq(session: Session, actor: Principal | None, command: CreateFaq | Mapping[str, Any]) -> FaqEntry:
    """Add an FAQ entry (a plain mapping is validated into the command first)."""
    fields = ensure(CreateFaq, command).model_dump()
    get_brand(session, fields["brand_id"], actor)
    if fields["locale"] not in LOCALES:
        raise InvalidInput.said("err_knowledge_unknown_locale", lang=fields["locale"])
    fields = _fill(fields)
    _check_external_id(session, fields["brand_id"], fields.get("external_id"), fields["locale"], None)
    faq = FaqEntry(**fields)
    session.add(faq)
    session.flush()
    record(session, actor, "kb.faq_create", target_type="faq", target_id=faq.id, brand_id=faq.brand_id)
    _changed(session, faq.brand_id, "faq", faq.id)
    return faq


def get_faq(session: Session, faq_id: int, principal: Principal | None) -> FaqEntry:
    """FAQ entry by id."""
    faq = get_in_brand(session, FaqEntry, faq_id, principal, f"FAQ {faq_id}")
    return faq


def update_faq(session: Session, faq: FaqEntry, actor: Principal, command: UpdateFaq | Mapping[str, Any]) -> FaqEntry:
    """Apply the fields the command sets."""
    changes = _fill(changes_of(ensure(UpdateFaq, command)), faq)
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


def search_faqs(
    session: Session,
    principal: Principal | None,
    *,
    brand_id: int,
    locale: str | None,
    q: str | None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[FaqEntry], int]:
    """A page of a brand's FAQs (question, answer or external id containing `q`) and how many match in all."""
    from sqlalchemy import String, cast, func, or_

    ensure_brand(principal, brand_id, "Brand")
    cond = [FaqEntry.brand_id == brand_id]
    if locale:
        cond.append(FaqEntry.locale == locale)
    if q and q.strip():
        term = q.strip()[:100]
        cond.append(
            or_(
                contains(FaqEntry.answer, term),
                contains(FaqEntry.external_id, term),
                contains(cast(FaqEntry.questions, String), term),
            )
        )
    total = int(session.scalar(select(func.count(FaqEntry.id)).where(*cond)) or 0)
    rows = session.scalars(select(FaqEntry).where(*cond).order_by(FaqEntry.id).limit(limit).offset(offset))
    return list(rows), total


def create_article(session: Session, actor: Principal | None, command: CreateArticle | Mapping[str, Any]) -> Article:
    """Add an article (a plain mapping is validated into the command first)."""
    fields = ensure(CreateArticle, command).model_dump()
    get_brand(session, fields["brand_id"], actor)
    art = Article(**fields)
    session.add(art)
    session.flush()
    record(session, actor, "kb.article_create", target_type="article", target_id=art.id, brand_id=art.brand_id)
    _changed(session, art.brand_id, "article", art.id)
    return art


def get_article(session: Session, article_id: int, principal: Principal | None) -> Article:
    """Article by id."""
    art = get_in_brand(session, Article, article_id, principal, f"Article {article_id}")
    return art


def update_article(
    session: Session, art: Article, actor: Principal, command: UpdateArticle | Mapping[str, Any]
) -> Article:
    """Apply the fields the command sets."""
    changes = changes_of(ensure(UpdateArticle, command))
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


def faq_copies(session: Session, principal: Principal | None, faq: FaqEntry) -> dict[str, FaqEntry]:
    """The locale copies of one FAQ (same brand and external id), keyed by locale; an FAQ without an id stands alone."""
    ensure_brand(principal, faq.brand_id, "FAQ")
    if not faq.external_id:
        return {faq.locale: faq}
    rows = session.scalars(
        select(FaqEntry).where(FaqEntry.brand_id == faq.brand_id, FaqEntry.external_id == faq.external_id)
    )
    return {row.locale: row for row in rows} | {faq.locale: faq}


def locale_coverage(session: Session, brand_id: int, faqs: list[FaqEntry]) -> dict[int, set[str]]:
    """For each listed FAQ, the locales its copies exist in (one query for the whole page)."""
    ids = {f.external_id for f in faqs if f.external_id}
    have: dict[str, set[str]] = {}
    if ids:
        rows = session.execute(
            select(FaqEntry.external_id, FaqEntry.locale).where(
                FaqEntry.brand_id == brand_id, FaqEntry.external_id.in_(ids)
            )
        )
        for ext, loc in rows:
            have.setdefault(str(ext), set()).add(loc)
    return {f.id: have.get(f.external_id or "", set()) | {f.locale} for f in faqs}


def article_categories(session: Session, brand_id: int, locale: str | None) -> list[str]:
    """Distinct categories of a brand's published articles and FAQs (for the help centre and editors)."""
    cats: set[str] = set()
    for model in (Article, FaqEntry):
        stmt = select(model.category).where(
            model.brand_id == brand_id, model.category.is_not(None), model.is_published.is_(True)
        )
        if locale:
            stmt = stmt.where(model.locale == locale)
        cats.update(str(c) for c in session.scalars(stmt.distinct()))
    return sorted(cats)
