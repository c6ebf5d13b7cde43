"""FAQ retrieval: rank knowledge-base entries for a customer message.

Every question variant is indexed with the lexical features of :mod:`kefu.bot.nlu.features` on
normalized (Simplified, half-width, casefolded) text, so a question typed in Traditional Chinese
matches a variant written in Simplified and vice versa. An entry scores the cosine similarity of
its best-matching variant. The similarity and its margin over the best other entry are mapped to
a calibrated probability "this entry answers the message" by a logistic model fitted on the
knowledge base itself: each variant of a multi-variant entry is used as a held-out query against
all other variants.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

import joblib  # type: ignore[import-untyped,unused-ignore]
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_rows

from kefu.bot.nlu.encoders import Encoder, l2_normalize
from kefu.bot.nlu.features import FeatureConfig, Featurizer
from kefu.bot.nlu.text import normalize

__all__ = ["FaqEntry", "FaqRetriever", "Hit"]

_FORMAT: Final = "kefu.nlu.FaqRetriever/3"  # 3: tw2sp fold in normalize; 2: Han and other-script char n-gram blocks
# Prior logistic model (slope on similarity, slope on margin, intercept): similarity 0.5 → 50%,
# used until the knowledge base has enough multi-variant entries to fit its own.
_DEFAULT_CURVE: Final = (10.0, 0.0, -5.0)
_MIN_CALIBRATION_QUERIES: Final = 8
_NEGATIVES_PER_QUERY: Final = 5
# Assumed share of questions the knowledge base cannot answer, relative to answerable ones (1 in 5).
_UNCOVERED_WEIGHT: Final = 0.25


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One knowledge-base entry: several ways to ask the question, one answer."""

    id: Hashable
    questions: Sequence[str]
    answer: str = ""
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked entry: calibrated ``score`` in [0, 1], raw cosine ``similarity`` and the best variant."""

    entry_id: Any
    score: float
    matched_question: str
    similarity: float = 0.0


def _as_entry(obj: FaqEntry | Mapping[str, Any]) -> FaqEntry:
    if isinstance(obj, FaqEntry):
        return obj
    questions = obj.get("questions") or ([obj["question"]] if obj.get("question") else [])
    return FaqEntry(obj["id"], list(questions), str(obj.get("answer", "")), obj.get("language"))


def _language_matches(entry_language: str | None, wanted: str) -> bool:
    if entry_language is None:
        return True
    a, b = entry_language.lower(), wanted.lower()
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


def _margins(best: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row and entry: similarity minus the best similarity among the other entries."""
    if best.shape[1] < 2:
        return np.zeros_like(best)
    order = np.sort(best, axis=1)
    first, second = order[:, -1:], order[:, -2:-1]
    return best - np.where(best >= first, second, first)


