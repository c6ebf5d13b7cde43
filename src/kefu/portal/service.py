"""Portal search over published FAQs and articles, Traditional/Simplified-insensitive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from markupsafe import Markup
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from kefu.brands.models import Brand
from kefu.core import like
from kefu.core.access import ref_in_brand
from kefu.core.chinese import convert
from kefu.core.errors import InvalidInput, NotFound
from kefu.core.ratelimit import RouteLimit
from kefu.knowledge.models import Article, FaqEntry
from kefu.knowledge.render import for_channel, to_text

MB = 1024 * 1024
VIDEO_MAX_MB = 50  # the ceiling a brand may set (the portal route's body limit in kefu.security.asgi follows it)
VIDEO_DEFAULT_MB = 50
UPLOAD_TOTAL_BYTES = 60 * MB  # all files of one portal submission together
# Helpful votes are kept once per browser by a cookie; a script clearing it is stopped per address.
VOTES = RouteLimit("portal_vote", per_ip=30, window=timedelta(minutes=10))


def video_limit_bytes(brand: Brand) -> int:
    """Largest video a customer may attach on the portal form (brand setting ``portal_video_mb``, default 50 MB)."""
    mb = (brand.settings or {}).get("portal_video_mb", VIDEO_DEFAULT_MB)
    return min(int(mb), VIDEO_MAX_MB) * MB


def check_video_mb(value: object) -> int:
    """Validate the ``portal_video_mb`` brand setting: whole megabytes from 1 to the ceiling."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= VIDEO_MAX_MB:
        raise InvalidInput.said("err_portal_video_mb_range", video_max_mb=VIDEO_MAX_MB)
    return value


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
        raise NotFound.said("err_portal_unknown_brand")
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
    # Articles are Markdown: a result shows their text (no `**` or `##`), as the article page shows their HTML.
    articles = session.scalars(art_stmt.limit(50))
    hits += [Hit("article", a.id, a.title, to_text(a.body, "markdown"), a.locale) for a in articles]
    hits.sort(key=lambda h: (h.locale != locale, h.kind != "faq", h.id))
    return hits[:limit]


def _json_like(term: str) -> ColumnElement[bool]:
    from sqlalchemy import String, cast

    # Questions are a JSON list; matching its text form works on SQLite and PostgreSQL alike.
    return like.contains(cast(FaqEntry.questions, String), _json_escape(term))


def _json_escape(term: str) -> str:
    import json

    return json.dumps(term, ensure_ascii=False)[1:-1]


# ----------------------------------------------------------------- help centre browsing


@dataclass(frozen=True)
class Category:
    """A help-centre category with how many published items it holds in the visitor's locale."""

    name: str
    count: int


def _published_articles(session: Session, brand: Brand, locale: str) -> list[Article]:
    return list(
        session.scalars(
            select(Article)
            .where(Article.brand_id == brand.id, Article.locale == locale, Article.is_published.is_(True))
            .order_by(Article.views.desc(), Article.id)
            .limit(200)
        )
    )


