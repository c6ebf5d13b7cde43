"""CPU per operation of the outbound-attachment path that runs in the request: the per-channel check (type, magic
bytes, sizes), signing a public media link and verifying one, and building the multipart body of a Messenger
upload. Alternating rounds; prints medians (timings are noisy on a shared machine, so no thresholds here).

    .venv/bin/python benchmarks/channel_media.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)
os.environ.setdefault("KEFU_BASE_URL", "https://kefu.example")


def _cpu_per_op(fn: Callable[[], object], n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n


def main() -> None:
    """Print CPU microseconds per operation, median over alternating rounds."""
    import httpx

    from kefu.channels import media

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    png = media.Upload("bill.png", "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024))
    pdf = media.Upload("statement.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024))
    token = media.public_url(1, "bill.png").split("/")[-2]
    ops: dict[str, tuple[Callable[[], object], int]] = {
        "check line 2 MB png + 5 MB pdf": (lambda: media.check("line", [png, pdf]), 20_000),
        "check messenger 2 MB png + 5 MB pdf": (lambda: media.check("messenger", [png, pdf]), 20_000),
        "sign public link": (lambda: media.public_url(1, "bill.png"), 20_000),
        "verify public link": (lambda: media.verify_token(token), 20_000),
        "build 5 MB multipart upload": (
            lambda: httpx.Request(
                "POST", "https://graph.example/me/messages", files={"filedata": ("s.pdf", pdf.data, "application/pdf")}
            ).read(),
            50,
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(args.rounds):
        for name, (fn, n) in ops.items():  # alternate the operations within every round
            results[name].append(_cpu_per_op(fn, n))
    for name, values in results.items():
        print(f"{name:40s} {statistics.median(values) * 1e6:10.1f} µs CPU/op  (rounds: {len(values)})")


if __name__ == "__main__":
    main()
