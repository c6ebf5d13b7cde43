"""A provisional FAQ index, built in about a second, served while the full :class:`FaqRanker` fits.

A brand with no usable index (a new brand, or a KB that a large import changed) would otherwise make its first
customers wait for the full fit (features with jieba and pinyin, a scorer per FAQ, calibration folds: 10-20 s of
CPU at bank scale). This stage fits only character n-gram features (no word segmentation, no pinyin) and the
nearest-phrasing + centroid similarities, and decides conservatively:

* an exact KB question (punctuation, script, width and courtesy words ignored) is answered;
* a *near-exact* one is answered: its best phrasing's cosine is at least ``near`` and its FAQ leads the
  runner-up FAQ by at least ``margin`` in nn + centroid (two FAQs that differ by one decisive word, 信貸 vs
  房貸, are close to each other, so neither passes);
* anything else is offered as options (the top FAQs, never answered): reachable, not wrong.

The constants were chosen on development splits (``benchmarks/bot_ranker.py --provisional``), see the Bot
section of docs/DEVELOPING.md; no calibration runs here, so the build is one featurisation and two sparse products.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.preprocessing import normalize as l2_rows

from kefu.bot.nlu.features import FeatureConfig, Featurizer
from kefu.bot.nlu.ranker import (
    Ranked,
    courtesy_stripped,
    exact_key,
    exact_rows,
    kb_rows,
    strict_factor,
    strict_vocabulary,
)
from kefu.bot.nlu.text import HAN_RE, normalize, normalize_many

__all__ = ["PROVISIONAL_FEATURES", "ProvisionalRanker", "near_exact_floor", "near_exact_ranker"]

# Character n-grams only: jieba and pypinyin are most of the full featurisation's time (and their first use loads
# dictionaries); Han char 1-2-grams already act like words for Chinese.
PROVISIONAL_FEATURES: Final = FeatureConfig(word_weight=0.0, use_pairs=False, pinyin_weight=0.0)
ANSWER: Final = 0.95  # confidence of an exact or near-exact match (the answer threshold is 0.9)
_CAP: Final = 0.85  # every other candidate stays below the answer threshold: offered, never answered
# The near-exact rule beside the full ranker (``near_exact_floor``): stricter on the lead than while serving alone
# (chosen on development splits, docs/DEVELOPING.md "Near-exact floor").
_FLOOR_NEAR: Final = 0.8
_FLOOR_MARGIN: Final = 0.4
# The folded floor (round 15): the same rule over toneless pinyin syllable 1-2-grams instead of Han characters, on the
# question without its courtesy words, so a homophone typo (網銀密馬, 信用咔) or a "請問…呢" costs no similarity.
# Only Chinese questions are folded (English ones have no readings to fold: the character ranker covers them), and
# the lead it needs is larger (0.5: folding brings sibling questions closer too; chosen on esun_robust_dev with the
# AFQMC cases' wrong rate held, docs/DEVELOPING.md round 15).
FOLDED_FEATURES: Final = FeatureConfig(word_weight=0.0, use_pairs=False, han_char_weight=0.0, pinyin_weight=2.25)
_FOLDED_MARGIN: Final = 0.5
_FLOOR_GUARD: Final = True  # both floor rankers need the question's readings explained (``_explained``)
_COMMON_SHARE: Final = 0.02  # a reading in this share of the KB's phrasings is a function word's (的, 嗎, 如何)


@dataclass(frozen=True)
class _Fitted:
    matrix_t: sp.csr_matrix  # features x phrasings
    centroids_t: sp.csr_matrix  # features x groups
    starts: NDArray[np.int64]  # first phrasing row of each group present (rows are stored group by group)
    present: NDArray[np.int64]  # the groups those segments belong to


class ProvisionalRanker:
    """nn + centroid over character n-grams, exact and near-exact matches answered, the rest offered as options."""

    answer_threshold_: float = 0.9

    def __init__(
        self,
        *,
        near: float = 0.8,
        margin: float = 0.3,
        clarify: float = 0.2,
        depth: int = 10,
        strict_prefix: str | None = None,
        strict_coverage: float = 0.7,
        folded: bool = False,
        guard: bool = False,
    ) -> None:
        self.folded = folded
        self.guard = guard
        self.near = near
        self.margin = margin
        self.clarify_threshold_ = clarify
        self.depth = depth
        self.strict_prefix = strict_prefix
        self.strict_coverage = strict_coverage
        self.keys: list[str] = []
        self.fit_seconds_ = 0.0
        self._texts: list[str] = []
        self._row_group: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._exact: dict[str, list[int]] = {}
        self._strict_units: dict[int, frozenset[str]] = {}
        self._featurizer: Featurizer | None = None
        self._fitted: _Fitted | None = None
        self._common: frozenset[str] | None = None  # with ``guard``: readings common in the KB (``_explained``)

    def fit(self, groups: Sequence[tuple[str, Sequence[str]]]) -> Self:
        """Index FAQs given as (key, phrasings)."""
        started = time.perf_counter()
        self.keys, texts, self._row_group = kb_rows(groups)

        self._texts = texts
        self._fitted = None
        if not texts:
            return self
        normalized = normalize_many(texts)
        self._exact = exact_rows(normalized)
        self._strict_units = strict_vocabulary(self.keys, normalized, self._row_group, self.strict_prefix)
        self._featurizer = Featurizer(FOLDED_FEATURES if self.folded else PROVISIONAL_FEATURES)
        try:
            x = l2_rows(self._featurizer.fit_transform([self._prepared(t) for t in normalized])).tocsr()
        except ValueError:
            self._featurizer = None
            return self
        n_groups = len(self.keys)
        member = sp.csr_matrix(
            (np.ones(len(texts), dtype=np.float32), (self._row_group, np.arange(len(texts)))),
            shape=(n_groups, len(texts)),
        )
        centroids = l2_rows(member @ x).tocsr()
        # Rows were appended group by group, so each group's phrasings are one contiguous segment.
        starts = np.flatnonzero(np.r_[True, self._row_group[1:] != self._row_group[:-1]])
        self._fitted = _Fitted(x.T.tocsr(), centroids.T.tocsr(), starts, self._row_group[starts])
        self._common = self._common_readings(normalized) if getattr(self, "guard", False) else None
        self.fit_seconds_ = time.perf_counter() - started
        return self

    @staticmethod
    def _common_readings(normalized: Sequence[str]) -> frozenset[str]:
        """Readings (toneless pinyin) found in at least ``_COMMON_SHARE`` of the phrasings: function characters."""
        from kefu.bot.nlu.features import _syllable

        df: dict[str, int] = {}
        for t in set(normalized):
            for syl in {_syllable(ch) for ch in HAN_RE.findall(t)}:
                df[syl] = df.get(syl, 0) + 1
        n = max(len(set(normalized)), 1)
        return frozenset(s for s, c in df.items() if c >= _COMMON_SHARE * n)

    def search(self, text: str, k: int = 5) -> list[Ranked]:
        """Top-k FAQs, best first; only exact and near-exact leaders reach the answer confidence."""
        fitted = self._fitted
        if fitted is None or self._featurizer is None or k <= 0:
            return []
        key = exact_key(text)
        bare = courtesy_stripped(key)
        exact = self._exact.get(key) or (self._exact.get(bare) if bare else None)
        norm = normalize(text)
        if getattr(self, "folded", False) and not HAN_RE.search(norm):
            return []
        q = l2_rows(self._featurizer.transform([self._prepared(norm)])).tocsr()
        sims = np.asarray((q @ fitted.matrix_t).toarray(), dtype=np.float64)[0]
        nn = np.full(len(self.keys), -1.0)
        if len(fitted.starts):
            nn[fitted.present] = np.maximum.reduceat(sims, fitted.starts)
        base = nn + np.asarray((q @ fitted.centroids_t).toarray(), dtype=np.float64)[0]
        depth = min(self.depth, len(base))
        top = np.argpartition(-base, depth - 1)[:depth]
        top = top[np.argsort(-base[top], kind="stable")]
        top = top[base[top] > 0]
        conf = _CAP * np.clip(base[top] / 2.0, 0.0, 1.0)
        if len(top) and nn[top[0]] >= self.near:
            runner = base[top[1]] if len(top) > 1 else 0.0
            if base[top[0]] - runner >= self.margin and self._explained(norm, sims, int(top[0])):
                conf[0] = ANSWER
        if self._strict_units:
            conf = conf * self._strict_factor(norm, top)
        out = [
            Ranked(self.keys[g], float(c), float(base[g]), self._best_phrasing(sims, g))
            for g, c in zip(top.tolist(), conf.tolist(), strict=True)
        ]
        out.sort(key=lambda r: -r.confidence)
        if exact:
            exact_groups = list(dict.fromkeys(int(self._row_group[i]) for i in exact))
            lead = [
                Ranked(
                    self.keys[g],
                    1.0 if len(exact_groups) == 1 else 0.5,
                    99.0,
                    self._texts[next(i for i in exact if self._row_group[i] == g)],
                )
                for g in exact_groups
            ]
            seen = {r.key for r in lead}
            out = lead + [r for r in out if r.key not in seen]
        return out[:k]

    def _explained(self, norm: str, sims: NDArray[np.float64], group: int) -> bool:
        """With ``guard`` (the floor's rankers): every reading of the question is in its nearest phrasing or common.

        Folding forgives typos (same reading), dropped characters and courtesy words, but one character read
        differently is a different question as often as not (開立臺幣帳戶 against the KB's 開立外幣帳戶 when the KB
        has no 臺幣 FAQ): a reading the phrasing lacks that occurs in under ``_COMMON_SHARE`` of the KB's phrasings
        (臺, not 的 or 嗎) keeps the question from being near-exact."""
        common = getattr(self, "_common", None)
        if common is None:
            return True
        from kefu.bot.nlu.features import _syllable

        own = {_syllable(ch) for ch in HAN_RE.findall(self._best_phrasing(sims, group))}
        key = exact_key(norm)  # courtesy words are not part of the question, for either ranker
        asked = {_syllable(ch) for ch in HAN_RE.findall(courtesy_stripped(key) or key)}
        return not (asked - own - common)

    def _prepared(self, norm: str) -> str:
        """The normalised text as featurised: folded rankers drop punctuation, spaces and courtesy words first."""
        if not getattr(self, "folded", False):  # a ranker saved before round 15 has no such attribute
            return norm
        key = exact_key(norm)
        return courtesy_stripped(key) or key

    def _strict_factor(self, text: str, groups: NDArray[np.int64]) -> NDArray[np.float64]:
        """As :meth:`FaqRanker._strict_factor`: small talk must explain the message's characters and words."""
        return strict_factor(self._strict_units, self.strict_coverage, text, groups)

    def _best_phrasing(self, sims: NDArray[np.float64], group: int) -> str:
        fitted = self._fitted
        assert fitted is not None
        at = int(np.searchsorted(fitted.present, group))
        if at >= len(fitted.present) or fitted.present[at] != group:
            return ""
        lo = int(fitted.starts[at])
        hi = int(fitted.starts[at + 1]) if at + 1 < len(fitted.starts) else len(sims)
        return self._texts[lo + int(np.argmax(sims[lo:hi]))]


def near_exact_ranker(strict_prefix: str | None = None, *, folded: bool = False) -> ProvisionalRanker:
    """The (unfitted) provisional ranker that ``near_exact_floor`` consults beside the full ranker (``folded``: the
    pinyin-folded, courtesy-stripped one of round 15)."""
    margin = _FOLDED_MARGIN if folded else _FLOOR_MARGIN
    return ProvisionalRanker(
        near=_FLOOR_NEAR, margin=margin, strict_prefix=strict_prefix, folded=folded, guard=_FLOOR_GUARD
    )


def near_exact_floor(
    hits: list[Ranked],
    text: str,
    quick: ProvisionalRanker | None,
    answer_threshold: float,
    smalltalk_prefix: str,
    folded: ProvisionalRanker | None = None,
) -> list[Ranked]:
    """The full ranker's ``hits`` with a near-exact question answered although its calibrated confidence is low.

    The full ranker's confidence curve is fitted on held-out phrasings (paraphrases), so it stays unsure of a
    question that is one of the KB's phrasings with a word changed, a character missing or a typo (on the E.SUN
    rewrites: top-1 99 %, answered 28 %). When ``quick`` (this KB's provisional ranker) or ``folded`` (the same rule
    over pinyin syllables without courtesy words) finds the message near-exact to one FAQ with a clear lead, and
    that FAQ is also the full ranker's first, the first hit is raised to the answer threshold; any disagreement
    leaves the hits as they were.
    """
    if not hits:
        return hits
    top = hits[0]
    if top.confidence >= answer_threshold or top.key.startswith(smalltalk_prefix):
        return hits
    for ranker in (quick, folded):
        if ranker is None:
            continue
        near = ranker.search(text, 1)
        if near and near[0].key == top.key and near[0].confidence >= ranker.answer_threshold_:
            return [Ranked(top.key, answer_threshold, top.score, top.matched_question), *hits[1:]]
    return hits
