"""Benchmark the offline NLU intent model on the shared public datasets.

Usage: python benchmarks/nlu_eval.py [DATASETS_DIR] [--only NAME ...] [--json]

DATASETS_DIR defaults to $KEFU_DATASETS, else ../shared/datasets next to the repository. Prints one
line per dataset (accuracy, macro-F1, in-scope accuracy, OOS recall/precision, latency, fit time),
the zh-Hant vs zh-Hans gap on SMP2017 (model trained on Simplified, test converted with s2t), and
FAQ-retrieval lines (each intent indexed as one FAQ entry).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kefu.bot.nlu.evaluate import evaluate_retrieval_texts, evaluate_texts, read_labeled_csv
from kefu.bot.nlu.text import to_traditional

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


def run_case(root: Path, case: Case) -> dict[str, Any]:
    """Fit and score one benchmark case."""
    train_files, test_files, transform = case
    train_texts, train_labels = read_labeled_csv([root / f for f in train_files])
    test_texts, test_labels = read_labeled_csv([root / f for f in test_files])
    if transform is not None:
        test_texts = [transform(t) for t in test_texts]
    return evaluate_texts(train_texts, train_labels, test_texts, test_labels)


def run_retrieval_case(root: Path, case: Case) -> dict[str, Any]:
    """Index and query one retrieval case."""
    train_files, test_files, transform = case
    variants, labels = read_labeled_csv([root / f for f in train_files])
    queries, query_labels = read_labeled_csv([root / f for f in test_files])
    if transform is not None:
        queries = [transform(q) for q in queries]
    return evaluate_retrieval_texts(variants, labels, queries, query_labels)


def format_retrieval_line(name: str, r: dict[str, Any]) -> str:
    """One human-readable retrieval result line."""
    line = (
        f"{name:<18} top1 {_pct(r['top1_accuracy'])}  top5 {_pct(r['top5_recall'])}  ece {_pct(r['ece'])}"
        f"  p50 {r['p50_ms']:.2f}ms  p95 {r['p95_ms']:.2f}ms  fit {r['fit_seconds']:.1f}s"
    )
    return line + (f"  ({NOTES[name]})" if name in NOTES else "")


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
    return line + (f"  ({NOTES[name]})" if name in NOTES else "")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("datasets", nargs="?", type=Path, default=None, help="datasets directory")
    parser.add_argument("--only", nargs="*", choices=sorted([*CASES, *RETRIEVAL_CASES]), help="run only these cases")
    parser.add_argument("--json", action="store_true", help="print one JSON object with all results")
    args = parser.parse_args(argv)
    root: Path = args.datasets or default_datasets_dir()
    if not root.is_dir():
        print(f"datasets directory not found: {root}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {}
    for name in args.only or [*CASES, *RETRIEVAL_CASES]:
        if name in CASES:
            results[name] = run_case(root, CASES[name])
            line = format_line(name, results[name])
        else:
            results[name] = run_retrieval_case(root, RETRIEVAL_CASES[name])
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
