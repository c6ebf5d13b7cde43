"""`?q=` searches: LIKE metacharacters are literal everywhere, and masked values cannot be confirmed by fragment."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
HELPER = SRC / "core" / "like.py"
RAW = {"like", "ilike", "notlike", "notilike", "not_like", "not_ilike"}


def _raw_like_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RAW
    ]


def test_no_raw_like_outside_the_helper() -> None:
    bad = {str(p.relative_to(SRC)): lines for p in SRC.rglob("*.py") if p != HELPER and (lines := _raw_like_calls(p))}
    assert bad == {}, f"build LIKE conditions with kefu.core.like (contains/startswith/pattern): {bad}"


def test_escape_like_round_trip(db: Any, make: Any) -> None:
    from sqlalchemy import literal, select

    from kefu.core.like import contains, escape_like

    assert escape_like("a%b_c\\") == "a\\%b\\_c\\\\"
    assert db.scalar(select(contains(literal("100% sure"), "0% s")))
    assert not db.scalar(select(contains(literal("1000 sure"), "0% s")))
    assert not db.scalar(select(contains(literal("abc"), "a_c")))
    assert db.scalar(select(contains(literal("a\\b"), "a\\b")))


def test_customer_search_without_reveal_needs_the_whole_value(client: Any, make: Any) -> None:
    brand = make.brand()
    make.customer(brand, name="王小明", email="ming@example.com", phone="0912345678")
    agent = make.token(make.agent("agent", [brand]))  # no pii:reveal
    boss = make.token(make.agent("supervisor", [brand]))  # has pii:reveal

    def hits(q: str, h: Any) -> int:
        r = client.get("/api/v1/customers", params={"q": q, "brand_id": brand.id}, headers=h)
        assert r.status_code == 200, r.text
        return len(r.json()["items"])

    for probe in ("0912%678", "0912%", "%", "_", "0912", "ming@", "王小"):
        assert hits(probe, agent) == 0, probe
    assert hits("0912345678", agent) == 1 and hits("ming@example.com", agent) == 1 and hits("王小明", agent) == 1
    assert hits("0912", boss) == 1 and hits("0912%678", boss) == 0 and hits("%", boss) == 0


def test_canned_search_treats_percent_literally(client: Any, make: Any) -> None:
    brand = make.brand()
    agent = make.agent("admin", [brand])
    h = make.token(agent)
    r = client.post(
        "/api/v1/canned-responses",
        json={"brand_id": brand.id, "locale": "en", "shortcut": "hello", "title": "Hello", "body": "Hi"},
        headers=h,
    )
    assert r.status_code in (200, 201), r.text
    assert client.get("/api/v1/canned-responses", params={"brand_id": brand.id, "q": "%"}, headers=h).json() == []
