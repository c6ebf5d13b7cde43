"""FAQ ranking for the live bot: one class per FAQ, scored from four signals and calibrated on the KB itself.

Each FAQ (all its phrasings, in every locale copy) is one class. For a message the ranker combines

* ``nn``: cosine similarity of the best-matching phrasing (nearest neighbour),
* ``centroid``: cosine similarity to the FAQ's mean phrasing vector,
* ``svm``: a per-FAQ linear scorer trained one-vs-rest against the FAQ's *hard* negatives only (the
  phrasings of the five most similar FAQs plus 50 random phrasings): a class-balanced regularised
  least-squares classifier per FAQ, every one solved in its small dual system in one batched pass
  (the weight vectors come out of one sparse product), so fitting scales linearly with the number of
  FAQs while keeping the intent model's discriminative power (+4 to +11 points over nearest neighbour
  on SMP2017, Banking77 and HWU64-10-shot, see docs/DEVELOPING.md),
* ``coverage``: the share of the message's *decisive* words (content words that occur in few FAQs,
  e.g. 信貸 vs 房貸, 外幣 vs 臺幣) that the FAQ's phrasings contain,

over sparse features of :mod:`kefu.bot.nlu.features` on OpenCC-normalised text, with toneless
pinyin syllables so homophone typos (密马 / 密码) still match. With a dense encoder, nn and centroid use the
embedding cosine (``dense_weight``) and the scorers see the embeddings too (``dense_scorer_weight``), calibrated
the same way (round 12). Candidates come from ``nn + centroid``; ``svm`` and ``coverage`` rerank the top ``depth``.

Calibration is cross-validation on the KB only: one phrasing of every multi-phrasing FAQ is held
out, the scorers are refitted on the rest, and the held-out phrasings are ranked against the index as
served (every phrasing, those scorers; only the query's own phrasing left out of nn, centroid and
coverage), plus the same queries with their own FAQ removed, standing for questions the KB does not
cover. That picks the svm and coverage weights (by held-out top-1 accuracy), fits a logistic curve
from the leader's (score, margin, svm, nn + centroid, coverage) to "the top FAQ is right", and
chooses the answer threshold (the lowest with at most ``max_wrong_rate`` wrong answers to covered questions, at most
``max_uncovered_rate`` of uncovered ones answered and at most ``max_answered_wrong_rate`` of those answered wrong)
and the clarify score: below the answer threshold a candidate is offered when its score is at least that of 95 % of
the held-out questions whose FAQ was in the top 3 (``clarify_by_score``, docs/DEVELOPING.md round 9).
KBs up to ``refit_limit`` phrasings then serve scorers refitted on every phrasing (round 10).
``loo_calibration`` (round 11) instead fits those served scorers once and calibrates on them: each held-out
phrasing's scorer values are the served ones minus their exact leave-one-out shift (the regularised least-squares
identity, from the same small solves), so no fold scorer is fitted and the sample can cover every phrasing.
Round 10's options, all off by default (docs/DEVELOPING.md): ``twin_cutoff``/``twin_limit`` also hide a held-out
phrasing's near-duplicate same-FAQ phrasings in calibration, ``nn2_weight`` blends the mean of the two best phrasing
similarities into ``nn``, ``pseudo_positives`` adds word-dropout pseudo-queries as scorer positives,
``centroid_weight``/``centroid_grid`` weight the centroid in ``nn + centroid`` (the grid picked by held-out top-1).
``learned_rerank`` (round 14, off by default) fits a conditional logit over the candidates' signals, their ranks and
a kNN vote on the held-out ranks and serves it only when its cross-validated held-out top-1 beats the grid's.
``calibration_folds`` (3 by default) pools up to that many disjoint held-out folds while the sample is small
(rounds 4 and 5; ``bagging``, off by default, serves the mean of the folds' scorers, round 7). A KB with fewer
than 8 multi-phrasing FAQs (an imported list, one question each) is queried instead with pseudo-queries made from
each FAQ's own question (words dropped, neighbours swapped), and the uncovered limit tightens to
``pseudo_uncovered_rate``: such queries are too easy to bound wrong answers themselves. Classes whose key starts
with ``strict_prefix`` (small talk) also need the message's characters/words to be explained by their
phrasings (``strict_coverage``), so a real question sharing a character with "收到" is not "testing".
Nothing is computed over all pairs of phrasings: similarity rows are built per chunk of queries and
reduced right away, and every per-FAQ system is bounded by sampling caps.

Hand-written because no maintained library ranks short texts against per-class phrasing sets with
KB-level calibration; the pieces are scikit-learn and scipy.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

import joblib  # type: ignore[import-untyped,unused-ignore]
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve  # type: ignore[import-untyped,unused-ignore]
from scipy.optimize import minimize  # type: ignore[import-untyped,unused-ignore]
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_rows
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from kefu.bot.nlu.encoders import Encoder, l2_normalize
from kefu.bot.nlu.features import FeatureConfig, Featurizer, _get_jieba
from kefu.bot.nlu.text import HAN_RE, normalize, normalize_many

__all__ = ["FaqRanker", "Ranked"]

# /7: served scorers refitted on every phrasing, answered-wrong limit; /6: clarify score; /5: tw2sp fold;
# /4: serving-matched calibration state; /3: region folding
_FORMAT: Final = "kefu.nlu.FaqRanker/7"
# Pinyin block weight 0.75 and the rest of the defaults: see the bot section of docs/DEVELOPING.md.
RANKER_FEATURES: Final = FeatureConfig(use_pairs=False, pinyin_weight=0.75)
_HARD_GROUPS: Final = 5
_RANDOM_NEGATIVES: Final = 50
_PRUNE: Final = 1e-4
_MAX_POSITIVES: Final = 200
_MAX_PER_HARD_GROUP: Final = 40
_SOLVER_THREADS: Final = 2
_SOLVER_LOCK: Final = threading.Lock()
_MAX_HOLDOUT: Final = 2000
_CHUNK: Final = 128
_UNCOVERED_WEIGHT: Final = 0.5
# Learned reranker (round 14): folds of the held-out sample it is cross-validated on, its L2 penalty per query, and
# the held-out top-1 it must beat the grid's by (a tie keeps the grid: fewer fitted numbers).
_RERANK_FOLDS: Final = 5
_RERANK_L2: Final = 1e-3
_RERANK_MIN_GAIN: Final = 0.002
_KNN: Final = 10  # nearest phrasings whose similarity votes for their FAQ (a reranker feature)
# KBs up to this many phrasings serve scorers refitted on every phrasing (a bank KB of ~1,150 FAQs x 19 phrasings and
# the 1,000 x 20 scale KB included; a second scorer fit costs ~2.5 s CPU there), see docs/DEVELOPING.md round 10.
_REFIT_LIMIT: Final = 30_000
_PUNCT_RE: Final = re.compile(r"[\s\W_]+", re.UNICODE)
_UNIT_RE: Final = re.compile(rf"{HAN_RE.pattern}|[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Ranked:
    """A ranked FAQ: ``confidence`` in [0, 1] that it is the right answer, raw ``score`` and the best phrasing."""

    key: str
    confidence: float
    score: float
    matched_question: str


# Single-phrasing KBs: below this many FAQs with a phrasing to hold out, calibrate on pseudo-queries instead.
_MIN_HOLDOUT_FAQS: Final = 8
_PSEUDO_DROP: Final = 0.3


def pseudo_query(text: str, rng: np.random.Generator) -> str:
    """A stand-in for an unseen customer question from an FAQ's only phrasing: about 30 % of its words dropped
    (at least one, jieba words for Chinese, whitespace words otherwise) and two neighbours swapped half the time."""
    norm = normalize(text)
    if HAN_RE.search(norm):
        words = [w for w in _get_jieba().lcut(norm) if w.strip()]
        sep = ""
    else:
        words, sep = norm.split(), " "
    if len(words) < 2:
        return norm
    keep = rng.random(len(words)) >= _PSEUDO_DROP
    if keep.all():
        keep[rng.integers(len(words))] = False
    if not keep.any():
        keep[rng.integers(len(words))] = True
    out = [w for w, k in zip(words, keep, strict=True) if k]
    if len(out) >= 2 and rng.random() < 0.5:
        i = int(rng.integers(len(out) - 1))
        out[i], out[i + 1] = out[i + 1], out[i]
    return sep.join(out)


def kb_sounds(texts: Sequence[str]) -> dict[str, list[str]]:
    """Toneless pinyin syllable → the KB's Han characters with that reading, most frequent first (typo candidates)."""
    from kefu.bot.nlu.features import _syllable

    freq: dict[str, int] = {}
    for t in texts:
        for ch in HAN_RE.findall(t):
            freq[ch] = freq.get(ch, 0) + 1
    out: dict[str, list[str]] = {}
    for ch in sorted(freq, key=lambda c: (-freq[c], c)):
        out.setdefault(_syllable(ch), []).append(ch)
    return out


_SOUND_CHOICES: Final = 8  # a typo uses one of the 8 most frequent KB characters with the same reading


def noisy_query(text: str, rng: np.random.Generator, sounds: dict[str, list[str]]) -> str:
    """A stand-in for a customer typing one KB question roughly: one or two edits of the kinds customers make —
    a homophone typo (another KB character with the same toneless reading), a Han character left out, courtesy
    words around it, two neighbouring words swapped, one word left out (round 15; script, width and case are folded
    by normalisation anyway)."""
    from kefu.bot.nlu.features import _syllable

    norm = normalize(text)
    han = HAN_RE.search(norm) is not None

    def words(t: str) -> tuple[list[str], str]:
        return ([w for w in _get_jieba().lcut(t) if w.strip()], "") if han else (t.split(), " ")

    def typo(t: str) -> str | None:
        options = []
        for i, ch in enumerate(t):
            if HAN_RE.match(ch):
                others = [c for c in sounds.get(_syllable(ch), [])[:_SOUND_CHOICES] if c != ch]
                if others:
                    options.append((i, others))
        if not options:
            return None
        i, others = options[int(rng.integers(len(options)))]
        return t[:i] + others[int(rng.integers(len(others)))] + t[i + 1 :]

    def delete(t: str) -> str | None:
        pos = [i for i, ch in enumerate(t) if HAN_RE.match(ch)]
        if len(pos) < 5:
            return None
        i = pos[1:][int(rng.integers(len(pos) - 1))]
        return t[:i] + t[i + 1 :]

    def courtesy(t: str) -> str | None:
        head = _COURTESY_HEAD[int(rng.integers(len(_COURTESY_HEAD)))] if rng.random() < 0.7 else ""
        tail = _COURTESY_TAIL[int(rng.integers(len(_COURTESY_TAIL)))] if rng.random() < 0.6 else ""
        return f"{head} {t} {tail}".strip() if head or tail else None

    def swap(t: str) -> str | None:
        w, sep = words(t)
        if len(w) < 3:
            return None
        i = int(rng.integers(len(w) - 1))
        w[i], w[i + 1] = w[i + 1], w[i]
        return sep.join(w)

    def drop(t: str) -> str | None:
        w, sep = words(t)
        if len(w) < 3:
            return None
        del w[int(rng.integers(len(w)))]
        return sep.join(w)

    edits = (typo, delete, courtesy, swap, drop)
    want = 1 + int(rng.random() < 0.5)
    out, done = norm, 0
    for i in rng.permutation(len(edits)).tolist():
        new = edits[i](out)
        if new and new != out:
            out, done = new, done + 1
        if done == want:
            break
    return normalize(out)


