"""Exploration (not CI): every OpenAPI operation fuzzed deeply on a fresh migrated database, plus junk leaves.

    PYTHONPATH=src:. .venv/bin/python benchmarks/fuzz_explore.py [database-url] [examples] [--no-schemathesis]

Default database: a SQLite file in a temporary folder. For PostgreSQL give a fresh empty database
(`createdb -h 127.0.0.1 -U postgres fuzzpg`, drop it after). The demo data is loaded so small ids name real rows.
Two passes, each request with an admin's token:

* schemathesis, positive and negative generation, `examples` per operation and mode (strings may carry NUL);
* a junk walk: a filled-in body (tests.security.test_brand_walk's) with one leaf at a time replaced by NUL-bearing,
  lone-surrogate, over-long text, huge/negative integers, NaN/Infinity and deep JSON; each query parameter likewise.

Prints every 5xx or raise, grouped by exception class and operation.
"""

from __future__ import annotations

import collections
import json
import os
import re
import sys
import tempfile
import time
import uuid
from typing import Any

TEXT_JUNK = ["a\x00b", "\ud800", "x" * 70_000, "家" * 5000, "\x00"]
NUMBER_JUNK = [2**63, -(2**63) - 1, 10**30, -1, float("nan"), float("inf"), 1e308]
DEEP = json.loads("[" * 500 + "]" * 500)


def _leaves(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*at, k))] or [at]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*at, i))] or [at]
    return [at]


def _put(body: Any, at: tuple[Any, ...], value: Any) -> Any:
    if not at:
        return value
    out = json.loads(json.dumps(body))
    node = out
    for key in at[:-1]:
        node = node[key]
    node[at[-1]] = value
    return out


def what(params: dict[str, Any], sent: Any) -> str:
    """A short description of the junk sent."""
    return f"{str(params)[:40]} {str(sent)[:60]}"


def _dumps(body: Any) -> bytes:
    # NaN/Infinity as Python writes them (Starlette's json.loads accepts them); lone surrogates escaped.
    return json.dumps(body, allow_nan=True).encode()


def main() -> None:
    """Build the app on a fresh database, fuzz it, print what failed."""
    os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex + uuid.uuid4().hex)
    from fastapi.testclient import TestClient
    from tests.security.test_brand_walk import _schema_value

    from kefu.auth.service import create_agent, create_token
    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.core.events import MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.demo import load_demo
    from kefu.web.app import create_app

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    url = args[0] if args else f"sqlite:///{tempfile.mkdtemp()}/fuzz.db"
    examples = int(args[1]) if len(args) > 1 else 30
    upgrade(url)
    database = Database(url)
    app = create_app(Settings(env="test", database_url=url, redis_url=None), database=database, bus=MemoryBus())
    with database.session() as session:
        load_demo(session, "correct horse 1")
        admin = create_agent(session, email="fuzz@example.com", name="Fuzz", password=None, role="admin")
        _, raw = create_token(session, admin, name="fuzz", scopes=None, expires_at=None, actor=None)
    headers = {"Authorization": f"Bearer {raw}"}
    found: dict[str, dict[str, str]] = collections.defaultdict(dict)
    counts = collections.Counter[str]()

    def note(kind: str, what: str) -> None:
        op, _, sample = what.partition(" :: ")
        found[kind].setdefault(op, sample[:240])
        counts[kind] += 1

    t0 = time.time()
    st_count = [0]  # requests made by schemathesis
    sent_n = [0]  # requests made by the junk walk
    if "--no-schemathesis" not in sys.argv:
        import schemathesis
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st
        from schemathesis import GenerationMode

        api = schemathesis.openapi.from_asgi("/openapi.json", app)
        for result in api.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode), path=st.just(operation.path))
                @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
                def check(case: Any, path: str) -> None:
                    st_count[0] += 1
                    try:
                        response = case.call(headers=headers)
                    except Exception as exc:
                        note(f"raise {type(exc).__name__}", f"{case.method} {path} :: {exc!r}")
                        return
                    if response.status_code >= 500:
                        note(f"{response.status_code}", f"{case.method} {path} :: {response.text[:150]}")

                try:
                    check()
                except Exception as exc:  # hypothesis could not generate for this schema
                    note("generation", f"{operation.method} {operation.path} :: {exc!r}")
        print(f"schemathesis done in {time.time() - t0:.0f}s, {st_count[0]} requests", flush=True)

    client = TestClient(app, raise_server_exceptions=True)
    spec = app.openapi()
    for path, ops in spec["paths"].items():
        filled = re.sub(r"\{[^}]+\}", "1", path)
        for method, op in ops.items():
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            sends: list[tuple[dict[str, Any], Any]] = []
            for p in op.get("parameters", []):
                if p.get("in") == "query":
                    for junk in ["a\x00b", "x" * 5000, str(2**63), "-1", "NaN", "inf", "2026-13-45"]:
                        sends.append(({p["name"]: junk}, None))
                    # what a client cannot encode as text, sent as raw bytes: a lone surrogate, invalid UTF-8
                    for raw in ("%ED%A0%80", "%FF%FE", "%C0%80"):
                        sends.append(({"": f"{p['name']}={raw}"}, None))
            if schema is not None:
                body = _schema_value(schema, spec, collections.defaultdict(lambda: 1))
                for at in _leaves(body):
                    for junk in [*TEXT_JUNK, *NUMBER_JUNK, DEEP]:
                        sends.append(({}, _put(body, at, junk)))
            for params, sent in sends:
                sent_n[0] += 1
                extra = {"content": _dumps(sent), "headers": {**headers, "Content-Type": "application/json"}}
                try:
                    kw = extra if sent is not None else {"headers": headers}
                    if "" in params:
                        r = client.request(method.upper(), f"{filled}?{params['']}", **kw)
                    else:
                        r = client.request(method.upper(), filled, params=params, **kw)
                except Exception as exc:
                    note(
                        f"raise {type(exc).__name__}",
                        f"{method.upper()} {path} :: {str(params)[:40]} {str(sent)[:60]} {exc!r}",
                    )
                    continue
                if r.status_code >= 500:
                    note(
                        f"{r.status_code}",
                        f"{method.upper()} {path} :: {str(params)[:40]} {str(sent)[:60]} {r.text[:150]}",
                    )
    print(f"all done in {time.time() - t0:.0f}s, junk walk {sent_n[0]} requests", flush=True)
    for kind, n in counts.most_common():
        print(f"\n== {kind}: {n}")
        for op, sample in found[kind].items():
            print("  ", op, "::", sample.replace("\n", " "))
    database.dispose()


if __name__ == "__main__":
    main()
