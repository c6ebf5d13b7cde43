"""Knowledge-base bulk import at bank scale through the real API (POST /api/v1/kb/import, in-process ASGI).

Usage: python benchmarks/kb_import.py [--faqs 1000] [--phrasings 20] [--pg postgresql://postgres@127.0.0.1:5432/test]
                                     [--with-index]

Converts the E.SUN Bank FAQ set ($KEFU_DATASETS/esun_faq_zh_tw, read-only, never copied into the repo) to the
import CSV: one row per FAQ, the real question plus generated customer phrasings (prefix/suffix variants) up to
--phrasings per FAQ, multi-part answers as an HTML list (so the sanitiser is on the path). Prints the time of a
dry run, the first import, an unchanged re-import and a re-import with 10% of the answers edited, and how many
kb.changed events each published.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import tempfile
import time
import uuid
from html import escape
from pathlib import Path

os.environ.setdefault("KEFU_ENV", "test")
os.environ.setdefault("KEFU_SECRET_KEY", uuid.uuid4().hex * 2)

PREFIXES = (
    "",
    "請問",
    "想請問",
    "我想知道",
    "麻煩問一下",
    "不好意思，",
    "請教一下",
    "想了解",
    "可以說明",
    "客服你好，",
)
SUFFIXES = ("", "嗎", "呢", "？", "，謝謝", "怎麼處理")


def dataset_rows(limit: int, per_faq: int) -> list[dict[str, str]]:
    """The bank FAQ as import rows with generated phrasings."""
    root = Path(os.environ.get("KEFU_DATASETS", "/work/shared/datasets")) / "esun_faq_zh_tw"
    data = json.loads((root / "pid_map_content.json").read_text(encoding="utf-8"))
    rows: list[dict[str, str]] = []
    for pid, items in data.items():
        for n, item in enumerate(items):
            if len(rows) >= limit:
                return rows
            q = str(item["question"]).strip().rstrip("?？")
            combos = (f"{p}{q}{s}" for p in PREFIXES for s in SUFFIXES)
            variants = [v for v in combos if v not in (q, q + "？")][: per_faq - 1]
            answers = [str(a) for a in item["answers"]]
            html = len(answers) > 1
            answer = "<ul>" + "".join(f"<li>{escape(a)}</li>" for a in answers) + "</ul>" if html else answers[0]
            rows.append(
                {
                    "id": f"esun-{pid}-{n}",
                    "locale": "zh-TW",
                    "category": f"產品 {pid}",
                    "question": q + "？",
                    "alternatives": "\n".join(variants),
                    "answer": answer,
                    "format": "html" if html else "text",
                    "published": "true",
                }
            )
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    """Rows as an import CSV."""
    out = io.StringIO(newline="")
    w = csv.DictWriter(
        out, fieldnames=["id", "locale", "category", "question", "alternatives", "answer", "format", "published"]
    )
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


def run(url: str, faqs: int, per_faq: int, with_index: bool = False) -> None:
    """Import through the API and print timings."""
    from fastapi.testclient import TestClient

    from kefu.auth.service import create_agent, create_token
    from kefu.brands.service import create_brand
    from kefu.core.config import Settings
    from kefu.core.db import Database
    from kefu.core.events import MemoryBus
    from kefu.core.migrate import upgrade
    from kefu.web.app import create_app

    rows = dataset_rows(faqs, per_faq)
    body = to_csv(rows)
    upgrade(url)
    database = Database(url)
    with database.session() as s:
        brand = create_brand(s, slug=f"bank-{uuid.uuid4().hex[:6]}", name="bank")
        agent = create_agent(
            s, email=f"b-{uuid.uuid4().hex[:6]}@example.com", name="b", password="bench password", role="admin"
        )
        _, raw = create_token(s, agent, name="bench", scopes=None, expires_at=None, actor=None)
        brand_id = brand.id
    bus = MemoryBus()
    seen: list[str] = []
    bus.add_listener(lambda e: seen.append(e.type))
    app = create_app(Settings(database_url=url), database=database, bus=bus)
    h = {"Authorization": f"Bearer {raw}", "Content-Type": "text/csv"}
    backend = url.split(":", 1)[0]
    print(
        f"{backend}: {len(rows)} FAQs, {sum(2 + r['alternatives'].count(chr(10)) for r in rows)} phrasings, "
        f"{len(body) / 1e6:.1f} MB CSV"
    )
    with TestClient(app) as client:

        def timed(label: str, payload: bytes, dry: bool = False) -> None:
            seen.clear()
            t0 = time.perf_counter()
            r = client.post(
                "/api/v1/kb/import", params={"brand_id": brand_id, "dry_run": dry}, content=payload, headers=h
            )
            dt = time.perf_counter() - t0
            assert r.status_code == 200, r.text[:500]
            rep = r.json()
            print(
                f"  {label:<28} {dt:6.2f}s  created {rep['created']:5d}  updated {rep['updated']:5d}  "
                f"unchanged {rep['unchanged']:5d}  phrasings {rep['phrasings']:6d}  "
                f"kb.changed events {seen.count('kb.changed')}"
            )

        timed("dry run (preview)", body, dry=True)
        timed("first import", body)
        if with_index:  # the bot's own rebuild (kefu.bot.engine), as its background job runs it after the import
            from kefu.bot.engine import IndexRegistry

            t0 = time.perf_counter()
            with database.session() as s:
                index = IndexRegistry(background=False).build(s, brand_id)
            print(f"  {'bot index rebuild (once)':<28} {time.perf_counter() - t0:6.2f}s  {len(index.docs)} FAQs")
        timed("re-import, unchanged", body)
        edited = [dict(r, answer=r["answer"] + "（已更新）") if i % 10 == 0 else r for i, r in enumerate(rows)]
        timed("re-import, 10% edited", to_csv(edited))
        t0 = time.perf_counter()
        r = client.get("/api/v1/kb/export", params={"brand_id": brand_id, "format": "csv"}, headers=h)
        print(f"  {'export csv':<28} {time.perf_counter() - t0:6.2f}s  {len(r.content) / 1e6:.1f} MB")


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--faqs", type=int, default=1000)
    ap.add_argument("--phrasings", type=int, default=20, help="phrasings per FAQ (question + alternatives)")
    ap.add_argument("--pg", default=os.environ.get("KEFU_TEST_DATABASE_URL"))
    ap.add_argument("--with-index", action="store_true", help="also time the bot's index rebuild (slow)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.faqs, args.phrasings, args.with_index)
    if args.pg:
        run(args.pg, args.faqs, args.phrasings, args.with_index)


if __name__ == "__main__":
    main()
