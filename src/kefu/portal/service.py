"""Portal search over published FAQs and articles, Traditional/Simplified-insensitive."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from kefu.brands.models import Brand
from kefu.core import like
from kefu.core.chinese import convert
from kefu.core.errors import NotFound
from kefu.knowledge.models import Article, FaqEntry
from kefu.knowledge.render import for_channel


@dataclass(frozen=True)
class Hit:
    """One search result."""

    kind: str
    id: int
    title: str
    body: str
    locale: str
    html: Markup | None = None  # rich FAQ answers, sanitised by the knowledge renderer


def variants(q: str) -> list[str]:
    """The query as typed plus its Traditional and Simplified forms."""
    out = [q]
    for config in ("s2t", "t2s"):
        v = convert(q, config)
        if v not in out:
            out.append(v)
    return out


def brand_by_slug(session: Session, slug: str) -> Brand:
    """Public brand lookup (404 for unknown slugs)."""
    brand = session.scalar(select(Brand).where(Brand.slug == slug))
    if brand is None:
        raise NotFound("Unknown brand.")
    return brand


def search(session: Session, brand: Brand, q: str, locale: str | None, limit: int = 10) -> list[Hit]:
    """Published FAQs and articles containing the query (any script), preferring the visitor's locale."""
    q = q.strip()[:100]
    if not q:
        return []
    forms = variants(q)
    faq_stmt = select(FaqEntry).where(FaqEntry.brand_id == brand.id, FaqEntry.is_published.is_(True))
    faq_stmt = faq_stmt.where(or_(*[like.contains(FaqEntry.answer, f) for f in forms], *[_json_like(f) for f in forms]))
    art_stmt = select(Article).where(
        Article.brand_id == brand.id,
        Article.is_published.is_(True),
        or_(*[like.contains(Article.title, f) for f in forms], *[like.contains(Article.body, f) for f in forms]),
    )
    hits = [
        Hit("faq", f.id, f.questions[0], f.answer, f.locale, for_channel(f.answer, f.answer_format, "portal").html)
        for f in session.scalars(faq_stmt.limit(50))
    ]
    hits += [Hit("article", a.id, a.title, a.body, a.locale) for a in session.scalars(art_stmt.limit(50))]
    hits.sort(key=lambda h: (h.locale != locale, h.kind != "faq", h.id))
    return hits[:limit]


def _json_like(term: str) -> ColumnElement[bool]:
    from sqlalchemy import String, cast

    # Questions are a JSON list; matching its text form works on SQLite and PostgreSQL alike.
    return like.contains(cast(FaqEntry.questions, String), _json_escape(term))


def _json_escape(term: str) -> str:
    import json

    return json.dumps(term, ensure_ascii=False)[1:-1]