class FaqRetriever:
    """Ranks FAQ entries for a message with calibrated scores; works across Traditional/Simplified."""

    def __init__(
        self,
        *,
        features: FeatureConfig | None = None,
        encoder: Encoder | None = None,
        dense_weight: float = 0.5,
    ) -> None:
        # Word pairs only pay off for classifiers with many examples per class. The dense blend was
        # tuned on the version-1 features (one shared char block), so with an encoder it keeps them.
        self.feature_config = features or FeatureConfig(use_pairs=False, split_han_chars=encoder is None)
        self.encoder = encoder
        self.dense_weight = dense_weight
        self.requires_encoder = encoder is not None
        self.entries: list[FaqEntry] = []
        self.curve_: tuple[float, float, float] = _DEFAULT_CURVE
        self.calibrated_ = False
        self._featurizer: Featurizer | None = None
        self._matrix: sp.csr_matrix | None = None
        self._matrix_t: sp.csr_matrix | None = None  # features x variants, for fast single-query products
        self._owners: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._starts: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._dense: NDArray[np.float32] | None = None
        self._variant_entry: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._variant_text: list[str] = []

    # ------------------------------------------------------------------ fitting

    def fit(self, entries: Iterable[FaqEntry | Mapping[str, Any]]) -> Self:
        """Index entries (``FaqEntry`` objects or mappings with id, questions, answer, language)."""
        self.entries = [_as_entry(e) for e in entries]
        variant_entry: list[int] = []
        variant_text: list[str] = []
        for i, entry in enumerate(self.entries):
            for q in entry.questions:
                if q and q.strip():
                    variant_entry.append(i)
                    variant_text.append(q)
        self._variant_entry = np.array(variant_entry, dtype=np.int64)
        self._variant_text = variant_text
        self._featurizer = None
        self._matrix = None
        self._matrix_t = None
        self._dense = None
        self.curve_, self.calibrated_ = _DEFAULT_CURVE, False
        if not variant_text:
            return self
        normalized = [normalize(q) for q in variant_text]
        self._featurizer = Featurizer(self.feature_config)
        try:
            self._matrix = l2_rows(self._featurizer.fit_transform(normalized)).tocsr()
        except ValueError:  # nothing indexable (e.g. only punctuation)
            self._featurizer = None
            return self
        self._matrix_t = self._matrix.T.tocsr()
        # Variants are stored entry by entry, so each entry is one contiguous column segment.
        self._owners, self._starts = np.unique(self._variant_entry, return_index=True)
        if self.encoder is not None:
            self._dense = l2_normalize(self.encoder.encode(normalized))
        self._calibrate()
        return self

    def _similarities(self, normalized: Sequence[str]) -> NDArray[np.float64]:
        """Cosine similarity of each query (rows) to each variant (columns)."""
        assert self._featurizer is not None and self._matrix_t is not None
        q = l2_rows(self._featurizer.transform(normalized))
        sims = np.asarray((q @ self._matrix_t).toarray(), dtype=np.float64)
        if self._dense is not None:
            if self.encoder is None:
                raise RuntimeError("this retriever was built with a dense encoder; pass one to load()")
            dq = l2_normalize(self.encoder.encode(list(normalized)))
            sims = (1.0 - self.dense_weight) * sims + self.dense_weight * (dq @ self._dense.T)
        return sims

    def _entry_max(self, sims: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per query (rows) and entry (columns): similarity of the entry's best variant, -1 if it has none."""
        best = np.full((sims.shape[0], len(self.entries)), -1.0)
        if len(self._owners):
            best[:, self._owners] = np.maximum.reduceat(sims, self._starts, axis=1)
        return best

    def _best_variant(self, sims_row: NDArray[np.float64], entry: int) -> int:
        cols = np.flatnonzero(self._variant_entry == entry)
        return int(cols[np.argmax(sims_row[cols])])

    def _calibrate(self) -> None:
        """Fit the similarity→probability curve with leave-one-variant-out queries."""
        counts = np.bincount(self._variant_entry, minlength=len(self.entries))
        queries = np.flatnonzero(counts[self._variant_entry] >= 2)
        if len(queries) < _MIN_CALIBRATION_QUERIES or len(self.entries) < 2:
            return
        assert self._matrix is not None and self._matrix_t is not None
        sims = np.asarray((self._matrix[queries] @ self._matrix_t).toarray(), dtype=np.float64)
        if self._dense is not None:
            sims = (1.0 - self.dense_weight) * sims + self.dense_weight * (self._dense[queries] @ self._dense.T)
        sims[np.arange(len(queries)), queries] = -1.0  # a variant must not match itself
        best = self._entry_max(sims)
        margins = _margins(best)
        owns = self._variant_entry[queries]
        # The same queries with their own entry removed stand for questions the KB does not cover:
        # their best match looks like a clear winner yet is wrong.
        uncovered = best.copy()
        uncovered[np.arange(len(queries)), owns] = -1.0
        uncovered_margins = _margins(uncovered)
        xs: list[tuple[float, float]] = []
        ys: list[int] = []
        ws: list[float] = []
        for row, own in enumerate(owns.tolist()):
            xs.append((best[row, own], margins[row, own]))
            others = np.delete(np.arange(best.shape[1]), own)
            k = min(_NEGATIVES_PER_QUERY, len(others))
            # The hardest negatives are the ones that decide whether a wrong answer gets sent.
            hard = others[np.argpartition(best[row, others], len(others) - k)[-k:]]
            xs.extend(zip(best[row, hard].tolist(), margins[row, hard].tolist(), strict=True))
            top = int(np.argmax(uncovered[row]))
            xs.append((uncovered[row, top], uncovered_margins[row, top]))
            ys.extend([1] + [0] * k + [0])
            ws.extend([1.0] * (k + 1) + [_UNCOVERED_WEIGHT])
        if len(set(ys)) < 2:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lr = LogisticRegression(C=100.0).fit(np.array(xs), np.array(ys), sample_weight=np.array(ws))
        a_sim, a_margin = (float(c) for c in lr.coef_[0])
        if a_sim > 0 and a_margin >= 0:  # otherwise the fit is noise on a tiny KB; keep the prior
            self.curve_, self.calibrated_ = (a_sim, a_margin, float(lr.intercept_[0])), True

    # ------------------------------------------------------------------ search

    def score(
        self, similarity: float | NDArray[np.float64], margin: float | NDArray[np.float64] = 0.0
    ) -> NDArray[np.float64]:
        """Calibrated probability from cosine similarity and its margin over the best other entry."""
        a_sim, a_margin, b = self.curve_
        z = a_sim * np.asarray(similarity, dtype=np.float64) + a_margin * np.asarray(margin, dtype=np.float64) + b
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def search(self, text: str, k: int = 5, *, language: str | None = None) -> list[Hit]:
        """Top-k entries for a message, best first (``language`` keeps entries of that language or family)."""
        if self._featurizer is None or k <= 0:
            return []
        sims = self._similarities([normalize(text)])
        best = self._entry_max(sims)[0]
        if language is not None:
            keep = np.array([_language_matches(e.language, language) for e in self.entries])
            best = np.where(keep, best, -1.0)
        candidates = np.flatnonzero(best > 0.0)
        if len(candidates) == 0:
            return []
        top = candidates[np.argsort(-best[candidates], kind="stable")[:k]]
        scores = self.score(best[top], _margins(best[None, :])[0, top])
        return [
            Hit(self.entries[e].id, float(s), self._variant_text[self._best_variant(sims[0], e)], float(best[e]))
            for e, s in zip(top, scores, strict=True)
        ]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the index (joblib); a dense encoder, if any, is not saved."""
        state = {k: v for k, v in self.__dict__.items() if k != "encoder"}
        joblib.dump({"format": _FORMAT, "state": state}, Path(path), compress=3)

    @classmethod
    def load(cls, path: str | Path, *, encoder: Encoder | None = None) -> FaqRetriever:
        """Read an index written by :meth:`save` (only load files you trust: this unpickles)."""
        try:
            payload: Any = joblib.load(Path(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, pickle.UnpicklingError) as exc:
            raise ValueError(f"{path} is not a saved FaqRetriever") from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved FaqRetriever")
        retriever = cls.__new__(cls)
        retriever.__dict__.update(payload["state"])
        retriever.encoder = encoder
        if retriever.requires_encoder and encoder is None:
            raise ValueError("this retriever was built with a dense encoder; pass encoder=")
        return retriever