def categories(session: Session, brand: Brand, locale: str) -> list[Category]:
    """Categories of published articles and FAQs in the visitor's locale, busiest first."""
    counts: dict[str, int] = {}
    for model in (Article, FaqEntry):
        rows = session.execute(
            select(model.category, func.count(model.id))
            .where(
                model.brand_id == brand.id,
                model.locale == locale,
                model.is_published.is_(True),
                model.category.is_not(None),
            )
            .group_by(model.category)
        )
        for name, n in rows:
            counts[str(name)] = counts.get(str(name), 0) + int(n)
    return [Category(n, c) for n, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def popular_articles(session: Session, brand: Brand, locale: str, limit: int = 6) -> list[Article]:
    """Most viewed published articles in the visitor's locale."""
    return _published_articles(session, brand, locale)[:limit]


def popular_faqs(session: Session, brand: Brand, locale: str, limit: int = 8) -> list[FaqEntry]:
    """Most viewed (then most helpful) published FAQs in the visitor's locale."""
    return list(
        session.scalars(
            select(FaqEntry)
            .where(FaqEntry.brand_id == brand.id, FaqEntry.locale == locale, FaqEntry.is_published.is_(True))
            .order_by(FaqEntry.views.desc(), FaqEntry.helpful_votes.desc(), FaqEntry.id)
            .limit(limit)
        )
    )


def in_category(session: Session, brand: Brand, locale: str, category: str) -> tuple[list[Article], list[FaqEntry]]:
    """Published articles and FAQs of one category in the visitor's locale."""
    arts = session.scalars(
        select(Article)
        .where(
            Article.brand_id == brand.id,
            Article.locale == locale,
            Article.is_published.is_(True),
            Article.category == category,
        )
        .order_by(Article.views.desc(), Article.id)
    )
    faqs = session.scalars(
        select(FaqEntry)
        .where(
            FaqEntry.brand_id == brand.id,
            FaqEntry.locale == locale,
            FaqEntry.is_published.is_(True),
            FaqEntry.category == category,
        )
        .order_by(FaqEntry.views.desc(), FaqEntry.id)
        .limit(100)
    )
    return list(arts), list(faqs)


def published_article(session: Session, brand: Brand, article_id: int) -> Article:
    """A published article of this brand (404 otherwise), counting the view."""
    art = ref_in_brand(session, Article, article_id, brand.id, "err_portal_no_article", NotFound)
    if not art.is_published:
        raise NotFound.said("err_portal_no_article")
    session.execute(update(Article).where(Article.id == art.id).values(views=Article.views + 1))
    return art


def published_faq(session: Session, brand: Brand, faq_id: int) -> FaqEntry:
    """A published FAQ of this brand (404 otherwise), counting the view."""
    faq = ref_in_brand(session, FaqEntry, faq_id, brand.id, "err_portal_no_question", NotFound)
    if not faq.is_published:
        raise NotFound.said("err_portal_no_question")
    session.execute(update(FaqEntry).where(FaqEntry.id == faq.id).values(views=FaqEntry.views + 1))
    return faq


def related_articles(session: Session, brand: Brand, art: Article, limit: int = 4) -> list[Article]:
    """Other published articles of the same category and locale."""
    if not art.category:
        return []
    return list(
        session.scalars(
            select(Article)
            .where(
                Article.brand_id == brand.id,
                Article.locale == art.locale,
                Article.is_published.is_(True),
                Article.category == art.category,
                Article.id != art.id,
            )
            .order_by(Article.views.desc(), Article.id)
            .limit(limit)
        )
    )


def vote(session: Session, brand: Brand, kind: str, item_id: int, helpful: bool) -> None:
    """Count one anonymous helpful / not-helpful vote on a published article or FAQ."""
    if kind == "article":
        art = ref_in_brand(session, Article, item_id, brand.id, "err_portal_no_item", NotFound)
        if not art.is_published:
            raise NotFound.said("err_portal_no_item")
        col = Article.helpful_votes if helpful else Article.unhelpful_votes
        session.execute(update(Article).where(Article.id == item_id).values({col: col + 1}))
        return
    faq = ref_in_brand(session, FaqEntry, item_id, brand.id, "err_portal_no_item", NotFound)
    if not faq.is_published:
        raise NotFound.said("err_portal_no_item")
    fcol = FaqEntry.helpful_votes if helpful else FaqEntry.unhelpful_votes
    session.execute(update(FaqEntry).where(FaqEntry.id == item_id).values({fcol: fcol + 1}))


def retrieve(session: Session, brand: Brand, q: str, locale: str, limit: int = 10) -> list[Hit]:
    """Search as the bot understands questions (typo- and script-insensitive), then plain text matches.

    One result per FAQ, in the visitor's locale when a copy exists (locale copies share an external id).
    """
    from kefu.bot.service import suggest

    hits: list[Hit] = []
    seen: set[str] = set()
    by_id: dict[int, FaqEntry] = {}
    try:
        suggestions = suggest(session, brand.id, q[:100], locale, k=limit, min_score=0.15)
    except Exception:
        suggestions = []
    ids = [int(s["faq_id"]) for s in suggestions]
    if ids:
        by_id = {f.id: f for f in session.scalars(select(FaqEntry).where(FaqEntry.id.in_(ids)))}
    for sid in ids:
        faq = by_id.get(sid)
        if faq is None or not faq.is_published or faq.brand_id != brand.id:
            continue
        key = faq.external_id or f"id:{faq.id}"
        if key in seen:
            continue
        seen.add(key)
        html = for_channel(faq.answer, faq.answer_format, "portal").html
        hits.append(Hit("faq", faq.id, faq.questions[0], faq.answer, faq.locale, html))
    for h in search(session, brand, q, locale, limit=limit * 3):
        if h.kind == "faq":
            faq = session.get(FaqEntry, h.id)
            key = (faq.external_id if faq else None) or f"id:{h.id}"
            if key in seen:
                continue
            copies = _copy_in(session, brand, faq, locale) if faq and faq.locale != locale else None
            if copies is not None:
                h = Hit("faq", copies.id, copies.questions[0], copies.answer, copies.locale,
                        for_channel(copies.answer, copies.answer_format, "portal").html)  # fmt: skip
            seen.add(key)
        hits.append(h)
    # Articles have no shared id across locales: another locale's article is its copy in the other script, so it is
    # shown only when nothing in the visitor's own locale matched (one copy, as for FAQs).
    if any(h.locale == locale for h in hits):
        hits = [h for h in hits if h.kind != "article" or h.locale == locale]
    return hits[:limit]


def _copy_in(session: Session, brand: Brand, faq: FaqEntry, locale: str) -> FaqEntry | None:
    if not faq.external_id:
        return None
    return session.scalar(
        select(FaqEntry).where(
            FaqEntry.brand_id == brand.id,
            FaqEntry.external_id == faq.external_id,
            FaqEntry.locale == locale,
            FaqEntry.is_published.is_(True),
        )
    )


def chat_inbox_id(session: Session, brand_id: int) -> int | None:
    """The brand's first active web-chat inbox (the help centre embeds its widget), if any."""
    from kefu.brands.models import Inbox

    return session.scalar(
        select(Inbox.id)
        .where(Inbox.brand_id == brand_id, Inbox.kind == "web_chat", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
        .limit(1)
    )
