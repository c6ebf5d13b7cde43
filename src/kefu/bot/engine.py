"""Per-brand knowledge index: built from published FAQs, rebuilt in the background on edits, swapped atomically."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.knowledge.models import FaqEntry

log = logging.getLogger("kefu.bot.engine")


@dataclass(frozen=True)
class FaqDoc:
    """An FAQ as the retriever sees it."""

    id: int
    locale: str
    questions: tuple[str, ...]
    answer: str
    intent: str | None
    category: str | None


@dataclass(frozen=True)
class Candidate:
    """A scored FAQ for a query (score is a calibrated probability-like confidence in [0, 1])."""

    faq: FaqDoc
    score: float
    matched_question: str


class Retriever(Protocol):
    """Anything that can index FAQ question variants and rank them for a query."""

    def search(self, text: str, k: int) -> list[tuple[int, float, str]]:
        """Top-k (faq_id, score, matched_question)."""


RetrieverFactory = Callable[[Sequence[FaqDoc]], Retriever]


def default_factory(docs: Sequence[FaqDoc]) -> Retriever:
    """The offline NLU retriever (kefu.bot.nlu), fitted on every question variant."""
    from kefu.bot.nlu.retriever import FaqRetriever

    retriever = FaqRetriever()
    retriever.fit(
        [{"id": d.id, "questions": list(d.questions), "answer": d.answer, "language": d.locale} for d in docs]
    )
    return _NluAdapter(retriever)


class _NluAdapter:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def search(self, text: str, k: int) -> list[tuple[int, float, str]]:
        return [(int(h.entry_id), float(h.score), str(h.matched_question)) for h in self.inner.search(text, k)]


@dataclass
class Index:
    """An immutable fitted index for one brand, with the KB fingerprint it was built from."""

    brand_id: int
    fingerprint: tuple[int, str]
    docs: dict[int, FaqDoc]
    retriever: Retriever
    built_at: float

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Ranked candidates for a customer message."""
        out: list[Candidate] = []
        seen: set[int] = set()
        for faq_id, score, matched in self.retriever.search(text, k * 3):
            doc = self.docs.get(faq_id)
            if doc is None or faq_id in seen:
                continue
            seen.add(faq_id)
            out.append(Candidate(doc, score, matched))
            if len(out) >= k:
                break
        return out


def fingerprint(session: Session, brand_id: int) -> tuple[int, str]:
    """Cheap change detector for a brand's published FAQs (count and latest update)."""
    row = session.execute(
        select(func.count(FaqEntry.id), func.max(FaqEntry.updated_at)).where(
            FaqEntry.brand_id == brand_id, FaqEntry.is_published.is_(True)
        )
    ).one()
    return int(row[0] or 0), str(row[1] or "")


def load_docs(session: Session, brand_id: int) -> list[FaqDoc]:
    """Published FAQs of a brand."""
    rows = session.scalars(
        select(FaqEntry).where(FaqEntry.brand_id == brand_id, FaqEntry.is_published.is_(True)).order_by(FaqEntry.id)
    )
    return [FaqDoc(f.id, f.locale, tuple(f.questions), f.answer, f.intent, f.category) for f in rows]


class IndexRegistry:
    """Holds the live index per brand; rebuilds happen off the request path and swap in one assignment."""

    def __init__(
        self, factory: RetrieverFactory | None = None, check_interval: float = 2.0, background: bool = True
    ) -> None:
        self.factory = factory or default_factory
        self.check_interval = check_interval
        self.background = background
        self._indexes: dict[int, Index] = {}
        self._checked: dict[int, float] = {}
        self._building: set[int] = set()
        self._lock = threading.Lock()

    def build(self, session: Session, brand_id: int) -> Index:
        """Fit a fresh index now and make it live."""
        fp = fingerprint(session, brand_id)
        docs = load_docs(session, brand_id)
        started = time.perf_counter()
        retriever = self.factory(docs) if docs else _Empty()
        index = Index(brand_id, fp, {d.id: d for d in docs}, retriever, time.time())
        with self._lock:
            self._indexes[brand_id] = index  # atomic swap: readers keep using the old one until here
            self._checked[brand_id] = time.monotonic()
        log.info("bot index for brand %s: %d FAQs in %.2fs", brand_id, len(docs), time.perf_counter() - started)
        return index

    def get(self, session: Session, brand_id: int) -> Index:
        """The live index, building it on first use and refreshing it when the KB changed."""
        with self._lock:
            index = self._indexes.get(brand_id)
            last = self._checked.get(brand_id, 0.0)
        if index is None:
            return self.build(session, brand_id)
        if time.monotonic() - last >= self.check_interval:
            with self._lock:
                self._checked[brand_id] = time.monotonic()
            if fingerprint(session, brand_id) != index.fingerprint:
                # Edits made by any process are noticed here within check_interval seconds.
                if not self.background:
                    return self.build(session, brand_id)
                from kefu.core.db import get_database

                self.rebuild_in_background(brand_id, get_database().sessionmaker)
        return index

    def invalidate(self, brand_id: int) -> None:
        """Force the next get() to check the fingerprint."""
        with self._lock:
            self._checked[brand_id] = 0.0

    def rebuild_in_background(self, brand_id: int, session_factory: Callable[[], Session]) -> None:
        """Refit on a worker thread (coalescing concurrent requests for the same brand)."""
        with self._lock:
            if brand_id in self._building:
                return
            self._building.add(brand_id)

        def run() -> None:
            try:
                session = session_factory()
                try:
                    self.build(session, brand_id)
                finally:
                    session.close()
            except Exception:
                log.exception("background rebuild failed for brand %s", brand_id)
            finally:
                with self._lock:
                    self._building.discard(brand_id)

        threading.Thread(target=run, name=f"kefu-bot-index-{brand_id}", daemon=True).start()


class _Empty:
    def search(self, text: str, k: int) -> list[tuple[int, float, str]]:
        return []


_registry: IndexRegistry | None = None
_registry_lock = threading.Lock()


def get_registry() -> IndexRegistry:
    """Process-wide index registry."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = IndexRegistry()
        return _registry


def set_registry(registry: IndexRegistry | None) -> None:
    """Replace the registry (tests)."""
    global _registry
    with _registry_lock:
        _registry = registry