def exact_key(text: str) -> str:
    """Normalised text without punctuation or spaces (an exact KB question matches regardless of 。？ etc.)."""
    return _PUNCT_RE.sub("", normalize(text))


# Courtesy words customers wrap around a KB question ("請問…", "…呢", "hi … thanks"): an exact KB question inside
# them is still that question. Kept to pure politeness and sentence particles, never words that change the meaning.
_COURTESY_HEAD: Final = (
    "請問一下",
    "想請問",
    "請問",
    "請教",
    "想問一下",
    "想問",
    "我想問",
    "問一下",
    "我想知道",
    "想知道",
    "你好",
    "您好",
    "哈囉",
    "嗨",
    "不好意思",
    "麻煩",
    "麻煩問",
    "hello",
    "hi",
    "please",
)
_COURTESY_TAIL: Final = ("謝謝你", "謝謝", "感謝", "呢", "嗎", "啊", "呀", "喔", "哦", "please", "thanks", "thankyou")


def _courtesy_forms(words: Sequence[str]) -> tuple[str, ...]:
    """The words as exact_key leaves them (script folded, lower case), longest first so the longest one is cut."""
    return tuple(sorted({exact_key(w) for w in words if exact_key(w)}, key=len, reverse=True))


_HEADS: Final = _courtesy_forms(_COURTESY_HEAD)
_TAILS: Final = _courtesy_forms(_COURTESY_TAIL)


def courtesy_stripped(key: str) -> str:
    """An exact_key without the courtesy words around it ("" when nothing was cut or too little is left)."""
    out, changed = key, True
    while changed:
        changed = False
        for head in _HEADS:
            if out.startswith(head) and len(out) - len(head) >= 2:
                out, changed = out[len(head) :], True
                break
        for tail in _TAILS:
            if out.endswith(tail) and len(out) - len(tail) >= 2:
                out, changed = out[: -len(tail)], True
                break
    return out if out != key else ""


def _units(text: str) -> list[str]:
    """Han characters and Latin/digit words of a normalised text (what a strict class must explain)."""
    return _UNIT_RE.findall(text)


@dataclass
class _Parts:
    """Fitted scoring parts over a subset of the phrasings."""

    rows: NDArray[np.int64]  # phrasing row ids used
    matrix_t: sp.csr_matrix  # features x rows
    row_group: NDArray[np.int64]
    centroids_t: sp.csr_matrix  # features x groups
    weights_t: sp.csr_matrix  # features x groups (per-group SVM)
    bias: NDArray[np.float64]
    dense: NDArray[np.float32] | None
    dense_centroids: NDArray[np.float32] | None
    word_cols: NDArray[np.int64]  # decisive word columns
    group_words_t: sp.csr_matrix | None  # decisive words x groups, binary
    order: NDArray[np.int64]  # local rows sorted by group
    starts: NDArray[np.int64]  # segment starts of each present group in ``order``
    sorted_rows: bool = False  # ``order`` is the identity (rows already grouped)
    # The scorers' √γ·embedding weights (embedding dims x groups, float32 values held as float64), apart from the
    # sparse feature weights: every entry is non-zero, so inside the sparse matrix they cost a sparse product over
    # 384 full rows per query (docs/DEVELOPING.md, round 13). None without dense-aware scorers.
    dense_weights: NDArray[np.float64] | None = None


def split_dense_weights(parts: _Parts) -> _Parts:
    """``parts`` with the embedding block of its scorer weights (rows after the features) as a dense array."""
    n_features = parts.matrix_t.shape[0]
    if parts.weights_t.shape[0] <= n_features:
        return parts
    block = np.asarray(parts.weights_t[n_features:].toarray(), dtype=np.float64)
    return dataclasses.replace(parts, weights_t=parts.weights_t[:n_features].tocsr(), dense_weights=block)


def scorer_weights(parts: _Parts) -> sp.csr_matrix:
    """(groups x features[+embedding dims]) scorer weights of ``parts``, as :meth:`FaqRanker._fit_svms` made them."""
    weights = parts.weights_t.T.tocsr()
    if parts.dense_weights is None:
        return weights
    block = sp.csr_matrix(parts.dense_weights.T.astype(np.float32))
    return sp.hstack([weights, block], format="csr").astype(np.float32)


def kb_rows(groups: Sequence[tuple[str, Sequence[str]]]) -> tuple[list[str], list[str], NDArray[np.int64]]:
    """A KB given as (key, phrasings): its keys, its non-blank phrasings and the FAQ index of each phrasing."""
    keys = [str(k) for k, _ in groups]
    texts: list[str] = []
    owner: list[int] = []
    for g, (_, questions) in enumerate(groups):
        for q in questions:
            if q and str(q).strip():
                texts.append(str(q))
                owner.append(g)
    return keys, texts, np.asarray(owner, dtype=np.int64)


