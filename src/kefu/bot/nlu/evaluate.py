"""Offline evaluation of the intent model on labeled CSV files."""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from kefu.bot.nlu.calibration import expected_calibration_error
from kefu.bot.nlu.model import IntentModel
from kefu.bot.nlu.retriever import FaqRetriever

__all__ = [
    "METRIC_KEYS",
    "Relabeled",
    "evaluate",
    "evaluate_retrieval_texts",
    "evaluate_texts",
    "read_labeled_csv",
    "relabel_from_reference",
]

METRIC_KEYS = (
    "accuracy",
    "macro_f1",
    "in_scope_accuracy",
    "oos_recall",
    "oos_precision",
    "p50_ms",
    "p95_ms",
)
_LABEL_COLUMNS = ("label", "intent", "category")

PathLike = str | Path


def read_labeled_csv(path: PathLike | Sequence[PathLike]) -> tuple[list[str], list[str]]:
    """Texts and labels from one or more CSV files with a header (``text`` and ``label``/``intent``/``category``)."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    texts: list[str] = []
    labels: list[str] = []
    for p in paths:
        with Path(p).open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            label_col = next((c for c in _LABEL_COLUMNS if c in fields), None)
            if "text" not in fields or label_col is None:
                raise ValueError(f"{p}: need a 'text' column and one of {', '.join(_LABEL_COLUMNS)}")
            for row in reader:
                texts.append(row["text"] or "")
                labels.append((row[label_col] or "").strip())
    return texts, labels


def _text_key(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True, slots=True)
class Relabeled:
    """Result of :func:`relabel_from_reference`: the kept rows and counts of what happened to the input."""

    texts: list[str]
    labels: list[str]
    disagreeing: int  # input rows whose label differs from the reference (relabeled + dropped)
    relabeled: int  # kept rows whose label was changed
    dropped: int  # rows removed because their reference label is not in ``keep``
    unmatched: int  # rows with no (unambiguous) reference label, kept as they were


def relabel_from_reference(
    texts: Sequence[str],
    labels: Sequence[str],
    reference_texts: Sequence[str],
    reference_labels: Sequence[str],
    *,
    keep: Collection[str] | None = None,
    outside: str | None = None,
) -> Relabeled:
    """Relabel rows from a reference labelled set that contains the same texts.

    Meant for derived datasets whose labels were corrupted in the build (e.g. shifted by a row offset)
    while the texts were copied intact from the original set. A row whose label disagrees with the
    label the reference gives its text (matched case-insensitively, whitespace collapsed) takes the
    reference label; if that label is not in ``keep`` (default: the labels of ``labels``), the row
    is dropped instead, or labeled ``outside`` when given (e.g. ``"oos"`` for held-out intents; a
    row already labeled ``outside`` then agrees). Rows that agree with the reference are kept as
    they are, and so are rows whose text is absent
    from the reference or carries conflicting labels there (counted as ``unmatched``).
    """
    if len(texts) != len(labels) or len(reference_texts) != len(reference_labels):
        raise ValueError("texts and labels must have the same length")
    found: dict[str, str | None] = {}
    for text, label in zip(reference_texts, reference_labels, strict=True):
        key = _text_key(text)
        found[key] = label if found.get(key, label) == label else None  # None marks a conflict
    allowed = set(labels) if keep is None else set(keep)
    out_texts: list[str] = []
    out_labels: list[str] = []
    disagreeing = relabeled = dropped = unmatched = 0
    for text, label in zip(texts, labels, strict=True):
        ref = found.get(_text_key(text))
        target: str | None = label
        if ref is None:
            unmatched += 1
        elif ref != label:
            target = ref if ref in allowed else outside  # None: drop the row
        if target is None:
            disagreeing += 1
            dropped += 1
            continue
        if target != label:
            disagreeing += 1
            relabeled += 1
        out_texts.append(text)
        out_labels.append(target)
    return Relabeled(out_texts, out_labels, disagreeing, relabeled, dropped, unmatched)


def evaluate_texts(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    *,
    model: IntentModel | None = None,
    max_latency_queries: int = 1000,
) -> dict[str, Any]:
    """Fit a model (default settings unless one is given) and score it on the test texts.

    Returns the keys of ``METRIC_KEYS``; OOS metrics are None when the test set has no OOS rows.
    Extra keys: ``n_train``, ``n_test``, ``fit_seconds``, ``threshold``, ``temperature``,
    ``oos_rate`` (share of test messages flagged OOS) and ``ece`` (calibration error of in-scope confidences).
    When the test set has no OOS rows, accuracy and F1 are closed-set (best intent, rejection ignored).
    """
    model = model or IntentModel()
    oos = model.oos_label
    model.fit(train_texts, train_labels)
    preds = model.predict_batch(test_texts)
    y_true = np.array(list(test_labels), dtype=object)
    gold_oos = y_true == oos
    flagged = np.array([p.is_oos for p in preds], dtype=bool)
    top = np.array([p.alternatives[0][0] for p in preds], dtype=object)
    # Without OOS rows in the test set the task is closed-set classification: score the best intent,
    # and report how often the rejection option would have fired as ``oos_rate``.
    y_pred = np.where(flagged, oos, top) if gold_oos.any() else top
    correct = y_true == y_pred
    pred_oos = y_pred == oos
    in_scope = ~gold_oos
    confidence = np.array([p.confidence for p in preds])

    latencies = _latencies(model, list(test_texts), max_latency_queries)
    return {
        "accuracy": float(correct.mean()) if len(correct) else None,
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)) if len(correct) else None,
        "in_scope_accuracy": float(correct[in_scope].mean()) if in_scope.any() else None,
        "oos_recall": float(pred_oos[gold_oos].mean()) if gold_oos.any() else None,
        "oos_precision": (float(gold_oos[pred_oos].mean()) if pred_oos.any() else 0.0) if gold_oos.any() else None,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        "fit_seconds": model.fit_seconds_,
        "threshold": model.threshold_,
        "temperature": model.temperature_,
        "oos_rate": float(flagged.mean()) if len(flagged) else None,
        "ece": expected_calibration_error(confidence[in_scope], (top == y_true)[in_scope]) if in_scope.any() else None,
    }


def _latencies(model: IntentModel, texts: list[str], limit: int) -> list[float]:
    """Milliseconds per single-text predict() on up to ``limit`` test texts (after a warm-up)."""
    if not texts:
        return []
    sample = texts if len(texts) <= limit else random.Random(0).sample(texts, limit)
    for text in sample[:5]:
        model.predict(text)
    out = []
    for text in sample:
        started = time.perf_counter()
        model.predict(text)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def evaluate_retrieval_texts(
    variant_texts: Sequence[str],
    variant_labels: Sequence[str],
    queries: Sequence[str],
    query_labels: Sequence[str],
    *,
    max_latency_queries: int = 1000,
) -> dict[str, Any]:
    """Index one FAQ entry per label (its texts as question variants) and score top-1 retrieval of the queries.

    Returns ``top1_accuracy``, ``top5_recall``, ``ece`` (top hit score vs correctness), ``mean_score``,
    ``p50_ms``/``p95_ms`` per search and ``fit_seconds``.
    """
    grouped: dict[str, list[str]] = {}
    for text, label in zip(variant_texts, variant_labels, strict=True):
        grouped.setdefault(label, []).append(text)
    started = time.perf_counter()
    retriever = FaqRetriever().fit([{"id": label, "questions": qs} for label, qs in grouped.items()])
    fit_seconds = time.perf_counter() - started
    top1: list[bool] = []
    top5: list[bool] = []
    scores: list[float] = []
    latencies: list[float] = []
    for i, (query, label) in enumerate(zip(queries, query_labels, strict=True)):
        started = time.perf_counter()
        hits = retriever.search(query, 5)
        if i < max_latency_queries:
            latencies.append((time.perf_counter() - started) * 1000.0)
        top1.append(bool(hits) and hits[0].entry_id == label)
        top5.append(any(h.entry_id == label for h in hits))
        scores.append(hits[0].score if hits else 0.0)
    return {
        "top1_accuracy": float(np.mean(top1)) if top1 else None,
        "top5_recall": float(np.mean(top5)) if top5 else None,
        "ece": expected_calibration_error(np.array(scores), np.array(top1)) if top1 else None,
        "mean_score": float(np.mean(scores)) if scores else None,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
        "p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
        "fit_seconds": fit_seconds,
    }


def evaluate(
    train_csv: PathLike | Sequence[PathLike],
    test_csv: PathLike | Sequence[PathLike],
    *,
    model: IntentModel | None = None,
    max_latency_queries: int = 1000,
) -> dict[str, Any]:
    """Train on ``train_csv`` and report accuracy, macro-F1, OOS and latency metrics on ``test_csv``.

    Each argument may be a list of files, which are concatenated (e.g. in-scope + OOS test sets).
    Label ``oos`` marks out-of-scope rows.
    """
    train_texts, train_labels = read_labeled_csv(train_csv)
    test_texts, test_labels = read_labeled_csv(test_csv)
    return evaluate_texts(
        train_texts, train_labels, test_texts, test_labels, model=model, max_latency_queries=max_latency_queries
    )
