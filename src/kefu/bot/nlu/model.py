"""Intent classifier with calibrated confidence and out-of-scope (OOS) detection.

A class-balanced linear SVM over the lexical features of :mod:`kefu.bot.nlu.features`. Fitting
runs a stratified cross-validation over the training data to (1) pick the regularization strength
from ``c_grid`` (a single value by default: C=1 was best or tied on every benchmark), (2) fit a
softmax temperature on out-of-fold decision scores, so confidences are calibrated probabilities,
and (3) choose the OOS threshold on those out-of-fold confidences:

* if the training data has ``oos`` examples, ``oos`` is trained as a class and the threshold
  maximizes the mean of in-scope accuracy and OOS recall on the out-of-fold predictions;
* otherwise the threshold keeps ``target_in_scope_recall`` (95%) of out-of-fold in-scope
  messages, the usual "TPR at 95%" operating point of OOS detection.
"""

from __future__ import annotations

import pickle
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self

import joblib  # type: ignore[import-untyped,unused-ignore]
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from kefu.bot.nlu.calibration import DEFAULT_TEMPERATURE, fit_temperature, softmax
from kefu.bot.nlu.encoders import Encoder, l2_normalize
from kefu.bot.nlu.features import FeatureConfig, Featurizer
from kefu.bot.nlu.text import normalize

__all__ = ["DENSE_C", "DENSE_FEATURES", "DENSE_WEIGHT", "OOS_LABEL", "IntentModel", "Prediction"]

OOS_LABEL: Final = "oos"
_FORMAT: Final = "kefu.nlu.IntentModel/3"  # 3: tw2sp fold in normalize; 2: Han and other-script char n-gram blocks
# The dense backend's weight and C were tuned on the version-1 features (one shared char block);
# with an encoder and no explicit ``features`` the model keeps them.
DENSE_FEATURES: Final = FeatureConfig(split_han_chars=False)
# With an encoder: the embeddings' weight next to the TF-IDF blocks and the SVM's C, the argmax of 5-fold CV on the
# Banking77 training set only (weight 2/3/4/5/6 x C 1: 92.66/92.85/92.89/92.75/92.72; weight 4/5/6 x C 0.5:
# 92.91/92.83/92.77; docs/DEVELOPING.md "NLU"). Defaults of every caller (`kefu nlu eval`, benchmarks/nlu_eval.py).
DENSE_WEIGHT: Final = 4.0
DENSE_C: Final = 0.5
_MISSING_SCORE: Final = -1e3  # score for a class absent from a CV fold's training part


@dataclass(frozen=True, slots=True)
class Prediction:
    """Result of classifying one message.

    ``label`` is the intent, or the OOS label when ``is_oos``. ``confidence`` is the calibrated
    probability of the best in-scope intent (the number compared with the OOS threshold), and
    ``alternatives`` ranks the best in-scope intents with their probabilities, best first, so a
    caller can still offer suggestions for an OOS message.
    """

    label: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    is_oos: bool = False


def _decision(clf: LinearSVC, x: sp.csr_matrix) -> NDArray[np.float64]:
    d = np.asarray(clf.decision_function(x), dtype=np.float64)
    if d.ndim == 1:  # binary LinearSVC returns one margin for classes_[1]
        d = np.column_stack([-d, d])
    return d