def group_bounds(row_group: NDArray[np.int64], n_groups: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(order, bounds): ``order[bounds[g]:bounds[g + 1]]`` are the rows of group ``g``, in their original order."""
    order = np.argsort(row_group, kind="stable")
    return order, np.searchsorted(row_group[order], np.arange(n_groups + 1))


def exact_rows(normalized: Sequence[str]) -> dict[str, list[int]]:
    """Phrasing rows by exact key (the normalised text without punctuation; no second normalisation)."""
    exact: dict[str, list[int]] = {}
    for i, t in enumerate(normalized):
        exact.setdefault(_PUNCT_RE.sub("", t), []).append(i)
    return exact


def strict_vocabulary(
    keys: Sequence[str], normalized: Sequence[str], row_group: NDArray[np.int64], prefix: str | None
) -> dict[int, frozenset[str]]:
    """The words and characters of each strict class (keys starting with `prefix`: small talk), by FAQ index."""
    if not prefix:
        return {}
    return {
        g: frozenset(u for i in np.flatnonzero(row_group == g).tolist() for u in _units(normalized[i]))
        for g, key in enumerate(keys)
        if key.startswith(prefix)
    }


def strict_factor(
    vocabulary: dict[int, frozenset[str]], coverage: float, text: str, groups: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Confidence factor per candidate: 1 for FAQs; for strict classes, the share of the message they explain."""
    units = _units(text)
    factor = np.ones(len(groups))
    for i, g in enumerate(groups.tolist()):
        vocab = vocabulary.get(g)
        if vocab is None:
            continue
        share = sum(1 for u in units if u in vocab) / len(units) if units else 0.0
        factor[i] = min(1.0, share / coverage) ** 2
    return factor


class FaqRanker:
    """Ranks FAQs (groups of phrasings) for a message with KB-calibrated confidences."""

    def __init__(
        self,
        *,
        features: FeatureConfig | None = None,
        encoder: Encoder | None = None,
        dense_weight: float = 1.0,
        depth: int = 10,
        svm_grid: Sequence[float] = (0.5, 1.0),
        coverage_grid: Sequence[float] = (0.0, 0.25, 0.5),
        max_wrong_rate: float = 0.0275,
        max_uncovered_rate: float | None = 0.1,
        max_answered_wrong_rate: float | None = 0.035,
        clarify_by_score: bool = True,
        clarify_quantile: float = 0.05,
        pseudo_uncovered_rate: float = 0.02,
        pseudo_style: str = "drop",
        margin_rule: bool = True,
        decisive_share: float = 0.05,
        ridge_alpha: float = 1.0,
        strict_prefix: str | None = None,
        strict_coverage: float = 0.7,
        random_state: int = 0,
        refit_limit: int = _REFIT_LIMIT,
        calibration_folds: int = 3,
        calibration_resample: bool = False,
        holdout_share: float = 0.2,
        serving_calibration: bool = True,
        bagging: bool = False,
        policy_limits: bool = False,
        twin_cutoff: float | None = None,
        twin_limit: int | None = None,
        nn2_weight: float = 0.0,
        pseudo_positives: int = 0,
        centroid_weight: float = 1.0,
        centroid_grid: Sequence[float] | None = None,
        loo_calibration: bool = False,
        dense_fold_calibration: bool = False,
        dense_scorer_weight: float = 2.0,
        learned_rerank: bool = False,
    ) -> None:
        self.feature_config = features or RANKER_FEATURES
        self.encoder = encoder
        self.requires_encoder = encoder is not None
        self.dense_weight = dense_weight
        self.depth = depth
        self.svm_grid = tuple(svm_grid)
        self.coverage_grid = tuple(coverage_grid)
        self.max_wrong_rate = max_wrong_rate
        self.max_uncovered_rate = max_uncovered_rate
        self.max_answered_wrong_rate = max_answered_wrong_rate
        self.clarify_by_score = clarify_by_score
        self.clarify_quantile = clarify_quantile
        self.pseudo_uncovered_rate = pseudo_uncovered_rate
        # Round 15: the single-phrasing calibration sample — "drop" (word dropout, ``pseudo_query``), "noise"
        # (customer-like edits, ``noisy_query``) or "both" (one of each per FAQ).
        self.pseudo_style = pseudo_style
        self.margin_rule = margin_rule
        self.margin_rule_: tuple[float, float] | None = None
        self.decisive_share = decisive_share
        self.random_state = random_state
        self.ridge_alpha = ridge_alpha
        self.refit_limit = refit_limit
        self.calibration_folds = calibration_folds
        self.calibration_resample = calibration_resample
        self.holdout_share = holdout_share
        self.serving_calibration = serving_calibration
        self.bagging = bagging
        self.policy_limits = policy_limits
        self.twin_cutoff = twin_cutoff
        self.twin_limit = twin_limit
        self.nn2_weight = nn2_weight
        self.pseudo_positives = pseudo_positives
        self.centroid_weight = centroid_weight
        self.centroid_grid = tuple(centroid_grid) if centroid_grid else None
        self.centroid_weight_ = centroid_weight
        self.loo_calibration = loo_calibration
        # With a dense encoder, calibrate as before round 12 (fold parts, not the served index; for comparison).
        self.dense_fold_calibration = dense_fold_calibration
        # With an encoder (only then do these two matter): nearest phrasing and centroid by embedding cosine
        # (dense_weight 1; the sparse cosine blended in below 1) and per-FAQ scorers over features and embeddings
        # (kernel x·x' + γ d·d', γ = dense_scorer_weight; 0 = features only), chosen by the KB's held-out top-1 on
        # the few-phrasing dev KBs (docs/DEVELOPING.md, round 12).
        self.dense_scorer_weight = dense_scorer_weight
        # Round 14: a conditional-logit reranker over the top ``depth`` (signals and their ranks in the list), fitted
        # on the held-out ranks and served only when its cross-validated held-out top-1 beats the weight grid's.
        self.learned_rerank = learned_rerank
        self.rerank_coef_: tuple[float, ...] | None = None
        self._dense_rows: NDArray[np.float32] | None = None  # embeddings of every phrasing while calibrating
        # Exact leave-one-out calibration (round 11): the rows whose LOO scores the scorer fit computes, and what it
        # computed (rows x groups: served score minus leave-one-out score, where the row is in the FAQ's sample).
        self._loo_mask: NDArray[np.bool_] | None = None
        self._loo_shift: sp.csr_matrix | None = None
        self._loo_folds: list[NDArray[np.int64]] = []
        # Word-dropout copies of the phrasings (feature rows, source phrasing row) for the scorers' positives.
        self._pseudo: tuple[sp.csr_matrix, NDArray[np.int64]] | None = None
        self._served: _Parts | None = None
        # Fitted state.
        self.keys: list[str] = []
        self.svm_weight_ = self.svm_grid[-1]
        self.coverage_weight_ = self.coverage_grid[-1]
        self.curve_: tuple[tuple[float, ...], float] = ((8.0, 8.0, 0.0, 0.0, 0.0), -8.0)
        self.answer_threshold_ = 0.5
        self.clarify_threshold_ = 0.2
        self.clarify_score_: float | None = None
        self.cv_: dict[str, Any] = {}
        self.fit_seconds_ = 0.0
        self.timings_: dict[str, float] = {}
        self._featurizer: Featurizer | None = None
        self._texts: list[str] = []
        self._row_group: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._parts: _Parts | None = None
        self._exact: dict[str, list[int]] = {}
        self._unigram_cols: NDArray[np.int64] | None = None
        self.strict_prefix = strict_prefix
        self.strict_coverage = strict_coverage
        self._strict_units: dict[int, frozenset[str]] = {}

    # ------------------------------------------------------------------ fitting

    def fit(self, groups: Sequence[tuple[str, Sequence[str]]]) -> Self:
        """Index FAQs given as (key, phrasings) and calibrate on held-out phrasings."""
        started = time.perf_counter()
        self.keys, texts, self._row_group = kb_rows(groups)
        self._texts = texts
        self._parts = None
        self.centroid_weight_ = self.centroid_weight
        self.rerank_coef_ = None
        if not texts:
            return self
        normalized = normalize_many(texts)
        self._exact = exact_rows(normalized)
        self._strict_units = strict_vocabulary(self.keys, normalized, self._row_group, self.strict_prefix)
        self._featurizer = Featurizer(self.feature_config)
        try:
            x = l2_rows(self._featurizer.fit_transform(normalized)).tocsr()
        except ValueError:
            self._featurizer = None
            return self
        dense = l2_normalize(self.encoder.encode(normalized)) if self.encoder is not None else None
        self._unigram_cols = None
        self._pseudo = self._pseudo_rows(texts) if self.pseudo_positives > 0 else None
        mark = time.perf_counter()
        self.timings_ = {"features": round(mark - started, 3)}
        try:
            svm = self._calibrate(x, dense)
        finally:
            self._dense_rows = None  # not part of the fitted (saved) state
        self.timings_["calibration"] = round(time.perf_counter() - mark, 3)
        mark = time.perf_counter()
        # The per-FAQ SVMs fitted for calibration (on all but the held-out phrasings) are kept for very large KBs: a
        # second fit on every phrasing doubles their build time. KBs up to ``refit_limit`` phrasings (a bank's
        # included) refit on every phrasing: +2 points of top-1 with ~19 phrasings per FAQ, and the answered-wrong
        # limit keeps the stronger scorers' extra answers in check (docs/DEVELOPING.md, round 10).
        if len(texts) <= self.refit_limit and not self.cv_.get("loo_scorers"):
            svm = None
        served, self._served = self._served, None
        self._parts = (
            served if served is not None and svm is not None else self._fit_parts(x, dense, np.arange(len(texts)), svm)
        )
        self.timings_["final"] = round(time.perf_counter() - mark, 3)
        self._pseudo = None  # only the scorers' fit uses them
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _pseudo_rows(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, NDArray[np.int64]]:
        """``pseudo_positives`` word-dropout pseudo-queries of every phrasing (``pseudo_query``, seeded) as feature
        rows, with the phrasing row each was made from: extra positives for the FAQ's scorer."""
        assert self._featurizer is not None
        rng = np.random.default_rng([self.random_state, 2])
        source = np.repeat(np.arange(len(texts)), self.pseudo_positives)
        made = [pseudo_query(texts[int(i)], rng) for i in source]
        return l2_rows(self._featurizer.transform(made)).tocsr(), source

    def _fit_vocabulary(
        self, x: sp.csr_matrix, row_group: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], sp.csr_matrix | None]:
        """Decisive words of these phrasings: word-block unigrams in at most ``decisive_share`` of the FAQs.

        Returns the word columns and a (decisive words x groups) membership matrix. Computed per fitted part, so
        held-out phrasings never lend their words to their own FAQ during calibration.
        """
        assert self._featurizer is not None
        block = self._featurizer._blocks[0]
        n_groups = len(self.keys)
        if block is None or n_groups < 2:
            return np.empty(0, dtype=np.int64), None
        if self._unigram_cols is None:
            unigram = np.array(
                [j for w, j in block.vocabulary.items() if " " not in w and (len(w) >= 2 or not w.isascii())],
                dtype=np.int64,
            )
            self._unigram_cols = np.sort(unigram) + block.offset
        cols = self._unigram_cols
        sub = (x[:, cols] > 0).astype(np.float32)
        member = sp.csr_matrix(
            (np.ones(len(row_group), dtype=np.float32), (row_group, np.arange(len(row_group)))),
            shape=(n_groups, len(row_group)),
        )
        group_words = ((member @ sub) > 0).astype(np.float32).tocsc()
        df = np.asarray(group_words.sum(axis=0)).ravel()
        keep = (df > 0) & (df <= max(2.0, self.decisive_share * n_groups))
        return cols[keep], group_words[:, np.flatnonzero(keep)].T.tocsr()

    def _fit_parts(
        self,
        x: sp.csr_matrix,
        dense: NDArray[np.float32] | None,
        rows: NDArray[np.int64],
        svm: tuple[sp.csr_matrix, NDArray[np.float64]] | None = None,
    ) -> _Parts:
        n_groups = len(self.keys)
        sub = x[rows]
        row_group = self._row_group[rows]
        member = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (row_group, np.arange(len(rows)))), shape=(n_groups, len(rows))
        )
        centroids = l2_rows(member @ sub).tocsr()
        dense_centroids = None
        sub_dense = None
        if dense is not None:
            sub_dense = dense[rows]
            dense_centroids = l2_normalize(np.asarray(member @ sub_dense))
        if svm is None and self._pseudo is not None:
            # Pseudo-queries of the phrasings this part is fitted on, never of held-out ones.
            extra, source = self._pseudo
            keep = np.flatnonzero(np.isin(source, rows))
            svm = self._fit_svms(sub, row_group, centroids, (extra[keep], self._row_group[source[keep]]))
        if svm is None and sub_dense is not None and self.dense_scorer_weight > 0:
            svm = self._fit_svms(sub, row_group, centroids, dense=sub_dense)
        weights, bias = svm if svm is not None else self._fit_svms(sub, row_group, centroids)
        order = np.argsort(row_group, kind="stable")
        grp = row_group[order]
        starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if len(grp) else np.empty(0, dtype=np.int64)
        word_cols, group_words_t = self._fit_vocabulary(sub, row_group)
        return split_dense_weights(
            _Parts(
                word_cols=word_cols,
                group_words_t=group_words_t,
                order=order,
                starts=starts,
                sorted_rows=bool(np.array_equal(order, np.arange(len(order)))),
                rows=rows,
                matrix_t=sub.T.tocsr(),
                row_group=row_group,
                centroids_t=centroids.T.tocsr(),
                weights_t=weights.T.tocsr(),
                bias=bias,
                dense=sub_dense,
                dense_centroids=dense_centroids,
            )
        )

    def _fit_svms(
        self,
        x: sp.csr_matrix,
        row_group: NDArray[np.int64],
        centroids: sp.csr_matrix,
        extra: tuple[sp.csr_matrix, NDArray[np.int64]] | None = None,
        dense: NDArray[np.float32] | None = None,
    ) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
        """Per-FAQ linear scorers against the FAQ's hard negatives, all solved in one batched dual pass.

        Each FAQ's problem is a class-balanced regularised least-squares classifier (targets ±1, the bias as a
        constant feature) over its own phrasings and the phrasings of its most similar FAQs plus
        a random sample. Solved in the dual, a problem is a small (m x m) Gram system with m = its sample count
        (~100-300), so every FAQ costs one small sparse product and one dense solve, and all weight vectors come
        out of one sparse product (coefficients x phrasings). Replaces a liblinear LinearSVC per FAQ, which was
        bound by per-fit overhead (see docs/DEVELOPING.md for the accuracy and time comparison). ``extra``
        (rows, FAQ of each) are more positives only (pseudo-queries of the FAQ's phrasings). With ``dense`` (the
        rows' embeddings) the kernel is x.x' + γ d.d' (γ = ``dense_scorer_weight``; the dense Gram term is one
        BLAS product per FAQ) and the weights get the embedding dimensions after the features, scaled by √γ as
        :meth:`_scaled_dense` scales a query's embedding.
        """
        n_groups, n_rows = len(self.keys), x.shape[0]
        bias = np.full(n_groups, -1.0)
        if n_groups < 2 or n_rows == 0:
            return sp.csr_matrix((n_groups, x.shape[1]), dtype=np.float32), bias
        rng = np.random.default_rng(self.random_state)
        order, starts = group_bounds(row_group, n_groups)
        hard = self._confusable(centroids, _HARD_GROUPS)
        lam = self.ridge_alpha

        def capped(rows: NDArray[np.int64], cap: int) -> NDArray[np.int64]:
            return rows if len(rows) <= cap else rng.choice(rows, size=cap, replace=False)

        # Sample every FAQ's problem first (deterministic), then solve them on a small thread pool: the sparse
        # products and LAPACK release the GIL.
        problems: list[tuple[int, NDArray[np.int64], int]] = []
        for g in range(n_groups):
            # Caps keep every system small (≤ ~450 rows) when FAQs have hundreds of phrasings.
            pos = capped(order[starts[g] : starts[g + 1]], _MAX_POSITIVES)
            if len(pos) == 0:
                continue
            if extra is not None:
                more = np.flatnonzero(extra[1] == g) + n_rows
                pos = np.concatenate([pos, capped(more, max(_MAX_POSITIVES - len(pos), 0))])
            neg_parts = [capped(order[starts[h] : starts[h + 1]], _MAX_PER_HARD_GROUP) for h in hard[g] if h != g]
            neg_parts.append(rng.choice(n_rows, size=min(_RANDOM_NEGATIVES, n_rows), replace=False))
            neg = np.unique(np.concatenate(neg_parts))
            neg = neg[row_group[neg] != g]
            if len(neg):
                problems.append((g, np.concatenate([pos, neg]), len(pos)))

        loo = self._loo_mask
        shifts: list[tuple[int, NDArray[np.int64], NDArray[np.float64]]] = []

        def solve(batch: list[tuple[int, NDArray[np.int64], int]]) -> list[NDArray[np.float64]]:
            out = []
            for g, idx, n_pos in batch:
                y = np.full(len(idx), -1.0)
                y[:n_pos] = 1.0
                # Balanced sample weights (as class_weight="balanced"): each class carries half the loss.
                c = np.where(y > 0, len(idx) / (2.0 * n_pos), len(idx) / (2.0 * (len(idx) - n_pos)))
                sub = x[idx]
                gram = np.asarray((sub @ sub.T).toarray(), dtype=np.float64) + 1.0  # + constant (bias) feature
                if dense is not None:
                    emb = np.asarray(dense[idx], dtype=np.float64)
                    gram += self.dense_scorer_weight * (emb @ emb.T)
                gram[np.diag_indices_from(gram)] += lam / c
                if loo is None:
                    out.append(np.linalg.solve(gram, y))
                else:
                    alpha, shift = self._loo_solve(gram, y, lam / c, idx, loo)
                    out.append(alpha)
                    shifts.append((g, idx[shift[0]], shift[1]))  # list.append is atomic across the pool's threads
            return out

        if extra is not None and extra[0].shape[0]:
            x = sp.vstack([x, extra[0]]).tocsr()
        batches = [problems[i : i + 64] for i in range(0, len(problems), 64)]
        workers = max(1, min(_SOLVER_THREADS, os.cpu_count() or 1, len(batches)))
        # Tiny systems: BLAS threads only add contention. The limit is process-wide, so it is set once here, around
        # the whole pool (never inside the workers), and concurrent builds take turns so none restores another's.
        with _SOLVER_LOCK, threadpool_limits(1):
            if workers > 1:
                with ThreadPoolExecutor(workers, thread_name_prefix="kefu-ranker") as pool:
                    alphas = [a for chunk in pool.map(solve, batches) for a in chunk]
            else:
                alphas = [a for batch in batches for a in solve(batch)]
        if loo is not None:
            self._loo_shift = self._shift_matrix(shifts, n_rows, n_groups)
        coef_rows = [np.full(len(idx), g, dtype=np.int64) for g, idx, _ in problems]
        coef_cols = [idx for _, idx, _ in problems]
        coef_vals = alphas
        for (g, _, _), alpha in zip(problems, alphas, strict=True):
            bias[g] = float(alpha.sum())
        if not coef_vals:
            return sp.csr_matrix((n_groups, x.shape[1]), dtype=np.float32), bias
        coef = sp.csr_matrix(
            (np.concatenate(coef_vals), (np.concatenate(coef_rows), np.concatenate(coef_cols))),
            shape=(n_groups, x.shape[0]),
        )
        weights = (coef @ x.astype(np.float64)).tocsr()
        weights.data[np.abs(weights.data) < _PRUNE] = 0.0
        weights.eliminate_zeros()
        if dense is not None:
            dense_part = np.sqrt(self.dense_scorer_weight) * np.asarray(coef @ np.asarray(dense, dtype=np.float64))
            weights = sp.hstack([weights, sp.csr_matrix(dense_part)], format="csr")
        return weights.astype(np.float32), bias

    @staticmethod
    def _loo_solve(
        gram: NDArray[np.float64],
        y: NDArray[np.float64],
        ridge: NDArray[np.float64],
        idx: NDArray[np.int64],
        loo: NDArray[np.bool_],
    ) -> tuple[NDArray[np.float64], tuple[NDArray[np.int64], NDArray[np.float64]]]:
        """One scorer's dual coefficients and, for its sample rows marked in ``loo``, how much higher the fitted
        scorer rates each row than the same scorer fitted without it (exact for this regularised least squares).

        With G = K + 1 + D (D the ridge diagonal) and a = G⁻¹y, the fitted value of row i is y_i − D_ii a_i and its
        leave-one-out value y_i − a_i / (G⁻¹)_ii (the kernel-ridge identity), so the shift is a_i (1 / (G⁻¹)_ii −
        D_ii). Only the marked columns of G⁻¹ are solved for, from one Cholesky factor.
        """
        n_rows = len(loo)
        sel = np.flatnonzero((idx < n_rows) & loo[np.minimum(idx, n_rows - 1)])
        if not len(sel):
            return np.asarray(np.linalg.solve(gram, y), dtype=np.float64), (sel.astype(np.int64), np.empty(0))
        factor = cho_factor(gram, check_finite=False)
        rhs = np.zeros((len(y), len(sel) + 1))
        rhs[:, 0] = y
        rhs[sel, np.arange(1, len(sel) + 1)] = 1.0
        z = cho_solve(factor, rhs, check_finite=False)
        alpha = np.asarray(z[:, 0], dtype=np.float64)
        inv_diag = z[sel, np.arange(1, len(sel) + 1)]
        return alpha, (sel.astype(np.int64), alpha[sel] * (1.0 / inv_diag - ridge[sel]))

    @staticmethod
    def _shift_matrix(
        shifts: Sequence[tuple[int, NDArray[np.int64], NDArray[np.float64]]], n_rows: int, n_groups: int
    ) -> sp.csr_matrix:
        """(rows x groups) served-minus-leave-one-out scorer values from the per-FAQ shifts."""
        rows = [r for _, r, _ in shifts]
        if not rows or not sum(len(r) for r in rows):
            return sp.csr_matrix((n_rows, n_groups))
        cols = [np.full(len(r), g, dtype=np.int64) for g, r, _ in shifts]
        vals = [v for _, _, v in shifts]
        return sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_groups)
        )

    @staticmethod
    def _confusable(centroids: sp.csr_matrix, m: int) -> list[NDArray[np.int64]]:
        """The m most similar other FAQs of each FAQ (by centroid cosine), computed in chunks."""
        n = centroids.shape[0]
        out: list[NDArray[np.int64]] = []
        ct = centroids.T.tocsc()
        for start in range(0, n, _CHUNK):
            block = np.asarray((centroids[start : start + _CHUNK] @ ct).toarray())
            for i, row in enumerate(block):
                row[start + i] = -1.0
                k = min(m, n - 1)
                out.append(np.argpartition(-row, k - 1)[:k] if k > 0 else np.empty(0, dtype=np.int64))
        return out

    # ------------------------------------------------------------------ scoring

    def _signals(
        self, parts: _Parts, q: sp.csr_matrix, qd: NDArray[np.float32] | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(nn + centroid per group, similarity per phrasing row) for each query row."""
        nn, cen, sims = self._nn_centroid(parts, q, qd)
        return nn + self.centroid_weight_ * cen, sims

    def _nn_centroid(
        self, parts: _Parts, q: sp.csr_matrix, qd: NDArray[np.float32] | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(nn per group, centroid cosine per group, similarity per phrasing row) for each query row."""
        n_groups = len(self.keys)
        dense = qd is not None and parts.dense is not None and parts.dense_centroids is not None
        w = self.dense_weight if dense else 0.0
        if w == 1.0:
            # The sparse cosines would be weighted 0 (finite, so 0 x them adds exactly 0): skip both products.
            sims = np.zeros((q.shape[0], parts.matrix_t.shape[1]))
            cen = np.zeros((q.shape[0], parts.centroids_t.shape[1]))
        else:
            sims = np.asarray((q @ parts.matrix_t).toarray(), dtype=np.float64)
            cen = np.asarray((q @ parts.centroids_t).toarray(), dtype=np.float64)
        if dense:
            assert qd is not None and parts.dense is not None and parts.dense_centroids is not None
            sims = (1 - w) * sims + w * (qd @ parts.dense.T)
            cen = (1 - w) * cen + w * (qd @ parts.dense_centroids.T)
        nn = np.full((q.shape[0], n_groups), -1.0)
        order = parts.order
        if len(order):
            grp = parts.row_group[order]
            # Phrasings are stored FAQ by FAQ, so ``order`` is usually the identity: skip copying the rows then.
            ordered = sims if parts.sorted_rows else sims[:, order]
            nn[:, grp[parts.starts]] = self._nearest(ordered, parts.starts)
        return nn, cen, sims

    def _nearest(self, ordered: NDArray[np.float64], starts: NDArray[np.int64]) -> NDArray[np.float64]:
        """Per FAQ segment of ``ordered`` (rows x phrasings, grouped): the best similarity; with ``nn2_weight`` w,
        (1 - w) x the best + w x the mean of the best two (one phrasing, or a tie: the best twice)."""
        best = np.maximum.reduceat(ordered, starts, axis=1)
        if not self.nn2_weight:
            return best
        seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, ordered.shape[1]]))
        top = ordered >= best[:, seg]
        rest = np.maximum.reduceat(np.where(top, -np.inf, ordered), starts, axis=1)
        ties = np.add.reduceat(top.astype(np.int64), starts, axis=1) >= 2
        second = np.where(ties | ~np.isfinite(rest), best, rest)
        return (1.0 - 0.5 * self.nn2_weight) * best + 0.5 * self.nn2_weight * second

    def _scaled_dense(self, dense: NDArray[np.float32] | None) -> NDArray[np.float64]:
        """Query embeddings scaled by √γ, as the dense-aware scorers' embedding weights expect them."""
        if dense is None:
            raise RuntimeError("these scorers were fitted with dense embeddings; the query has none")
        return np.asarray(np.sqrt(self.dense_scorer_weight) * np.asarray(dense, dtype=np.float64), dtype=np.float64)

    def _group_signals(
        self, parts: _Parts, q: sp.csr_matrix, qd: NDArray[np.float32] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64]]:
        """(svm score, decisive-word hits, decisive-word count) of every group for each query row."""
        svm_all = np.asarray((q @ parts.weights_t).toarray(), dtype=np.float64) + parts.bias
        if parts.dense_weights is not None:
            svm_all += self._scaled_dense(qd) @ parts.dense_weights
        n_words = np.zeros(q.shape[0])
        hits = None
        if parts.group_words_t is not None and len(parts.word_cols):
            words = (q[:, parts.word_cols] > 0).astype(np.float32)
            n_words = np.asarray(words.sum(axis=1), dtype=np.float64).ravel()
            if n_words.any():
                hits = np.asarray((words @ parts.group_words_t).toarray(), dtype=np.float64)
        return svm_all, hits, n_words

    def _rerank_parts(
        self,
        parts: _Parts,
        q: sp.csr_matrix,
        base: NDArray[np.float64],
        exclude: NDArray[np.int64] | None = None,
        signals: tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64]] | None = None,
        qd: NDArray[np.float32] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Top ``depth`` groups per query by base score, with their base, svm and coverage signals.

        ``signals`` (from :meth:`_group_signals`) lets calibration rank the same queries twice (covered and with
        their FAQ removed) for the price of one product with the scorer matrix.
        """
        base = base.copy()
        if exclude is not None:
            base[np.arange(len(base)), exclude] = -np.inf
        k = min(self.depth, base.shape[1])
        top = np.argpartition(-base, k - 1, axis=1)[:, :k]
        b = np.take_along_axis(base, top, axis=1)
        svm_all, hits, n_words = signals if signals is not None else self._group_signals(parts, q, qd)
        svm = np.take_along_axis(svm_all, top, axis=1)
        cov = np.ones_like(b)
        if hits is not None:
            share = np.take_along_axis(hits, top, axis=1) / np.maximum(n_words, 1.0)[:, None]
            cov = np.where(n_words[:, None] > 0, share, 1.0)
        return top, b, svm, cov

    def _combine(
        self,
        b: NDArray[np.float64],
        svm: NDArray[np.float64],
        cov: NDArray[np.float64],
        a: float,
        c: float,
        knn: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        linear = b + a * svm + c * (cov - 1.0)
        if self.rerank_coef_ is None:
            return linear
        if knn is None:
            knn = np.zeros_like(b)
        feats = self._rerank_features(b, svm, cov, linear, knn)
        return self._rerank_score(feats, np.asarray(self.rerank_coef_), b)

    @staticmethod
    def _rerank_features(
        b: NDArray[np.float64],
        svm: NDArray[np.float64],
        cov: NDArray[np.float64],
        linear: NDArray[np.float64],
        knn: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Per candidate (rows x depth x features): nn + centroid, svm, coverage, the grid's linear score, the
        reciprocal rank of each of the three in the list, the svm's positive part and the kNN vote."""
        finite = np.isfinite(b)
        b0 = np.where(finite, b, 0.0)
        lin0 = np.where(finite, linear, 0.0)

        def rr(v: NDArray[np.float64]) -> NDArray[np.float64]:
            order = np.argsort(-np.where(finite, v, -np.inf), axis=1, kind="stable")
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(v.shape[1])[None, :].repeat(len(v), axis=0), axis=1)
            return np.asarray(1.0 / (1.0 + rank), dtype=np.float64)

        feats = [b0, svm, cov, lin0, rr(b0), rr(svm), rr(lin0), np.maximum(svm, 0.0), knn]
        return np.stack(feats, axis=-1)

    @staticmethod
    def _rerank_score(
        feats: NDArray[np.float64], coef: NDArray[np.float64], b: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return np.where(np.isfinite(b), feats @ coef, -np.inf)

    @staticmethod
    def _fit_rerank(feats: NDArray[np.float64], target: NDArray[np.int64]) -> NDArray[np.float64]:
        """Conditional-logit weights: softmax over each query's candidates, the right one (``target``) as label."""
        n, _, d = feats.shape
        scale = np.maximum(feats.reshape(-1, d).std(axis=0), 1e-6)
        x = feats / scale
        rows = np.arange(n)

        def loss(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            z = x @ w
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            nll = -float(np.sum(np.log(p[rows, target] + 1e-300))) / n + _RERANK_L2 * float(w @ w)
            grad = (np.einsum("nk,nkd->d", p, x) - x[rows, target].sum(axis=0)) / n + 2 * _RERANK_L2 * w
            return nll, grad

        start = np.zeros(d)
        start[3] = 1.0 * scale[3]  # the grid's score: the ranking it starts from
        res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 200})
        return np.asarray(res.x / scale, dtype=np.float64)

    def _choose_rerank(
        self, top: NDArray[np.int64], truth: NDArray[np.int64], linear_feats: NDArray[np.float64], seed: int
    ) -> tuple[NDArray[np.float64] | None, dict[str, float]]:
        """Cross-validate the learned reranker on the held-out queries against the grid's ranking (its top-1 on the
        same queries); the weights fitted on every query when it wins, else None."""
        hit = top == truth[:, None]
        inside = hit.any(axis=1)
        idx = np.flatnonzero(inside)
        target = hit.argmax(axis=1)
        rows = np.arange(len(top))
        grid_top1 = float(np.mean(hit[rows, linear_feats[:, :, 3].argmax(axis=1)]))
        if len(idx) < 10 * _RERANK_FOLDS or linear_feats.shape[1] < 2:
            return None, {"grid": round(grid_top1, 4)}
        fold = np.random.default_rng([seed, 14]).permutation(len(top)) % _RERANK_FOLDS
        pred = np.zeros(len(top), dtype=bool)
        for k in range(_RERANK_FOLDS):
            tr = idx[fold[idx] != k]
            te = np.flatnonzero(fold == k)
            w = self._fit_rerank(linear_feats[tr], target[tr])
            pred[te] = hit[te, (linear_feats[te] @ w).argmax(axis=1)]
        cv_top1 = float(np.mean(pred))
        info = {"grid": round(grid_top1, 4), "learned": round(cv_top1, 4)}
        if cv_top1 < grid_top1 + _RERANK_MIN_GAIN:
            return None, info
        return self._fit_rerank(linear_feats[idx], target[idx]), info

    @staticmethod
    def _conf_features(
        score: NDArray[np.float64],
        b: NDArray[np.float64],
        svm: NDArray[np.float64],
        cov: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Per candidate (rows x depth, best first along axis 1): score, margin, own svm, nn+centroid, coverage.

        The margin is the leader's lead over the runner-up, and for the others their (negative) gap to the leader.
        """
        margin = score - score[:, :1]
        if score.shape[1] > 1:
            margin[:, 0] = score[:, 0] - score[:, 1]
        return np.stack([score, margin, svm, b, cov], axis=-1)

    def _confidence(self, feats: NDArray[np.float64]) -> NDArray[np.float64]:
        coef, intercept = self.curve_
        z = np.asarray(feats) @ np.asarray(coef) + intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    # ------------------------------------------------------------------ calibration

    def _calibrate(
        self, x: sp.csr_matrix, dense: NDArray[np.float32] | None
    ) -> tuple[sp.csr_matrix, NDArray[np.float64]] | None:
        """Hold out one phrasing per multi-phrasing FAQ; pick weights and thresholds on those held-out ranks."""
        rng = np.random.default_rng(self.random_state)
        counts = np.bincount(self._row_group, minlength=len(self.keys))
        candidates = [g for g in range(len(self.keys)) if counts[g] >= 2]
        strict = {g for g, k in enumerate(self.keys) if self.strict_prefix and k.startswith(self.strict_prefix)}
        # An imported FAQ list has one phrasing per FAQ: nothing to hold out, so its FAQs are queried with
        # pseudo-queries made from their own question (which stays indexed: it is the FAQ's only phrasing).
        pseudo_groups: list[int] = []
        if len([g for g in candidates if g not in strict]) < _MIN_HOLDOUT_FAQS:
            singles = [g for g in range(len(self.keys)) if counts[g] == 1 and g not in strict]
            if len(singles) >= _MIN_HOLDOUT_FAQS:
                if len(singles) > _MAX_HOLDOUT:
                    singles = sorted(rng.choice(singles, size=_MAX_HOLDOUT, replace=False).tolist())
                pseudo_groups = singles
        if (len(candidates) < _MIN_HOLDOUT_FAQS and not pseudo_groups) or len(self.keys) < 3:
            self.cv_ = {"holdout": 0}
            return None
        if len(candidates) > _MAX_HOLDOUT:
            candidates = sorted(rng.choice(candidates, size=_MAX_HOLDOUT, replace=False).tolist())
        # At least one phrasing per FAQ; more per FAQ when there are few FAQs (up to 20% of the phrasings).
        target = min(_MAX_HOLDOUT, max(len(candidates), int(len(self._row_group) * self.holdout_share)))
        per_group = max(1, -(-target // max(len(candidates), 1)))
        use = candidates if len(candidates) >= _MIN_HOLDOUT_FAQS else []
        held_rows: list[int] = []
        for g in use:
            own = np.flatnonzero(self._row_group == g)
            held_rows.extend(rng.choice(own, size=min(per_group, len(own) - 1), replace=False).tolist())
        held = np.array(sorted(held_rows), dtype=np.int64)
        train = np.setdiff1d(np.arange(len(self._row_group)), held)
        # Round 11: the served scorers themselves, each held-out query scored as if they were fitted without it.
        exact_loo = (
            self.loo_calibration
            and self.serving_calibration
            and not self.bagging
            and not pseudo_groups
            and dense is None
            and len(held) > 0
            and len(self._row_group) <= self.refit_limit
        )
        parts = self._loo_parts(x, held, use, per_group) if exact_loo else self._fit_parts(x, dense, train)
        truth = np.concatenate([self._row_group[held], np.asarray(pseudo_groups, dtype=np.int64)])
        queries, qdense = x[held], dense[held] if dense is not None else None
        if pseudo_groups:
            assert self._featurizer is not None
            style = self.pseudo_style
            if style == "both":
                pseudo_groups = pseudo_groups + pseudo_groups
                truth = np.concatenate([self._row_group[held], np.asarray(pseudo_groups, dtype=np.int64)])
            source = [self._texts[int(np.flatnonzero(self._row_group == g)[0])] for g in pseudo_groups]
            half = len(source) // 2 if style == "both" else (len(source) if style == "drop" else 0)
            sounds = kb_sounds(self._texts) if half < len(source) else {}
            texts = [pseudo_query(t, rng) if i < half else noisy_query(t, rng, sounds) for i, t in enumerate(source)]
            queries = sp.vstack([queries, l2_rows(self._featurizer.transform(texts))]).tocsr()
            if dense is not None and self.encoder is not None:
                qdense = np.vstack([dense[held], l2_normalize(self.encoder.encode(texts))])
        # Serving-matched calibration: rank the held-out phrasings against the index as served (every phrasing, these
        # fold scorers) with only the query's own phrasing left out, so nn/centroid/coverage see as many phrasings as
        # they will for a customer's question (see docs/DEVELOPING.md, round 5).
        # Dense embeddings join the serving-matched path too (nearest phrasing and centroid, leave-one-out in both
        # spaces; docs/DEVELOPING.md, round 12), except with the options whose leave-one-out is sparse-only.
        loo = (
            self.serving_calibration
            and not pseudo_groups
            and len(held) > 0
            and (dense is None or not (self.dense_fold_calibration or self.bagging or self.twin_cutoff is not None))
        )
        self._served = None
        self._dense_rows = dense if loo else None
        # Bagging: every fold's scorers are kept and their mean is served; the folds are ranked at the end (below).
        bag = self.bagging and loo
        folds = [held]
        fold_scorers = [(scorer_weights(parts), parts.bias)]
        ranked: list[list[NDArray[Any]]] = []
        if exact_loo:
            self._served = parts  # already over every phrasing, with the scorers that are served
        elif loo and not bag:
            self._served = parts = self._served_parts(x, parts)  # same scorers; the fold's index is freed
            ranked = [self._rank_loo(self._served, x, held)]
        elif not loo:
            ranked = [self._rank_heldout(parts, queries, qdense, truth)]
        # Complementary folds (disjoint held-out phrasings, each scored by parts fitted without them) while the
        # held-out sample is small: one fold's sample moves the right rate by about a point, the pooled folds
        # describe the served scorers (fold 1's, all fitted on as many phrasings) more steadily.
        fold_rng = np.random.default_rng([self.random_state, 1])
        total = len(truth)
        n_folds = 1
        taken = np.zeros(len(self._row_group), dtype=bool)
        taken[held] = True
        while not exact_loo and n_folds < self.calibration_folds and len(held) and total < _MAX_HOLDOUT:
            fold = self._draw_fold(use, per_group, taken, fold_rng)
            if fold is None:
                break
            fold_truth = self._row_group[fold]
            if bag:
                folds.append(fold)
                fold_scorers.append(self._fold_scorers(x, [fold]))
            else:
                fold_parts = self._fit_parts(x, dense, np.setdiff1d(np.arange(len(self._row_group)), fold))
                ranked.append(
                    self._rank_loo(self._served_parts(x, fold_parts), x, fold)
                    if loo
                    else self._rank_heldout(fold_parts, x[fold], dense[fold] if dense is not None else None, fold_truth)
                )
            truth = np.concatenate([truth, fold_truth])
            total += len(fold)
            n_folds += 1
        if bag:
            self._served = parts = self._bagged_ranks(x, parts, folds, fold_scorers, ranked)
        if exact_loo:
            ranked, truth = self._loo_ranked(x, parts)
            total, n_folds = len(truth), len(ranked)
        top, b, s, c, cen, ub, us, uc, ucen = (np.vstack([r[i] for r in ranked]) for i in range(9))
        knn = uknn = None
        if self.learned_rerank and all(len(r) == 11 for r in ranked):
            knn, uknn = (np.vstack([r[i] for r in ranked]) for i in (9, 10))
        best: tuple[float, float, float, float] | None = None
        grid: dict[str, float] = {}
        # The centroid's weight in nn + w x centroid (``centroid_grid``: picked here too, among the candidates ranked
        # with ``centroid_weight``); the first weight wins ties, so list the default first.
        ranked_with = self.centroid_weight_
        for wc in self.centroid_grid or (ranked_with,):
            bw = b + (wc - ranked_with) * cen if wc != ranked_with else b
            for a in self.svm_grid:
                for cw in self.coverage_grid:
                    score = self._combine(bw, s, c, a, cw)
                    acc = float(np.mean(top[np.arange(len(top)), score.argmax(axis=1)] == truth))
                    name = f"svm={a},coverage={cw}" + (f",centroid={wc}" if self.centroid_grid else "")
                    grid[name] = round(acc, 4)
                    if best is None or acc > best[0] + 1e-9:
                        best = (acc, a, cw, wc)
        assert best is not None
        _, self.svm_weight_, self.coverage_weight_, chosen = best
        if chosen != ranked_with:
            b, ub = b + (chosen - ranked_with) * cen, ub + (chosen - ranked_with) * ucen
            self.centroid_weight_ = chosen
        rerank_cv: dict[str, float] = {}
        if self.learned_rerank:
            linear = self._combine(b, s, c, self.svm_weight_, self.coverage_weight_)
            feats = self._rerank_features(b, s, c, linear, knn if knn is not None else np.zeros_like(b))
            learned, rerank_cv = self._choose_rerank(top, truth, feats, self.random_state)
            self.rerank_coef_ = tuple(float(v) for v in learned) if learned is not None else None
        # The learned score has its own scale: if no sensible confidence curve fits it, serve the grid's score.
        for _ in range(2):
            score = self._combine(b, s, c, self.svm_weight_, self.coverage_weight_, knn)
            uscore = self._combine(ub, us, uc, self.svm_weight_, self.coverage_weight_, uknn)
            order = np.argsort(-score, axis=1)
            rows = np.arange(len(top))
            right = top[rows, order[:, 0]] == truth
            in3 = (top[rows[:, None], order[:, :3]] == truth[:, None]).any(axis=1)
            f = self._conf_features(*(np.take_along_axis(v, order, axis=1) for v in (score, b, s, c)))[:, 0]
            uorder = np.argsort(-uscore, axis=1)
            fu = self._conf_features(*(np.take_along_axis(v, uorder, axis=1) for v in (uscore, ub, us, uc)))[:, 0]
            feats = np.vstack([f, fu])
            ys = np.concatenate([right.astype(int), np.zeros(len(fu), dtype=int)])
            ws = np.concatenate([np.ones(len(f)), np.full(len(fu), _UNCOVERED_WEIGHT)])
            if len(set(ys.tolist())) == 2:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    lr = LogisticRegression(C=100.0, max_iter=1000).fit(feats, ys, sample_weight=ws)
                coef = tuple(float(v) for v in lr.coef_[0])
                # Confidence must grow with the score and the lead (else the fit is noise: keep the default curve).
                if coef[0] > 0 and coef[1] >= 0:
                    self.curve_ = (coef, float(lr.intercept_[0]))
                    break
            if self.rerank_coef_ is None:
                break
            self.rerank_coef_ = None
            rerank_cv["dropped"] = 1.0
        p = self._confidence(f)
        pu = self._confidence(fu)
        # Pseudo-queries are easier than real ones (made from the indexed text), so their covered wrong rate says
        # little; a real question whose FAQ the ranker misses looks like an uncovered one, hence the tighter limit.
        uncovered_cap = self.max_uncovered_rate
        if pseudo_groups:
            uncovered_cap = min(uncovered_cap if uncovered_cap is not None else 1.0, self.pseudo_uncovered_rate)
        # As the policy decides: a small-talk leader is a small-talk reply, never a wrong FAQ answer, and the wrong
        # rate is over questions for an FAQ (small-talk queries answered with an FAQ still count as wrong).
        bad, n_covered = ~right, len(p)
        if self.policy_limits and strict:
            strict_ids = np.fromiter(strict, dtype=np.int64)
            bad = ~right & ~np.isin(top[rows, order[:, 0]], strict_ids)
            n_covered = max(1, int(np.sum(~np.isin(truth, strict_ids))))
        self._choose_thresholds(p, f, right, in3, bad, n_covered, pu, fu, uncovered_cap)
        answered = p >= self.answer_threshold_
        self.cv_ = {
            "holdout": len(held),
            "folds": n_folds,
            "calibration_queries": int(total),
            "pseudo": len(pseudo_groups),
            "top1": round(float(np.mean(right)), 4),
            "top3": round(float(np.mean(in3)), 4),
            "grid": grid,
            "answered_right": round(float(np.mean(answered & right)), 4),
            "answered_wrong": round(float(np.mean(answered & ~right)), 4),
            "uncovered_answered": round(float(np.mean(pu >= self.answer_threshold_)), 4),
            "margin_rule": self.margin_rule_,
            "bagged": len(folds) if bag and len(folds) > 1 else 0,
            "loo_scorers": exact_loo,
            "rerank": rerank_cv,
        }
        return scorer_weights(parts), parts.bias

    def _choose_thresholds(
        self,
        p: NDArray[np.float64],
        f: NDArray[np.float64],
        right: NDArray[np.bool_],
        in3: NDArray[np.bool_],
        bad: NDArray[np.bool_],
        n_covered: int,
        pu: NDArray[np.float64],
        fu: NDArray[np.float64],
        uncovered_cap: float | None,
    ) -> None:
        """Answer threshold, margin rule and clarify threshold from the held-out queries' confidences.

        ``p``/``pu``: the leader's confidence of each covered / uncovered held-out query; ``f``/``fu``: its curve
        inputs (score, margin, …, see :meth:`_conf_features`).
        """
        self.answer_threshold_ = self._answer_threshold(p, bad, pu, uncovered_cap, n_covered)
        self.margin_rule_ = (
            self._margin_rule(p, f[:, 1], right, bad, n_covered, pu, fu[:, 1], uncovered_cap)
            if self.margin_rule
            else None
        )
        # Clarify when the right FAQ is likely among the top 3: keep 95% of such held-out cases.
        reachable = in3 & ~(right & (p >= self.answer_threshold_))
        reach = p[reachable]
        floor = float(np.quantile(reach, self.clarify_quantile)) if len(reach) else 0.1
        self.clarify_threshold_ = float(min(max(floor, 0.02), self.answer_threshold_))
        # By the leader's score instead (see search): the confidence says whether the leader is right, not whether
        # the right FAQ is among the first three; the score (how well the FAQs match at all) says that better.
        self.clarify_score_ = (
            float(np.quantile(f[reachable, 0], self.clarify_quantile))
            if self.clarify_by_score and np.any(reachable) and self.clarify_threshold_ < self.answer_threshold_
            else None
        )

    def _draw_fold(
        self, use: Sequence[int], per_group: int, taken: NDArray[np.bool_], rng: np.random.Generator
    ) -> NDArray[np.int64] | None:
        """A further calibration fold, marked taken: ≤ per_group untaken rows per FAQ, never all (None: none left)."""
        fold_rows: list[int] = []
        for g in use:
            own = np.flatnonzero(self._row_group == g)
            free = own if self.calibration_resample else own[~taken[own]]
            size = min(per_group, len(own) - 1, len(free))
            if size > 0:
                fold_rows.extend(rng.choice(free, size=size, replace=False).tolist())
        if not fold_rows:
            return None
        fold = np.array(sorted(fold_rows), dtype=np.int64)
        taken[fold] = True
        return fold

    def _loo_parts(self, x: sp.csr_matrix, held: NDArray[np.int64], use: Sequence[int], per_group: int) -> _Parts:
        """``loo_calibration``: the parts served (every phrasing, scorers refitted on all of them), with the
        leave-one-out shift of every calibration query's scorer values (:meth:`_loo_solve`).

        The calibration folds are drawn as the fold-scorer path draws them (``held`` and up to
        ``calibration_folds`` - 1 more disjoint folds while under the query budget) but cost no scorer fit each: the
        one fit that is served also yields every query's leave-one-out values (docs/DEVELOPING.md, round 11). With
        ``pseudo_positives`` a query's word-dropout copies stay in its scorer (only the phrasing itself is left out).
        """
        n = len(self._row_group)
        fold_rng = np.random.default_rng([self.random_state, 1])
        folds, total = [held], len(held)
        taken = np.zeros(n, dtype=bool)
        taken[held] = True
        while len(folds) < self.calibration_folds and total < _MAX_HOLDOUT:
            fold = self._draw_fold(use, per_group, taken, fold_rng)
            if fold is None:
                break
            folds.append(fold)
            total += len(fold)
        self._loo_folds = folds
        self._loo_mask = taken
        try:
            return self._fit_parts(x, None, np.arange(n))
        finally:
            self._loo_mask = None

    def _loo_ranked(self, x: sp.csr_matrix, parts: _Parts) -> tuple[list[list[NDArray[Any]]], NDArray[np.int64]]:
        """Every ``loo_calibration`` fold ranked against the served parts, nothing of the query's own phrasing
        seen (nearest phrasing, centroid and coverage as in :meth:`_rank_loo`, the scorers by their LOO shift)."""
        folds, self._loo_folds = self._loo_folds, []
        try:
            ranked = [self._rank_loo(parts, x, fold) for fold in folds]
        finally:
            self._loo_shift = None
        return ranked, np.concatenate([self._row_group[f] for f in folds])

    def _fold_scorers(
        self, x: sp.csr_matrix, held_out: Sequence[NDArray[np.int64]]
    ) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
        """Per-FAQ scorers (groups x features, bias) fitted on every phrasing except the ``held_out`` rows."""
        rows = np.setdiff1d(np.arange(x.shape[0]), np.concatenate(held_out))
        sub = x[rows]
        row_group = self._row_group[rows]
        member = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (row_group, np.arange(len(rows)))),
            shape=(len(self.keys), len(rows)),
        )
        return self._fit_svms(sub, row_group, l2_rows(member @ sub).tocsr())

    @staticmethod
    def _mean_scorers(
        scorers: Sequence[tuple[sp.csr_matrix, NDArray[np.float64]]],
    ) -> tuple[sp.csr_matrix, NDArray[np.float64]]:
        """The mean of linear scorers (weights and bias): one linear scorer."""
        weights = scorers[0][0].astype(np.float64)
        for w, _ in scorers[1:]:
            weights = weights + w.astype(np.float64)
        mean = (weights / len(scorers)).tocsr()
        mean.eliminate_zeros()
        return mean.astype(np.float32), np.mean([b for _, b in scorers], axis=0)

    def _bagged_ranks(
        self,
        x: sp.csr_matrix,
        first: _Parts,
        folds: list[NDArray[np.int64]],
        fold_scorers: list[tuple[sp.csr_matrix, NDArray[np.float64]]],
        ranked: list[list[NDArray[Any]]],
    ) -> _Parts:
        """Served parts with the mean of the fold scorers; appends each fold's leave-one-out ranks to ``ranked``.

        A phrasing of fold k was trained on by every fold scorer but fold k's, so the served mean has seen it. It is
        ranked instead with the mean of K scorers that never saw it: fold k's own, and in place of every other
        fold j's, one refitted without fold j and fold k (the bag member as it would be had fold k been missing).
        With a single fold there is nothing to average: fold 1's scorers are served, as without bagging.
        """
        if len(folds) == 1:
            served = self._served_parts(x, first)
            ranked.append(self._rank_loo(served, x, folds[0]))
            return served
        served = self._fit_parts(x, None, np.arange(x.shape[0]), self._mean_scorers(fold_scorers))
        pairs: dict[tuple[int, int], tuple[sp.csr_matrix, NDArray[np.float64]]] = {}
        for k, fold in enumerate(folds):
            others = [fold_scorers[k]]
            for j in range(len(folds)):
                if j != k:
                    key = (min(j, k), max(j, k))
                    if key not in pairs:
                        pairs[key] = self._fold_scorers(x, [folds[j], fold])
                    others.append(pairs[key])
            weights, bias = self._mean_scorers(others)
            blind = dataclasses.replace(served, weights_t=weights.T.tocsr(), bias=bias)
            ranked.append(self._rank_loo(blind, x, fold))
        return served

    def _served_parts(self, x: sp.csr_matrix, parts: _Parts) -> _Parts:
        """Parts over every phrasing with the scorers of ``parts`` (what is served when ``parts`` is fold 1)."""
        return self._fit_parts(x, self._dense_rows, np.arange(x.shape[0]), (scorer_weights(parts), parts.bias))

    def _rank_loo(self, full: _Parts, x: sp.csr_matrix, held: NDArray[np.int64]) -> list[NDArray[Any]]:
        """As :meth:`_rank_heldout`, but against parts over every phrasing, each query's own phrasing left out.

        The scorers of ``full`` were fitted without ``held``; nearest phrasing, centroid and decisive-word coverage
        drop the query's own row (its centroid contribution is subtracted, a word only it has does not count). With
        ``twin_cutoff`` they also drop the query's near-twins (see :meth:`_twins`), as if the group were missing.
        """
        truth = self._row_group[held]
        n_groups = len(self.keys)
        member = sp.csr_matrix(
            (np.ones(x.shape[0]), (self._row_group, np.arange(x.shape[0]))), shape=(n_groups, x.shape[0])
        )
        sums = member @ x
        norms = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1)).ravel())
        counts = total = present = None
        if full.group_words_t is not None and len(full.word_cols):
            present = (x[:, full.word_cols] > 0).astype(np.float64).tocsr()
            counts = (member @ present).tocsr()  # groups x decisive words: phrasings containing the word
            total = np.asarray(present.sum(axis=0)).ravel()
        # Each phrasing's dot product with its own FAQ's phrasing sum (to take hidden twins out of the centroid).
        faq_rows = group_bounds(self._row_group, n_groups) if self.twin_cutoff is not None else None
        own_dot = self._own_dots(x, sums, faq_rows) if faq_rows is not None else None
        dense_norms = self._dense_norms(full) if full.dense is not None and self._dense_rows is not None else None
        results: list[Any] = []
        uncovered: list[Any] = []
        knns: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
        for start in range(0, len(held), _CHUNK):
            rows = held[start : start + _CHUNK]
            own = truth[start : start + _CHUNK]
            idx = np.arange(len(rows))
            q = x[rows]
            sims = np.asarray((q @ full.matrix_t).toarray(), dtype=np.float64)
            twins = self._twins(sims, rows, own, faq_rows) if faq_rows is not None else None
            sims[idx, rows] = -np.inf  # full.rows is every row, in order
            nn = np.full((len(rows), n_groups), -1.0)
            cen = np.asarray((q @ full.centroids_t).toarray(), dtype=np.float64)
            n_g = norms[own]
            c = cen[idx, own]
            dot = n_g * c - 1.0
            sq = n_g * n_g - 2.0 * n_g * c + 1.0
            if twins is not None and own_dot is not None:
                # Centroid of the FAQ without the query and its twins T: q.(S - x_q - X_T) / |S - x_q - X_T|.
                t_rows, t_cols = twins.nonzero()
                tsim = np.bincount(t_rows, weights=sims[t_rows, t_cols], minlength=len(rows))
                tsum = twins @ x
                sq = sq - 2.0 * (twins @ own_dot) + 2.0 * tsim + np.asarray(tsum.multiply(tsum).sum(axis=1)).ravel()
                dot = dot - tsim
                sims[t_rows, t_cols] = -np.inf
            cen[idx, own] = dot / np.sqrt(np.maximum(sq, 1e-12))
            if dense_norms is None:
                grp = full.row_group[full.order]
                ordered = sims if full.sorted_rows else sims[:, full.order]
                nn[:, grp[full.starts]] = self._nearest(ordered, full.starts)
                nn[~np.isfinite(nn)] = -1.0
            if dense_norms is not None and self._dense_rows is not None:
                nn, cen = self._dense_loo(full, self._dense_rows[rows], rows, own, sims, cen, dense_norms)
            base = nn + self.centroid_weight_ * cen
            svm_all, hits, n_words = self._group_signals(
                full, q, self._dense_rows[rows] if self._dense_rows is not None else None
            )
            if self._loo_shift is not None:  # the served scorers as if fitted without the query (round 11)
                svm_all = svm_all - self._loo_shift[rows].toarray()
            if hits is not None and counts is not None and total is not None and present is not None:
                words = (q[:, full.word_cols] > 0).astype(np.float64).tocsr()
                left = counts[own]
                seen_total = np.broadcast_to(total, words.shape)
                if twins is not None:
                    hidden = (twins @ present).tocsr()  # a twin's words are as unseen as the query's own
                    left = left - hidden
                    seen_total = seen_total - hidden.toarray()
                own_counts = sp.csr_matrix(words.multiply(left))
                hits[idx, own] = np.asarray((own_counts >= 2).sum(axis=1)).ravel()
                # A word only this phrasing (or its hidden twins) has is unseen for a customer.
                n_words = np.asarray(words.multiply(seen_total >= 2).sum(axis=1), dtype=np.float64).ravel()
            signals = (svm_all, hits, n_words)
            top, b, s, c = self._rerank_parts(full, q, base, signals=signals)
            results.append((top, b, s, c, np.take_along_axis(cen, top, axis=1)))
            utop, ub, us, uc = self._rerank_parts(full, q, base, exclude=own, signals=signals)
            uncovered.append((ub, us, uc, np.take_along_axis(cen, utop, axis=1)))
            if self.learned_rerank:
                knn, uknn = self._knn_votes(sims, full.row_group, own)
                knns.append((np.take_along_axis(knn, top, axis=1), np.take_along_axis(uknn, utop, axis=1)))
        return self._stack_ranked(results, uncovered, knns)

    def _dense_loo(
        self,
        full: _Parts,
        qd: NDArray[np.float32],
        rows: NDArray[np.int64],
        own: NDArray[np.int64],
        sims: NDArray[np.float64],
        cen: NDArray[np.float64],
        norms: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(nn, centroid) of held-out phrasings ``rows`` blended with their dense similarities as :meth:`search`
        blends them, each query's own phrasing left out in both spaces (``sims`` already has it at -inf and ``cen``
        its sparse leave-one-out centroid): the dense centroid of its FAQ is that of the other phrasings."""
        assert full.dense is not None and full.dense_centroids is not None
        w = self.dense_weight
        idx = np.arange(len(rows))
        dsims = np.asarray(qd @ full.dense.T, dtype=np.float64)
        dsims[idx, rows] = -np.inf  # full.rows is every row, in order
        dcen = np.asarray(qd @ full.dense_centroids.T, dtype=np.float64)
        # The dense centroid is the normalised sum S of unit rows: leave-one-out is q.(S - q) / |S - q|.
        n_g = norms[own]
        c = dcen[idx, own]
        dcen[idx, own] = (n_g * c - 1.0) / np.sqrt(np.maximum(n_g * n_g - 2.0 * n_g * c + 1.0, 1e-12))
        # The left-out row is -inf in both; blend the finite values (0 x -inf would be nan at w = 0 or 1).
        blended = (1 - w) * np.where(np.isfinite(sims), sims, 0.0) + w * np.where(np.isfinite(dsims), dsims, 0.0)
        blended[~(np.isfinite(sims) & np.isfinite(dsims))] = -np.inf
        nn = np.full((len(rows), len(self.keys)), -1.0)
        grp = full.row_group[full.order]
        ordered = blended if full.sorted_rows else blended[:, full.order]
        nn[:, grp[full.starts]] = self._nearest(ordered, full.starts)
        nn[~np.isfinite(nn)] = -1.0
        return nn, (1 - w) * cen + w * dcen

    def _dense_norms(self, full: _Parts) -> NDArray[np.float64]:
        """Norm of each FAQ's sum of dense phrasing vectors (the dense centroid before normalisation)."""
        assert full.dense is not None
        sums = np.zeros((len(self.keys), full.dense.shape[1]))
        np.add.at(sums, full.row_group, full.dense)
        return np.asarray(np.linalg.norm(sums, axis=1), dtype=np.float64)

    def _own_dots(
        self, x: sp.csr_matrix, sums: sp.csr_matrix, faq_rows: tuple[NDArray[np.int64], NDArray[np.int64]]
    ) -> NDArray[np.float64]:
        """x_r . S_g(r) for every phrasing r (S_g: the sum of its FAQ's phrasing vectors), one FAQ at a time."""
        out = np.zeros(x.shape[0])
        order, bounds = faq_rows
        for g in range(len(self.keys)):
            rows = order[bounds[g] : bounds[g + 1]]
            if len(rows):
                out[rows] = np.asarray((x[rows] @ sums[g].T).toarray()).ravel()
        return out

    def _twins(
        self,
        sims: NDArray[np.float64],
        rows: NDArray[np.int64],
        own: NDArray[np.int64],
        faq_rows: tuple[NDArray[np.int64], NDArray[np.int64]],
    ) -> sp.csr_matrix:
        """Per held-out query, the other phrasings of its FAQ at cosine ≥ ``twin_cutoff`` (at most ``twin_limit``,
        most similar first), never every other phrasing: calibration then ranks it as a question whose near-duplicate
        phrasings are missing too, since KB phrasings of one FAQ are often rewrites of each other and a customer's
        question has no such twin (docs/DEVELOPING.md, round 10). Only the query's own FAQ's columns are read."""
        assert self.twin_cutoff is not None
        order, bounds = faq_rows  # group_bounds of every phrasing, computed once per calibration pass
        out_rows: list[int] = []
        out_cols: list[NDArray[np.int64]] = []
        for i, (row, g) in enumerate(zip(rows.tolist(), own.tolist(), strict=True)):
            mine = order[bounds[g] : bounds[g + 1]]
            # Keep the least similar other phrasing (at least one) and at most ``twin_limit`` twins.
            keep = len(mine) - 2 if self.twin_limit is None else min(len(mine) - 2, self.twin_limit)
            if keep <= 0:
                continue
            seg = sims[i, mine]
            cand = np.flatnonzero((seg >= self.twin_cutoff) & (mine != row))
            if len(cand):
                chosen = mine[cand[np.argsort(-seg[cand], kind="stable")[:keep]]]
                out_rows.extend([i] * len(chosen))
                out_cols.append(chosen)
        cols = np.concatenate(out_cols) if out_cols else np.empty(0, dtype=np.int64)
        return sp.csr_matrix(
            (np.ones(len(cols)), (np.asarray(out_rows, dtype=np.int64), cols)), shape=(len(rows), sims.shape[1])
        )

    def _rank_heldout(
        self, parts: _Parts, queries: sp.csr_matrix, qdense: NDArray[np.float32] | None, truth: NDArray[np.int64]
    ) -> list[NDArray[Any]]:
        """(top, base, svm, coverage, centroid) of held-out queries ranked covered, then (base, svm, coverage,
        centroid) of the same with their FAQ removed."""
        results: list[tuple[NDArray[Any], ...]] = []
        uncovered: list[tuple[NDArray[Any], ...]] = []
        knns: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
        for start in range(0, len(truth), _CHUNK):
            q = queries[start : start + _CHUNK]
            qd = qdense[start : start + _CHUNK] if qdense is not None else None
            nn, cen, sims = self._nn_centroid(parts, q, qd)
            base = nn + self.centroid_weight_ * cen
            signals = self._group_signals(parts, q, qd)
            top, b, s, c = self._rerank_parts(parts, q, base, signals=signals)
            results.append((top, b, s, c, np.take_along_axis(cen, top, axis=1)))
            own = truth[start : start + _CHUNK]
            utop, ub, us, uc = self._rerank_parts(parts, q, base, exclude=own, signals=signals)
            uncovered.append((ub, us, uc, np.take_along_axis(cen, utop, axis=1)))
            if self.learned_rerank:
                knn, uknn = self._knn_votes(sims, parts.row_group, own)
                knns.append((np.take_along_axis(knn, top, axis=1), np.take_along_axis(uknn, utop, axis=1)))
        return self._stack_ranked(results, uncovered, knns)

    @staticmethod
    def _stack_ranked(
        results: Sequence[tuple[NDArray[Any], ...]],
        uncovered: Sequence[tuple[NDArray[Any], ...]],
        knns: Sequence[tuple[NDArray[np.float64], NDArray[np.float64]]],
    ) -> list[NDArray[Any]]:
        """(top, base, svm, coverage, centroid) covered, (base, svm, coverage, centroid) uncovered, then the kNN
        votes of both when the learned reranker is on."""
        out = [np.vstack([r[i] for r in results]) for i in range(5)]
        out += [np.vstack([u[i] for u in uncovered]) for i in range(4)]
        if knns:
            out += [np.vstack([k[i] for k in knns]) for i in range(2)]
        return out

    def _knn_votes(
        self, sims: NDArray[np.float64], row_group: NDArray[np.int64], own: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Share of the ``_KNN`` nearest phrasings' similarity that falls on each FAQ (queries x groups); with
        ``own``, also the same with each query's own FAQ's phrasings out of the list (the uncovered ranking)."""
        votes = self._knn_vote(sims, row_group)
        if own is None:
            return votes, votes
        hidden = np.where(row_group[None, :] == own[:, None], -np.inf, sims)
        return votes, self._knn_vote(hidden, row_group)

    def _knn_vote(self, sims: NDArray[np.float64], row_group: NDArray[np.int64]) -> NDArray[np.float64]:
        n_q, n_rows = sims.shape
        out = np.zeros((n_q, len(self.keys)))
        if n_rows == 0:
            return out
        k = min(_KNN, n_rows)
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        val = np.take_along_axis(sims, near, axis=1)
        val = np.where(np.isfinite(val), np.maximum(val, 0.0), 0.0)
        total = np.maximum(val.sum(axis=1, keepdims=True), 1e-12)
        np.add.at(out, (np.repeat(np.arange(n_q), k), row_group[near].ravel()), (val / total).ravel())
        return out

    def _answer_threshold(
        self,
        p: NDArray[np.float64],
        bad: NDArray[np.bool_],
        pu: NDArray[np.float64],
        uncovered_cap: float | None,
        n_covered: int | None = None,
    ) -> float:
        """Lowest confidence threshold meeting both limits on the held-out queries.

        Wrong answers to questions the KB covers stay within ``max_wrong_rate`` of them, and questions it does not
        cover (the same queries with their FAQ removed) are answered at most ``max_uncovered_rate`` of the time.
        With ``max_uncovered_rate=None`` both kinds share the wrong-answer budget (uncovered ones at half weight).
        With ``max_answered_wrong_rate`` wrong answers also stay within that share of the queries answered.
        ``bad`` marks the held-out queries that would be wrong answers if answered; ``n_covered`` is the denominator
        of the wrong rate (default: every held-out query).
        """
        n = len(p) if n_covered is None else n_covered
        for t in np.unique(np.concatenate([p, [0.99]])):
            wrong = float(np.sum((p >= t) & bad))
            uncovered = float(np.sum(pu >= t))
            if uncovered_cap is None:
                ok = (wrong + _UNCOVERED_WEIGHT * uncovered) / (n + _UNCOVERED_WEIGHT * len(pu))
                ok_rate = ok <= self.max_wrong_rate
            else:
                ok_rate = wrong <= self.max_wrong_rate * n and uncovered <= uncovered_cap * max(len(pu), 1)
            if ok_rate and self._precise(wrong, float(np.sum(p >= t))):
                return float(max(t, 0.05))
        return 0.99

    def _precise(self, wrong: float, answered: float) -> bool:
        """Wrong answers within ``max_answered_wrong_rate`` of the held-out questions answered (None: no limit)."""
        return self.max_answered_wrong_rate is None or wrong <= self.max_answered_wrong_rate * max(answered, 1.0)

    def _margin_rule(
        self,
        p: NDArray[np.float64],
        margin: NDArray[np.float64],
        right: NDArray[np.bool_],
        bad: NDArray[np.bool_],
        n_covered: int,
        pu: NDArray[np.float64],
        mu: NDArray[np.float64],
        uncovered_cap: float | None,
    ) -> tuple[float, float] | None:
        """(lower confidence, margin) also answered, when that adds right answers within the same limits.

        A leader far ahead of the runner-up is usually right even below the threshold; the pair is picked on the
        held-out queries under the wrong/uncovered limits of :meth:`_answer_threshold`, counted on the union.
        """
        t = self.answer_threshold_
        base = p >= t
        best: tuple[int, float, float] | None = None
        below = p[(p < t) & right]
        if len(below) < 5:
            return None
        for m in np.quantile(margin, [0.5, 0.6, 0.7, 0.8, 0.9]).tolist():
            for t2 in np.unique(np.quantile(below, np.linspace(0.0, 0.95, 20))).tolist():
                ans = base | ((p >= t2) & (margin >= m))
                ans_u = (pu >= t) | ((pu >= t2) & (mu >= m))
                wrong = float(np.sum(ans & bad))
                if uncovered_cap is None:
                    ok = (wrong + _UNCOVERED_WEIGHT * float(np.sum(ans_u))) / (
                        n_covered + _UNCOVERED_WEIGHT * len(pu)
                    ) <= self.max_wrong_rate
                else:
                    ok = wrong <= self.max_wrong_rate * n_covered and float(np.sum(ans_u)) <= uncovered_cap * max(
                        len(pu), 1
                    )
                gain = int(np.sum(ans & right)) - int(np.sum(base & right))
                ok = ok and self._precise(wrong, float(np.sum(ans)))
                if ok and gain > 0 and (best is None or gain > best[0]):
                    best = (gain, float(t2), float(m))
        return None if best is None else (best[1], best[2])

    # ------------------------------------------------------------------ search

    def search(self, text: str, k: int = 5) -> list[Ranked]:
        """Top-k FAQs for a message, best first, with calibrated confidences."""
        parts = self._parts
        if parts is None or self._featurizer is None or k <= 0:
            return []
        key = exact_key(text)
        bare = courtesy_stripped(key)
        exact = self._exact.get(key) or (self._exact.get(bare) if bare else None)
        q = l2_rows(self._featurizer.transform([normalize(text)])).tocsr()
        qd = l2_normalize(self.encoder.encode([normalize(text)])) if self.encoder is not None else None
        if self.requires_encoder and qd is None:
            raise RuntimeError("this ranker was built with a dense encoder; pass one to load()")
        base, sims = self._signals(parts, q, qd)
        top, b, svm, cov = self._rerank_parts(parts, q, base, qd=qd)
        knn = None
        if self.rerank_coef_ is not None:
            knn = np.take_along_axis(self._knn_vote(sims, parts.row_group), top, axis=1)
        score = self._combine(b, svm, cov, self.svm_weight_, self.coverage_weight_, knn)[0]
        order = np.argsort(-score)
        groups, scores = top[0][order], score[order]
        conf = self._confidence(self._conf_features(scores[None], b[:, order], svm[:, order], cov[:, order]))[0]
        rule = self.margin_rule_
        if rule is not None and len(scores) and conf[0] >= rule[0]:
            gap = float(scores[0] - scores[1]) if len(scores) > 1 else float("inf")
            if gap >= rule[1]:  # far ahead of the runner-up: counts as reaching the answer threshold
                conf[0] = max(conf[0], self.answer_threshold_)
        if self.clarify_score_ is not None:
            # Below the answer threshold the score decides whether a candidate is worth offering: at least the
            # clarify threshold when it scores like held-out questions whose FAQ was in the top 3, else below it.
            below = conf < self.answer_threshold_
            ct = self.clarify_threshold_
            offer = scores >= self.clarify_score_
            conf[below & offer] = np.maximum(conf[below & offer], ct)
            conf[below & ~offer] = np.minimum(conf[below & ~offer], np.nextafter(ct, 0.0))
        factor = self._strict_factor(normalize(text), groups) if self._strict_units else np.ones(len(groups))
        out: list[Ranked] = []
        demoted: list[Ranked] = []
        for g, s, p, f in zip(groups.tolist(), scores.tolist(), conf.tolist(), factor.tolist(), strict=True):
            if base[0, g] <= 0:
                continue
            hit = Ranked(self.keys[g], float(p * f), float(s), self._best_phrasing(parts, sims[0], g))
            (demoted if f < 1.0 else out).append(hit)
        for hit in demoted:  # a demoted small-talk class goes below every candidate now more confident than it
            at = next((i for i, r in enumerate(out) if r.confidence < hit.confidence), len(out))
            out.insert(at, hit)
        if exact:
            lead: list[Ranked] = []
            exact_groups = list(dict.fromkeys(int(self._row_group[i]) for i in exact))
            for g in exact_groups:
                row = next(i for i in exact if self._row_group[i] == g)
                # One FAQ with this exact question: certain; several: a close call between them.
                lead.append(Ranked(self.keys[g], 1.0 if len(exact_groups) == 1 else 0.5, 99.0, self._texts[row]))
            seen = {r.key for r in lead}
            out = lead + [r for r in out if r.key not in seen]
        return out[:k]

    def _strict_factor(self, text: str, groups: NDArray[np.int64]) -> NDArray[np.float64]:
        """Confidence factor per candidate: 1 for FAQs; for strict classes (small talk), how much of the message
        their phrasings' words explain, so "收不到驗證碼" is not "testing" for sharing 收/到 with "收到"."""
        return strict_factor(self._strict_units, self.strict_coverage, text, groups)

    def _best_phrasing(self, parts: _Parts, sims: NDArray[np.float64], group: int) -> str:
        local = np.flatnonzero(parts.row_group == group)
        if len(local) == 0:
            return ""
        return self._texts[int(parts.rows[local[np.argmax(sims[local])]])]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the fitted ranker (joblib); a dense encoder, if any, is not saved."""
        state = {k: v for k, v in self.__dict__.items() if k != "encoder"}
        joblib.dump({"format": _FORMAT, "state": state}, Path(path), compress=0)

    @classmethod
    def load(cls, path: str | Path, *, encoder: Encoder | None = None) -> FaqRanker:
        """Read a ranker written by :meth:`save` (only load files you trust: this unpickles)."""
        try:
            payload: Any = joblib.load(Path(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, pickle.UnpicklingError) as exc:
            raise ValueError(f"{path} is not a saved FaqRanker") from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved FaqRanker")
        ranker = cls.__new__(cls)
        # Options added within this format (round 10's, default off) take their defaults in a ranker saved before.
        ranker.__dict__.update(cls().__dict__)
        ranker.__dict__.update(payload["state"])
        ranker.encoder = encoder
        if ranker._parts is not None:  # saved before round 13: the embedding weights inside the sparse matrix
            ranker._parts = split_dense_weights(ranker._parts)
        if ranker.requires_encoder and encoder is None:
            raise ValueError("this ranker was built with a dense encoder; pass encoder=")
        return ranker
