"""The near-exact floor beside the full ranker, on the development splits of ``bot_ranker.py`` (never a test split).

Usage: python benchmarks/bot_near_exact.py [DATASETS_DIR] [--only NAME ...] [--sweep] [--fold-sweep] [--set NAME=V]

For each case the full :class:`FaqRanker` (seed 0) and the floor's provisional ranker are fitted on the case's KB plus
small talk; every query is decided as the live bot does (answered when the first hit is an FAQ at or above the
KB-calibrated answer threshold), once from the full ranker's hits alone and once after
:func:`kefu.bot.nlu.provisional.near_exact_floor` (the code the served index runs). Prints answered right / wrong
(% of queries) for both, and with round 15's folded floor beside it (``floor+folded``; ``--fold-sweep`` over its
(near, margin)); ``--set`` passes FaqRanker options (e.g. ``pseudo_style=noise``). ``--sweep`` repeats the floor
over a grid of (near, margin) — how the default was chosen.
The cases and their splits are ``bot_ranker.py``'s (see its docstring).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bot_ranker as br

from kefu.bot import smalltalk
from kefu.bot.nlu.provisional import near_exact_floor, near_exact_ranker
from kefu.bot.nlu.ranker import FaqRanker, Ranked
from kefu.core.chinese import convert

FOLD_GRID = [(0.8, 0.4), (0.75, 0.4), (0.85, 0.4), (0.8, 0.5), (0.7, 0.5)]
GRID = [(0.8, 0.3), (0.85, 0.3), (0.9, 0.3), (0.8, 0.4), (0.85, 0.4), (0.9, 0.2), (0.75, 0.3)]


Case = tuple[list[tuple[str, list[str]]], list[tuple[str, str]]]


def cases(root: Path) -> dict[str, Callable[[], Case]]:
    """The development cases (KB groups, (query, FAQ key) pairs), built lazily."""
    smp = ("smp2017_ecdt_task1/train.csv", "smp2017_ecdt_task1/dev.csv")
    return {
        "smp2017_dev": lambda: br._intents(root, *smp),
        "hwu64_dev": lambda: br._intents(root, "hwu64/train.csv", "hwu64/valid.csv"),
        "hwu64_10_dev": lambda: br._intents(root, "hwu64/train_10.csv", "hwu64/valid.csv"),
        "banking77_dev": lambda: br._banking77_dev(root),
        "afqmc_dev": lambda: br._afqmc_dev(root),
        "afqmc_single_dev": lambda: br._single(br._afqmc_dev(root)),
        "esun_robust_dev": lambda: br._esun_robust_dev(root),
        "esun_robust2_dev": lambda: br._esun_robust_dev(root, second=True),
        "esun_robust_dev_hans": lambda: _hans(br._esun_robust_dev(root)),
        "esun_robust2_dev_hans": lambda: _hans(br._esun_robust_dev(root, second=True)),
        "smp2017_20_dev": lambda: br._subsampled(br._intents(root, *smp), 20),
        "smp2017_single_dev": lambda: br._single(br._intents(root, *smp)),
        "chitchat_dev": lambda: (
            br._esun_groups(root),
            [(t, "chitchat") for t in random.Random(0).sample(br.smalltalk_split(root)[0], 2000)],
        ),
    }


def _hans(case: Case) -> Case:
    """The case's queries in Simplified with mainland wording (OpenCC tw2sp), KB unchanged."""
    return case[0], [(convert(q, "tw2sp"), y) for q, y in case[1]]


def _score(decided: list[str | None], tests: list[tuple[str, str]]) -> list[float]:
    right = sum(1 for key, (_, truth) in zip(decided, tests, strict=True) if key is not None and key == truth)
    wrong = sum(1 for key, (_, truth) in zip(decided, tests, strict=True) if key is not None and key != truth)
    return [round(100 * right / len(tests), 2), round(100 * wrong / len(tests), 2)]


def _decide(rows: list[list[Ranked]], at: float) -> list[str | None]:
    """The FAQ each query is answered with (None: options, fallback or small talk)."""
    out: list[str | None] = []
    for h in rows:
        top = h[0] if h else None
        ok = top is not None and not top.key.startswith(smalltalk.PREFIX) and top.confidence >= at
        out.append(top.key if ok and top is not None else None)
    return out


def main(argv: list[str] | None = None) -> int:
    """Print full vs full + floor per case."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="?", type=Path, default=br.default_datasets_dir())
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--set", nargs="*", default=[], help="FaqRanker options as name=json-value")
    ap.add_argument("--fold-sweep", action="store_true", help="sweep the folded floor's (near, margin)")
    args = ap.parse_args(argv)
    options = {k: json.loads(v) if v[:1] in "[{0123456789-tfn" else v for k, v in (o.split("=", 1) for o in args.set)}
    for name, build in cases(args.datasets).items():
        if args.only and name not in args.only:
            continue
        groups, tests = build()
        kb = groups + smalltalk.groups()
        full = FaqRanker(strict_prefix=smalltalk.PREFIX, **options).fit(kb)
        at = full.answer_threshold_
        hits = [full.search(text, 5) for text, _ in tests]

        row: dict[str, object] = {"case": name, "full": _score(_decide(hits, at), tests), "at": round(at, 3)}
        grid = GRID if args.sweep else [None]
        for point in grid:
            quick = near_exact_ranker(smalltalk.PREFIX)
            if point is not None:
                quick.near, quick.margin = point
            quick.fit(kb)
            floored = [
                near_exact_floor(h, text, quick, at, smalltalk.PREFIX) for h, (text, _) in zip(hits, tests, strict=True)
            ]
            label = "floor" if point is None else f"floor {point[0]}/{point[1]}"
            row[label] = _score(_decide(floored, at), tests)
        # Round 15: the pinyin-folded, courtesy-stripped floor beside the default one (as the served index runs it).
        quick = near_exact_ranker(smalltalk.PREFIX).fit(kb)
        for fpoint in FOLD_GRID if args.fold_sweep else [None]:
            folded = near_exact_ranker(smalltalk.PREFIX, folded=True)
            if fpoint is not None:
                folded.near, folded.margin = fpoint
            folded.fit(kb)
            floored = [
                near_exact_floor(h, text, quick, at, smalltalk.PREFIX, folded)
                for h, (text, _) in zip(hits, tests, strict=True)
            ]
            label = "floor+folded" if fpoint is None else f"floor+folded {fpoint[0]}/{fpoint[1]}"
            row[label] = _score(_decide(floored, at), tests)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
