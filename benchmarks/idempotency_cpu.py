"""CPU the Idempotency-Key dependency adds to a create route when no key is sent (and when one is).

Usage: python benchmarks/idempotency_cpu.py [--n 5000] [--rounds 5]

Two otherwise identical POST routes on a bare FastAPI app, one taking `idem: Idem` (kefu.idempotency.deps), the other
not; authentication is overridden with a fixed principal (it is cached per request on the real path, so the
dependency does not add it). Alternating rounds of n requests each through Starlette's TestClient; prints the median
process CPU per request of each and the difference. No database: `run` without a key is `work()`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)


def main() -> None:
    """Entry point."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from pydantic import BaseModel

    from kefu.auth.deps import current_principal
    from kefu.auth.permissions import Principal
    from kefu.idempotency.deps import Idem

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    class Body(BaseModel):
        subject: str

    class Out(BaseModel):
        id: int
        subject: str

    app = FastAPI()
    principal = Principal(1, "a@example.com", "A", "admin", frozenset(), None, "token", 1)

    async def fixed() -> Principal:
        return principal

    app.dependency_overrides[current_principal] = fixed

    @app.post("/plain", response_model=Out, status_code=201)
    async def plain(body: Body, p: Principal = __import__("fastapi").Depends(current_principal)) -> Out:
        return Out(id=1, subject=body.subject)

    @app.post("/idem", response_model=Out, status_code=201)
    async def keyed(body: Body, idem: Idem, p: Principal = __import__("fastapi").Depends(current_principal)) -> Out:
        return Out(id=1, subject=body.subject)

    results: dict[str, list[float]] = {"plain": [], "idem": []}
    with TestClient(app) as client:
        for path in ("/plain", "/idem"):
            for _ in range(200):
                client.post(path, json={"subject": "暖機"})
        for _ in range(args.rounds):
            for path in ("/plain", "/idem"):
                c0 = time.process_time()
                for _ in range(args.n):
                    client.post(path, json={"subject": "發票開錯"})
                results[path[1:]].append((time.process_time() - c0) / args.n * 1e6)
        calls = {}
        for path in ("/plain", "/idem"):  # deterministic: Python function calls per request (cProfile)
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for _ in range(200):
                client.post(path, json={"subject": "發票開錯"})
            prof.disable()
            calls[path] = pstats.Stats(prof).total_calls / 200  # type: ignore[attr-defined]
    plain_us, idem_us = statistics.median(results["plain"]), statistics.median(results["idem"])
    print(f"Python calls/request: {calls['/plain']:.0f} without the dependency, {calls['/idem']:.0f} with it")
    print(
        f"without a key: {plain_us:.1f} µs/request without the dependency, {idem_us:.1f} µs with it "
        f"(+{idem_us - plain_us:.1f} µs; medians of {args.rounds} alternating rounds × {args.n})"
    )


if __name__ == "__main__":
    main()
