"""A bank KB imported through the API, then customer questions through the API channel (issue #14 walk).

Usage: python benchmarks/bot_import_reply.py [--faqs 1500] [--phrasings 17] [--questions 200] [--pg URL]
[--one-by-one] [--small-changes N]  (``--one-by-one``: one ``POST /api/v1/kb/faqs`` per FAQ instead of the bulk
import; ``--small-changes N``: after the walk, N single-FAQ changes, see below)

Production wiring (``create_app`` with its own job runner and index registry, a file SQLite database or PostgreSQL):
imports the E.SUN Bank FAQ ($KEFU_DATASETS/esun_faq_zh_tw, generated phrasings as in ``kb_import.py``) with
``POST /api/v1/kb/import``, then sends questions to ``POST /api/v1/channels/api/{inbox}/messages`` and waits for the
bot's reply row. Questions: E.SUN questions with 1–2 characters deleted (unseen phrasings of a covered FAQ), sent
by distinct users. While the first index builds, an agent write (an FAQ created through the API) is timed, to show
that no write waits for the build. Prints import seconds, first reply after import, reply p50/p95 (POST → reply
committed), CPU seconds per reply, peak RSS and any "database is locked" seen; then the first reply after a
restart (a new app and index registry on the same database and data dir, serving the saved index).
Each reply is classified by the index that served it (provisional while the full fit runs, then full): answered
right / wrong, options with the right FAQ, other (options without it, fallback); and when the full index went live.

``--small-changes N`` (once the full index is live): N agent changes of one FAQ each, in turn a new FAQ (an E.SUN
FAQ left out of the import), a new phrasing added to an FAQ, an FAQ unpublished. From the change's HTTP 2xx, the
change's exact question is asked through the API channel (a new user each time) until the bot gets it right
(answers the new FAQ / the edited one; neither answers nor offers the unpublished one); prints the time to that
and the wrong answers in the window (another FAQ answered, or the unpublished one answered or offered), and when
the refit went live. The next change waits for that refit.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)
sys.path.insert(0, str(Path(__file__).parent))

from kb_import import dataset_rows, to_csv


def _questions(rows: list[dict[str, str]], n: int, seed: int = 0) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out: list[tuple[str, str]] = []
    for row in rnd.sample(rows, min(n, len(rows))):
        q = list(row["question"].rstrip("？"))
        for _ in range(rnd.choice((1, 2))):
            if len(q) > 4:
                del q[rnd.randrange(len(q))]
        out.append(("".join(q), row["id"]))
    return out


def run(url: str, faqs: int, per_faq: int, n_questions: int, one_by_one: bool = False, changes: int = 0) -> None:
    """Import, then ask; print the numbers."""
    import logging

    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.conversations.models import Conversation, Message
    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.core.migrate import upgrade
    from kefu.customers.models import CustomerIdentity
    from kefu.knowledge.models import FaqEntry
    from kefu.web.app import create_app

    locked: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
            if "locked" in text:
                locked.append(text)

    logging.getLogger().addHandler(Catch())
    every = dataset_rows(faqs + changes, per_faq)
    rows, extra = every[:faqs], every[faqs:]  # FAQs left out of the import: the new FAQs of --small-changes
    body = to_csv(rows)
    upgrade(url)
    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"bank-{uuid.uuid4().hex[:6]}", name="bank", default_locale="zh-TW")
        agent = create_agent(
            s, email=f"b-{uuid.uuid4().hex[:6]}@example.com", name="b", password="bench password", role="admin"
        )
        _, raw = create_token(s, agent, name="bench", scopes=None, expires_at=None, actor=None)
        brand_id = brand.id
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(database_url=url, data_dir=Path(data_dir), scheduler=False), database=database)
        h = {"Authorization": f"Bearer {raw}"}
        with TestClient(app) as client:
            r = client.post(
                f"/api/v1/brands/{brand_id}/inboxes",
                json={"kind": "api", "name": "api", "config": {"secret": "bench-secret-1"}},
                headers=h,
            )
            assert r.status_code == 201, r.text
            inbox = r.json()
            t0 = time.perf_counter()
            if one_by_one:  # one POST /api/v1/kb/faqs per FAQ, each starting (or queueing) a refit
                for row in rows:
                    r = client.post(
                        "/api/v1/kb/faqs",
                        json={
                            "brand_id": brand_id,
                            "locale": row["locale"],
                            "external_id": row["id"],
                            "questions": [row["question"], *row["alternatives"].split("\n")],
                            "answer": row["answer"],
                            "answer_format": row["format"],
                        },
                        headers=h,
                    )
                    assert r.status_code == 201, r.text[:300]
                rep = {"phrasings": sum(1 + len(row["alternatives"].split("\n")) for row in rows)}
            else:
                r = client.post(
                    "/api/v1/kb/import",
                    params={"brand_id": brand_id},
                    content=body,
                    headers={**h, "Content-Type": "text/csv"},
                )
                assert r.status_code == 200, r.text[:300]
                rep = r.json()
            import_s = time.perf_counter() - t0
            print(
                f"{url.split(':', 1)[0]}: bot_enabled={inbox['bot_enabled']} import {len(rows)} FAQs / "
                f"{rep['phrasings']} phrasings ({len(body) / 1e6:.1f} MB): {import_s:.2f}s"
            )
            questions = _questions(rows, n_questions)
            url_msg = f"/api/v1/channels/api/{inbox['id']}/messages"
            auth = {"Authorization": "Bearer bench-secret-1"}

            def reply_of(user: str, timeout: float = 600.0) -> Message | None:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    with database.session() as s:
                        conv_id = s.scalar(
                            select(Conversation.id)
                            .join(CustomerIdentity, CustomerIdentity.customer_id == Conversation.customer_id)
                            .where(Conversation.brand_id == brand_id, CustomerIdentity.external_id == user)
                        )
                        if conv_id is not None:
                            m = s.scalar(
                                select(Message).where(Message.conversation_id == conv_id, Message.sender_type == "bot")
                            )
                            if m is not None:
                                s.expunge(m)
                                return m
                    time.sleep(0.01)
                return None

            write_s: list[float] = []

            def agent_write() -> None:
                time.sleep(1.0)  # while the first index builds
                t = time.perf_counter()
                rr = client.post(
                    "/api/v1/kb/faqs",
                    json={"brand_id": brand_id, "locale": "zh-TW", "questions": ["新的問題？"], "answer": "新答案"},
                    headers=h,
                )
                write_s.append(time.perf_counter() - t)
                assert rr.status_code == 201, rr.text[:300]

            from kefu.bot.engine import get_registry

            registry = get_registry()
            full_at: list[float] = []

            def watch_full() -> None:
                while time.perf_counter() - t0 < 1200:
                    live = registry._indexes.get(brand_id)
                    if live is not None and not live.provisional:
                        full_at.append(time.perf_counter() - t0)
                        return
                    time.sleep(0.05)

            outcomes: dict[str, dict[str, int]] = {}

            def classify(m: Message | None, label: str) -> None:
                live = registry._indexes.get(brand_id)
                stage = "provisional" if live is not None and live.provisional else "full"
                meta = (m.meta or {}) if m is not None else {}
                faq = meta.get("faq_id")
                offered = [ext.get(int(i)) for i in meta.get("clarify") or []]
                kind = (
                    ("right" if ext.get(faq) == label else "wrong")
                    if faq
                    else "offered_right"
                    if label in offered
                    else "other"
                )
                counts = outcomes.setdefault(stage, {"right": 0, "wrong": 0, "offered_right": 0, "other": 0})
                counts[kind] += 1

            writer = threading.Thread(target=agent_write)
            watcher = threading.Thread(target=watch_full, daemon=True)
            t0 = time.perf_counter()
            c0 = time.process_time()
            assert client.post(url_msg, json={"id": "m0", "user": {"id": "u0"}, "text": questions[0][0]}, headers=auth)
            writer.start()
            watcher.start()
            first = reply_of("u0")
            first_s = time.perf_counter() - t0
            writer.join()
            with database.session() as s:
                ext = {
                    int(i): e
                    for i, e in s.execute(
                        select(FaqEntry.id, FaqEntry.external_id).where(FaqEntry.brand_id == brand_id)
                    )
                }
            first_stage = "provisional" if getattr(registry._indexes.get(brand_id), "provisional", False) else "full"
            classify(first, questions[0][1])
            print(
                f"  first reply after import: {first_s:.2f}s wall, {time.process_time() - c0:.2f}s CPU "
                f"({'answer' if first is not None and (first.meta or {}).get('faq_id') else 'no answer'}, "
                f"{first_stage} index); an FAQ created through the API meanwhile: {write_s[0]:.2f}s"
            )
            lat: list[float] = []
            right = 0
            c0 = time.process_time()
            for i, (text, label) in enumerate(questions[1:], 1):
                t = time.perf_counter()
                client.post(url_msg, json={"id": f"m{i}", "user": {"id": f"u{i}"}, "text": text}, headers=auth)
                m = reply_of(f"u{i}")
                lat.append((time.perf_counter() - t) * 1000)
                if m is not None and ext.get((m.meta or {}).get("faq_id")) == label:
                    right += 1
                classify(m, label)
            cpu = (time.process_time() - c0) / max(1, len(lat))
            lat.sort()
            p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
            print(
                f"  {len(lat)} replies: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, {cpu * 1000:.0f} ms CPU per reply "
                f"(poll included), answered right {right / max(1, len(lat)):.1%}; peak RSS "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; 'database is locked' "
                f"logged {len(locked)} times"
            )
            watcher.join(timeout=1200)
            print(
                f"  full index live {full_at[0] if full_at else float('nan'):.1f}s after the first question; "
                f"outcomes by serving index: {outcomes}"
            )
            if changes:
                _small_changes(client, h, brand_id, rows, extra, changes, url_msg, auth, reply_of, registry, database)
        # A restart: a new app (wire() gives it a new index registry) on the same database and data dir, once the
        # old process's refits (the agent's FAQ write) are done and saved, as after a deploy.
        while registry._building:
            time.sleep(0.1)
        app2 = create_app(Settings(database_url=url, data_dir=Path(data_dir), scheduler=False), database=database)
        with TestClient(app2) as client2:
            t0 = time.perf_counter()
            client2.post(url_msg, json={"id": "r0", "user": {"id": "r0"}, "text": questions[-1][0]}, headers=auth)
            m = reply_of("r0")
            print(
                f"  first reply after a restart (saved index): {time.perf_counter() - t0:.2f}s "
                f"({'answer' if m is not None and (m.meta or {}).get('faq_id') else 'no answer'})"
            )


def _small_changes(
    client: Any,
    h: dict[str, str],
    brand_id: int,
    rows: list[dict[str, str]],
    extra: list[dict[str, str]],
    n: int,
    url_msg: str,
    auth: dict[str, str],
    reply_of: Any,
    registry: Any,
    database: Any,
) -> None:
    """Single-FAQ changes through the API; time from the HTTP 2xx to the bot getting the change's question right."""
    from sqlalchemy import select

    from kefu.knowledge.models import FaqEntry

    def idle() -> None:  # the refit of the previous change has swapped in
        while registry._building or getattr(registry._indexes.get(brand_id), "base", None) is not None:
            time.sleep(0.05)

    def faq_id(ext: str) -> int:
        with database.session() as s:
            return int(s.scalar(select(FaqEntry.id).where(FaqEntry.brand_id == brand_id, FaqEntry.external_id == ext)))

    rnd = random.Random(7)
    results: dict[str, list[tuple[float, int, int, float]]] = {}
    asked = 0
    for i in range(n):
        idle()
        kind = ("new", "phrasing", "unpublish")[i % 3]
        if kind == "new":
            row = extra[i % len(extra)] if extra else rnd.choice(rows)
            body = {
                "brand_id": brand_id,
                "locale": "zh-TW",
                "external_id": f"{row['id']}-new{i}",
                "questions": [row["question"]],
                "answer": row["answer"],
                "answer_format": row["format"],
            }
            r = client.post("/api/v1/kb/faqs", json=body, headers=h)
            target, question = int(r.json()["id"]), row["question"]
        else:
            row = rnd.choice(rows)
            target = faq_id(row["id"])
            if kind == "phrasing":
                question = f"想問代號 K{i:03d} 的業務怎麼處理"  # unlike any phrasing of the KB
                phrasings = [row["question"], *row["alternatives"].split("\n"), question]
                r = client.patch(f"/api/v1/kb/faqs/{target}", json={"questions": phrasings}, headers=h)
            else:
                question = row["question"]
                r = client.patch(f"/api/v1/kb/faqs/{target}", json={"is_published": False}, headers=h)
        assert r.status_code in (200, 201), r.text[:300]
        done_at = time.perf_counter()
        wrong = tries = 0
        took = float("nan")
        while time.perf_counter() - done_at < 120:
            asked += 1
            tries += 1
            user = f"change-{i}-{asked}"
            client.post(url_msg, json={"id": user, "user": {"id": user}, "text": question}, headers=auth)
            m = reply_of(user)
            meta = (m.meta or {}) if m is not None else {}
            answered = meta.get("faq_id")
            offered = [int(x) for x in meta.get("clarify") or []]
            if kind == "unpublish":
                ok = answered != target and target not in offered
                wrong += int(not ok)
            else:
                ok = answered == target
                wrong += int(answered is not None and answered != target)
            if ok:
                took = time.perf_counter() - done_at
                break
        idle()
        refit = time.perf_counter() - done_at
        results.setdefault(kind, []).append((took, wrong, tries, refit))
    for kind, got in results.items():
        took = sorted(t for t, _, _, _ in got)
        print(
            f"  small change '{kind}' x{len(got)}: HTTP 2xx → bot right: median {took[len(took) // 2]:.2f}s, "
            f"max {took[-1]:.2f}s; wrong answers in the window {sum(w for _, w, _, _ in got)} "
            f"(of {sum(t for _, _, t, _ in got)} questions); refit live after median "
            f"{sorted(r for _, _, _, r in got)[len(got) // 2]:.1f}s"
        )


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--faqs", type=int, default=1500)
    ap.add_argument("--phrasings", type=int, default=17, help="phrasings per FAQ (question + alternatives)")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--pg", default=None)
    ap.add_argument("--one-by-one", action="store_true", help="create the FAQs with one API call each")
    ap.add_argument("--small-changes", type=int, default=0, help="single-FAQ changes timed after the walk")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.faqs, args.phrasings, args.questions, args.one_by_one, args.small_changes)
    if args.pg:
        run(args.pg, args.faqs, args.phrasings, args.questions, args.one_by_one, args.small_changes)


if __name__ == "__main__":
    main()