def _stratified_folds(y: NDArray[np.int64], k: int, seed: int) -> NDArray[np.int64]:
    """Fold id per row; every class is spread round-robin so tiny classes still land somewhere."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    offset = 0
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        folds[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)  # rotate the start so singleton classes do not all sit in fold 0
    return folds


class IntentModel:
    """Calibrated intent classifier with OOS detection; see the module docstring for how it fits."""

    def __init__(
        self,
        *,
        c_grid: Sequence[float] | None = None,
        cv_folds: int | None = None,
        target_in_scope_recall: float = 0.95,
        threshold: float | None = None,
        oos_label: str = OOS_LABEL,
        top_k: int = 3,
        class_weight: str | None = "balanced",
        features: FeatureConfig | None = None,
        encoder: Encoder | None = None,
        dense_weight: float | None = None,
        random_state: int = 0,
    ) -> None:
        # Unset: C 1 (best or tied on every sparse benchmark), or with an encoder the dense backend's CV choice.
        if c_grid is None:
            c_grid = (1.0,) if encoder is None else (DENSE_C,)
        if not c_grid:
            raise ValueError("c_grid must not be empty")
        if not 0.0 < target_in_scope_recall <= 1.0:
            raise ValueError("target_in_scope_recall must be in (0, 1]")
        self.c_grid = tuple(float(c) for c in c_grid)
        self.cv_folds = cv_folds
        self.target_in_scope_recall = target_in_scope_recall
        self.fixed_threshold = threshold
        self.oos_label = oos_label
        self.top_k = top_k
        self.class_weight = class_weight
        self.feature_config = features or (FeatureConfig() if encoder is None else DENSE_FEATURES)
        self.encoder = encoder
        self.dense_weight = DENSE_WEIGHT if dense_weight is None else dense_weight
        self.random_state = random_state
        self.requires_encoder = encoder is not None
        # Fitted state.
        self.classes_: list[str] = []
        self.C_: float = self.c_grid[0]
        self.temperature_: float = DEFAULT_TEMPERATURE
        self.threshold_: float = 0.0
        self.cv_accuracy_: float | None = None
        self.fit_seconds_: float = 0.0
        self._featurizer: Featurizer | None = None
        self._clf: LinearSVC | None = None
        self._in_scope_cols: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._oos_col: int | None = None

    # ------------------------------------------------------------------ features

    def _features(self, normalized: Sequence[str], *, fit: bool = False) -> sp.csr_matrix:
        if fit:
            self._featurizer = Featurizer(self.feature_config)
            x = self._featurizer.fit_transform(normalized)
        else:
            if self._featurizer is None:
                raise RuntimeError("IntentModel is not fitted")
            x = self._featurizer.transform(normalized)
        if self.requires_encoder:
            if self.encoder is None:
                raise RuntimeError("this model was trained with a dense encoder; pass one to load()")
            dense = l2_normalize(self.encoder.encode(list(normalized))) * self.dense_weight
            x = sp.hstack([x, sp.csr_matrix(dense)], format="csr")
        return x

    def _new_clf(self, c: float) -> LinearSVC:
        return LinearSVC(C=c, class_weight=self.class_weight, random_state=self.random_state)

    def _fit_clf(self, c: float, x: sp.csr_matrix, y: NDArray[np.int64]) -> LinearSVC:
        with warnings.catch_warnings():
            # liblinear's iteration cap is reached on some folds; the solution is still usable.
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self._new_clf(c).fit(x, y)

    # ------------------------------------------------------------------ fitting

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Train on texts and their intent labels (the OOS label marks out-of-scope examples)."""
        if len(texts) != len(labels):
            raise ValueError("texts and labels must have the same length")
        started = time.perf_counter()
        labels = [str(label) for label in labels]
        self.classes_ = sorted(set(labels))
        in_scope = [c for c in self.classes_ if c != self.oos_label]
        if not in_scope or len(self.classes_) < 2:
            raise ValueError("need at least two classes, one of them in scope")
        col = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([col[label] for label in labels], dtype=np.int64)
        self._oos_col = col.get(self.oos_label)
        self._in_scope_cols = np.array([col[c] for c in in_scope], dtype=np.int64)

        x = self._features([normalize(t) for t in texts], fit=True)
        oof = self._cross_validate(x, y)
        if oof is not None:
            scores, valid = oof
            self.temperature_ = fit_temperature(scores[valid], y[valid])
            self.threshold_ = self._choose_threshold(softmax(scores[valid], self.temperature_), y[valid])
        else:  # too little data to hold anything out: keep defaults, no OOS rejection
            self.temperature_ = DEFAULT_TEMPERATURE
            self.threshold_ = 0.0
        if self.fixed_threshold is not None:
            self.threshold_ = self.fixed_threshold
        self._clf = self._fit_clf(self.C_, x, y)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _cross_validate(
        self, x: sp.csr_matrix, y: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]] | None:
        """Out-of-fold scores of the best C (and which rows are usable), or None if CV is impossible."""
        k = min(self._n_folds(len(y)), int(np.bincount(y).max()))
        if k < 2:
            return None
        folds = _stratified_folds(y, k, self.random_state)
        for f in range(k):
            if len(np.unique(y[folds != f])) < 2:
                return None
        n_classes = len(self.classes_)
        best: tuple[float, float, NDArray[np.float64], NDArray[np.bool_]] | None = None
        for c in self.c_grid:
            scores = np.full((len(y), n_classes), _MISSING_SCORE)
            valid = np.ones(len(y), dtype=bool)
            for f in range(k):
                train, test = folds != f, folds == f
                clf = self._fit_clf(c, x[train], y[train])
                seen = np.asarray(clf.classes_, dtype=np.int64)
                scores[np.ix_(np.flatnonzero(test), seen)] = _decision(clf, x[test])
                valid[test] = np.isin(y[test], seen)
            acc = float(np.mean(scores[valid].argmax(axis=1) == y[valid])) if valid.any() else 0.0
            if best is None or acc > best[1]:
                best = (c, acc, scores, valid)
        assert best is not None
        self.C_, self.cv_accuracy_ = best[0], best[1]
        if not best[3].any():
            return None
        return best[2], best[3]

    def _n_folds(self, n: int) -> int:
        if self.cv_folds is not None:
            return self.cv_folds
        # Small sets get more folds so out-of-fold models are nearly as confident as the final one
        # (the OOS threshold is read off their confidences); large sets get few, to keep fit time low.
        return 10 if n <= 2000 else 5 if n <= 5000 else 3

    def _choose_threshold(self, proba: NDArray[np.float64], y: NDArray[np.int64]) -> float:
        top_in, p_in = self._top_in_scope(proba)
        is_in = y != (self._oos_col if self._oos_col is not None else -1)
        if not is_in.any():
            return 0.0
        if self._oos_col is None or is_in.all():
            # No OOS examples: reject the least confident (1 - target) share of in-scope messages.
            return float(np.quantile(p_in[is_in], 1.0 - self.target_in_scope_recall))
        p_oos = proba[:, self._oos_col]
        correct = self._in_scope_cols[top_in] == y
        candidates = np.unique(np.concatenate([[0.0], np.quantile(p_in, np.linspace(0, 1, 201))]))
        best_t, best_obj = 0.0, -1.0
        for t in candidates:
            rejected = (p_oos > p_in) | (p_in < t)
            obj = 0.5 * float(np.mean(correct[is_in] & ~rejected[is_in])) + 0.5 * float(np.mean(rejected[~is_in]))
            if obj > best_obj + 1e-12:
                best_t, best_obj = float(t), obj
        return best_t

    def _top_in_scope(self, proba: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Index into the in-scope columns of the best intent, and its probability, per row."""
        sub = proba[:, self._in_scope_cols]
        top = sub.argmax(axis=1)
        return top, sub[np.arange(len(sub)), top]

    # ------------------------------------------------------------------ inference

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Calibrated class probabilities, columns ordered as ``classes_`` (OOS label included if trained)."""
        if self._clf is None:
            raise RuntimeError("IntentModel is not fitted")
        x = self._features([normalize(t) for t in texts])
        return softmax(_decision(self._clf, x), self.temperature_)

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions for many messages (vectorized)."""
        if not texts:
            return []
        proba = self.predict_proba(texts)
        in_scope = proba[:, self._in_scope_cols]
        k = min(self.top_k, in_scope.shape[1])
        order = np.argsort(-in_scope, axis=1)[:, :k]
        out: list[Prediction] = []
        for i in range(len(texts)):
            alts = [(self.classes_[self._in_scope_cols[j]], float(in_scope[i, j])) for j in order[i]]
            best_label, p_in = alts[0]
            p_oos = float(proba[i, self._oos_col]) if self._oos_col is not None else 0.0
            is_oos = p_in < self.threshold_ or p_oos > p_in
            out.append(Prediction(self.oos_label if is_oos else best_label, p_in, alts, is_oos))
        return out

    def predict(self, text: str) -> Prediction:
        """Prediction for one message."""
        return self.predict_batch([text])[0]

    @property
    def labels(self) -> list[str]:
        """The in-scope intent labels."""
        return [self.classes_[i] for i in self._in_scope_cols]

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> None:
        """Write the fitted model (joblib); the dense encoder, if any, is not saved."""
        if self._clf is None:
            raise RuntimeError("IntentModel is not fitted")
        state = {k: v for k, v in self.__dict__.items() if k != "encoder"}
        joblib.dump({"format": _FORMAT, "state": state}, Path(path), compress=3)

    @classmethod
    def load(cls, path: str | Path, *, encoder: Encoder | None = None) -> IntentModel:
        """Read a model written by :meth:`save` (only load files you trust: this unpickles)."""
        try:
            payload: Any = joblib.load(Path(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, pickle.UnpicklingError) as exc:
            raise ValueError(f"{path} is not a saved IntentModel") from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a saved IntentModel")
        model = cls.__new__(cls)
        model.__dict__.update(payload["state"])
        model.encoder = encoder
        if model.requires_encoder and encoder is None:
            raise ValueError("this model was trained with a dense encoder; pass encoder=")
        return model
