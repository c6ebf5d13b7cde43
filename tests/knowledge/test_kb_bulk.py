"""Bulk FAQ import/export through the API and the CLI: idempotent by external id, row errors, one kb.changed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from kefu.knowledge.models import FaqEntry

CSV_HEAD = "id,locale,category,question,alternatives,answer,format,published\r\n"


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    w = csv.DictWriter(
        out, fieldnames=["id", "locale", "category", "question", "alternatives", "answer", "format", "published"]
    )
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


def _bank_rows(n: int, per: int = 30) -> list[dict[str, Any]]:
    return [
        {
            "id": f"card-{i}",
            "locale": "zh-TW",
            "category": "信用卡 > 掛失",
            "question": f"信用卡遺失怎麼辦 {i}？",
            "alternatives": "\n".join(f"卡片不見了 {i}-{k}" for k in range(per - 1)),
            "answer": f'<p>請撥打 <a href="https://bank.example/lost/{i}">掛失專線</a></p><script>x()</script>',
            "format": "html",
            "published": "true",
        }
        for i in range(n)
    ]


@pytest.fixture
def editor(make: Any) -> tuple[Any, dict[str, str]]:
    brand = make.brand()
    return brand, make.token(make.agent("supervisor", [brand]))


def _import(client: Any, brand_id: int, body: bytes, *, dry: bool = False, ctype: str = "text/csv", h: Any) -> Any:
    return client.post(
        "/api/v1/kb/import",
        params={"brand_id": brand_id, "dry_run": dry},
        content=body,
        headers={**h, "Content-Type": ctype},
    )


def test_import_creates_then_reimport_updates_without_duplicates(
    client: Any, db: Any, editor: Any, events: list[Any]
) -> None:
    brand, h = editor
    rows = _bank_rows(40, per=60)  # more than the old 50-phrasing cap
    # Dry run: counts and a preview, nothing written, no event.
    r = _import(client, brand.id, _csv(rows), dry=True, h=h)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["created"], rep["applied"], rep["phrasings"], rep["errors"]) == (40, False, 2400, [])
    assert rep["preview"][0] == {
        "row": 1, "action": "create", "id": "card-0", "locale": "zh-TW", "category": "信用卡 > 掛失",
        "question": "信用卡遺失怎麼辦 0？", "phrasings": 60, "format": "html", "published": True,
    }  # fmt: skip
    assert db.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.brand_id == brand.id)) == 0
    assert not [e for e in events if e.type == "kb.changed"]

    r = _import(client, brand.id, _csv(rows), h=h)
    assert r.status_code == 200 and r.json()["created"] == 40 and r.json()["applied"] is True
    faq = db.scalars(select(FaqEntry).where(FaqEntry.external_id == "card-7")).one()
    assert faq.category_path == ["信用卡", "掛失"] and faq.category == "信用卡" and len(faq.questions) == 60
    assert "script" not in faq.answer and 'href="https://bank.example/lost/7"' in faq.answer
    assert faq.answer_format == "html"
    changed = [e for e in events if e.type == "kb.changed"]
    assert len(changed) == 1 and changed[0].data["created"] == 40  # one event per import, not per row

    # Same file again: nothing changes, no event (the bot does not rebuild for nothing).
    events.clear()
    before = faq.updated_at
    r = _import(client, brand.id, _csv(rows), h=h)
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 0, 40)
    assert not [e for e in events if e.type == "kb.changed"]
    db.expire_all()
    assert db.get(FaqEntry, faq.id).updated_at == before

    # An edited answer and an English copy sharing the external id.
    rows[7]["answer"] = "Call **1234**"
    rows[7]["format"] = "markdown"
    rows.append({**rows[7], "locale": "en", "question": "Lost my card", "alternatives": "card stolen"})
    r = _import(client, brand.id, _csv(rows), h=h)
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (1, 1, 39)
    db.expire_all()
    copies = db.scalars(select(FaqEntry).where(FaqEntry.external_id == "card-7").order_by(FaqEntry.locale)).all()
    assert [(c.locale, c.answer_format) for c in copies] == [("en", "markdown"), ("zh-TW", "markdown")]
    assert db.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.brand_id == brand.id)) == 41
    assert len([e for e in events if e.type == "kb.changed"]) == 1


def test_row_errors_are_reported_and_nothing_is_written(client: Any, db: Any, editor: Any) -> None:
    brand, h = editor
    rows = _bank_rows(3)
    rows[0]["locale"] = "fr"
    rows[1]["answer"] = "<script>only()</script>"
    rows.append({**rows[2]})  # duplicate id + locale
    rows.append({"id": "", "locale": "zh-TW", "question": "", "answer": "x", "format": "rtf", "published": "maybe"})
    r = _import(client, brand.id, _csv(rows), h=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    errs = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert errs == {
        (1, "locale"),
        (2, "answer"),
        (4, "id"),
        (5, "id"),
        (5, "format"),
        (5, "question"),
        (5, "published"),
    }
    assert r.json()["applied"] is False
    assert db.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.brand_id == brand.id)) == 0
    # Unreadable files are a clear 422 too, never a 500.
    for body, ctype in ((b"\xff\xfe\x00garbage\xff", "text/csv"), (b"{not json", "application/json"),
                        (b"name,text\r\nx,y\r\n", "text/csv"), (b'{"faqs": 3}', "application/json")):  # fmt: skip
        bad = _import(client, brand.id, body, ctype=ctype, h=h)
        assert bad.status_code == 422, (body, bad.text)


def test_json_and_multipart_upload_export_round_trip_and_permissions(
    client: Any, db: Any, editor: Any, make: Any
) -> None:
    brand, h = editor
    doc = {
        "faqs": [
            {
                "id": "fx-1",
                "locale": "en",
                "category": ["Forex", "Rates"],
                "question": "What is the USD rate?",
                "alternatives": ["usd rate today", "dollar exchange rate"],
                "answer": "See [rates](https://bank.example/fx).",
                "format": "markdown",
                "published": False,
            }
        ]
    }
    files = {"file": ("kb.json", json.dumps(doc).encode(), "application/json")}
    r = client.post("/api/v1/kb/import", params={"brand_id": brand.id}, files=files, headers=h)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    # An FAQ created by hand (no external id) is exported as faq-<id> and adopted on re-import.
    manual = client.post(
        "/api/v1/kb/faqs",
        json={"brand_id": brand.id, "locale": "zh-TW", "questions": ["營業時間"], "answer": "週一至週五 9:00–15:30"},
        headers=h,
    ).json()
    # csv: the hand-made FAQ gets its external id (1 update); json afterwards: nothing left to change.
    for fmt, expected in (("csv", (0, 1, 1)), ("json", (0, 0, 2))):
        exp = client.get("/api/v1/kb/export", params={"brand_id": brand.id, "format": fmt}, headers=h)
        assert exp.status_code == 200 and "attachment" in exp.headers["content-disposition"]
        again = _import(client, brand.id, exp.content, ctype="text/csv" if fmt == "csv" else "application/json", h=h)
        assert again.status_code == 200, again.text
        assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == expected, fmt
    assert db.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.brand_id == brand.id)) == 2
    db.expire_all()
    assert db.get(FaqEntry, manual["id"]).external_id == f"faq-{manual['id']}"
    exported = client.get("/api/v1/kb/export", params={"brand_id": brand.id, "format": "json"}, headers=h).json()
    fx = next(f for f in exported["faqs"] if f["id"] == "fx-1")
    assert fx["category"] == ["Forex", "Rates"] and fx["alternatives"] == ["usd rate today", "dollar exchange rate"]
    assert fx["published"] is False and fx["format"] == "markdown"
    # Agents may export (kb:read) but not import; other brands are invisible.
    agent_h = make.token(make.agent("agent", [brand]))
    assert _import(client, brand.id, _csv(_bank_rows(1)), h=agent_h).status_code == 403
    other = make.brand()
    assert _import(client, other.id, _csv(_bank_rows(1)), h=h).status_code == 404
    assert client.get("/api/v1/kb/export", params={"brand_id": other.id}, headers=h).status_code == 404


def test_import_statement_count_does_not_grow_per_row(client: Any, db: Any, editor: Any, engine: Any) -> None:
    brand, h = editor
    counts = []
    for n in (20, 200):
        statements: list[str] = []

        def count(conn: Any, cursor: Any, stmt: str, *args: Any) -> None:
            statements.append(stmt)

        event.listen(engine, "before_cursor_execute", count)
        try:
            rows = [dict(r, id=f"n{n}-{r['id']}") for r in _bank_rows(n, per=5)]
            assert _import(client, brand.id, _csv(rows), h=h).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(statements))
    # Batched inserts: ten times the rows must not mean ten times the round trips.
    assert counts[1] < counts[0] * 3, counts


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from kefu.core import runtime
    from kefu.core.config import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    get_settings.cache_clear()
    previous = runtime.install(None)  # a fresh implicit runtime: the database comes from KEFU_DATABASE_URL
    yield url
    get_settings.cache_clear()
    runtime.install(previous)


def test_cli_import_dry_run_summary_and_export(cli_db: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kefu.brands.service import create_brand
    from kefu.cli import app
    from kefu.core.db import get_database

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with get_database().session() as s:
        create_brand(s, slug="bank", name="Bank")
    src = tmp_path / "kb.csv"
    src.write_bytes(_csv(_bank_rows(25, per=10)))
    r = runner.invoke(app, ["kb", "import", str(src), "--brand", "bank", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "25 rows: would create 25, would update 0, unchanged 0, 250 phrasings, 0 errors" in r.output
    assert "dry run, nothing written" in r.output
    r = runner.invoke(app, ["kb", "import", str(src), "--brand", "bank"])
    assert r.exit_code == 0 and "25 rows: created 25, updated 0" in r.output, r.output
    r = runner.invoke(app, ["kb", "import", str(src), "--brand", "bank"])
    assert "created 0, updated 0, unchanged 25" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv([{**_bank_rows(1)[0], "locale": "xx"}]))
    r = runner.invoke(app, ["kb", "import", str(bad), "--brand", "bank"])
    assert r.exit_code == 1 and "row 1 (id card-0): locale: Unknown locale 'xx'" in r.output
    assert "nothing imported" in r.output
    assert runner.invoke(app, ["kb", "import", str(src), "--brand", "nope"]).exit_code != 0
    out = tmp_path / "out.json"
    r = runner.invoke(app, ["kb", "export", "--brand", "bank", "--format", "json", "-o", str(out)])
    assert r.exit_code == 0 and len(json.loads(out.read_text())["faqs"]) == 25


def test_single_faq_api_sanitises_html_and_keeps_external_ids_unique(client: Any, db: Any, editor: Any) -> None:
    brand, h = editor
    body = {
        "brand_id": brand.id,
        "locale": "zh-TW",
        "external_id": "atm-1",
        "category_path": ["ATM", "提款"],
        "questions": ["ATM 吞卡怎麼辦", "卡片被ATM吃掉"],
        "answer": '<p>請撥 <a href="https://bank.example/atm" onclick="x()">客服</a></p><script>x()</script>',
        "answer_format": "html",
    }
    r = client.post("/api/v1/kb/faqs", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["external_id"] == "atm-1" and out["category_path"] == ["ATM", "提款"] and out["category"] == "ATM"
    assert "script" not in out["answer"] and "onclick" not in out["answer"] and out["answer_format"] == "html"
    assert client.post("/api/v1/kb/faqs", json=body, headers=h).status_code == 409  # same id + locale
    assert client.post("/api/v1/kb/faqs", json={**body, "locale": "en"}, headers=h).status_code == 201  # a copy
    assert client.post("/api/v1/kb/faqs", json={**body, "answer_format": "rtf"}, headers=h).status_code == 422
    only_script = client.post(
        "/api/v1/kb/faqs", json={**body, "external_id": "x", "answer": "<script>x()</script>"}, headers=h
    )
    assert only_script.status_code == 422
    patched = client.patch(
        f"/api/v1/kb/faqs/{out['id']}", json={"answer": "**粗體**", "answer_format": "markdown"}, headers=h
    ).json()
    assert patched["answer"] == "**粗體**" and patched["answer_format"] == "markdown"
