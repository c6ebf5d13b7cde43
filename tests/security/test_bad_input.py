"""Bad input gets a clear 4xx in the reader's language and stores nothing: the classes the fuzz exploration found
(benchmarks/fuzz_explore.py, docs/DEVELOPING.md "Bad input never a 500"), each held at its one rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

# JSON bodies no column, provider or response can hold: refused where the body is parsed (kefu.core.textrules).
STRICT_JSON_CASES = {
    "lone surrogate": b'{"brand_id": %d, "name": "r", "conditions": {"channel": ["\\ud800"]}, "actions": {}}',
    "NaN": b'{"brand_id": %d, "name": "r", "conditions": {"channel": [NaN]}, "actions": {}}',
    "Infinity": b'{"brand_id": %d, "name": "r", "conditions": {"channel": -Infinity}, "actions": {}}',
    "not UTF-8": b'{"brand_id": %d, "name": "r\xff\xfe", "conditions": {}, "actions": {}}',
}


@pytest.mark.parametrize("case", sorted(STRICT_JSON_CASES))
def test_a_json_body_that_cannot_be_stored_is_a_422_in_the_readers_language(
    client: Any, make: Any, db: Any, case: str
) -> None:
    """A free-form JSON field (routing rule conditions) carrying such a value: 422 json_invalid, no rule stored."""
    from kefu.routing.models import RoutingRule

    brand = make.brand()
    headers = {**make.token(make.agent("admin")), "Content-Type": "application/json", "Accept-Language": "zh-TW"}
    r = client.post("/api/v1/routing/rules", content=STRICT_JSON_CASES[case] % brand.id, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["type"] == "json_invalid"
    assert r.json()["errors"][0]["msg"] == "JSON 格式錯誤，無法解讀。"
    assert db.scalar(select(func.count()).select_from(RoutingRule)) == 0


def test_the_same_rule_holds_for_the_widgets_websocket_frames() -> None:
    """The frames parser shares strict_json: a NaN or a lone surrogate is an invalid frame, not a stored value."""
    import json

    from kefu.core.textrules import strict_json

    for raw in ('{"op": "send", "n": NaN}', '{"op": "s\\udc00"}', b'{"op": "\xff"}'):
        with pytest.raises(json.JSONDecodeError):
            strict_json(raw)
    assert strict_json('{"op": "\\ud83d\\ude00"}') == {"op": "😀"}  # a surrogate pair is a real character


def test_an_escalation_contact_that_is_no_agent_of_the_brand_is_a_422(client: Any, make: Any, db: Any) -> None:
    """Found by the exploration: the foreign key refused an unknown agent (a raise); now the service says so."""
    from kefu.sla.models import EscalationContact

    brand = make.brand()
    outsider = make.agent("agent", [make.brand()])
    headers = {**make.token(make.agent("admin")), "Accept-Language": "zh-TW"}
    for agent_id in (987654, outsider.id):
        body = {"brand_id": brand.id, "contacts": [{"level": "supervisor", "agent_id": agent_id}]}
        r = client.put("/api/v1/sla/escalation-contacts", json=body, headers=headers)
        assert r.status_code == 422, r.text
        assert str(agent_id) in r.json()["detail"] and "品牌" in r.json()["detail"]
    assert db.scalar(select(func.count()).select_from(EscalationContact)) == 0


def _violates() -> None:
    from sqlalchemy.exc import IntegrityError

    raise IntegrityError("INSERT INTO x", {}, Exception("UNIQUE constraint failed: x.y"))


@pytest.fixture
def raw_client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    for path in ("/api/v1/test-integrity", "/console/test-integrity"):
        app.add_api_route(path, _violates, methods=["POST"])
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def test_a_constraint_no_service_checked_is_a_409_not_a_500(raw_client: Any) -> None:
    """The net under every service check: an IntegrityError is the request's fault (409, nothing stored)."""
    r = raw_client.post("/api/v1/test-integrity", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "这条数据与已保存的数据冲突（重复，或指向不存在的项目），没有做任何更改。"
    assert "UNIQUE" not in r.text
    page = raw_client.post("/console/test-integrity", headers={"Accept-Language": "en"})
    assert page.status_code == 409 and page.headers["content-type"].startswith("text/html")
    assert "UNIQUE" not in page.text


def test_a_report_year_no_calendar_has_is_a_422(client: Any, make: Any) -> None:
    """Found by the exploration: year=-871 raised building the year's bounds (complaint and regulator stats)."""
    brand = make.brand()
    headers = make.token(make.agent("admin"))
    for path in ("/api/v1/complaint-deadlines/stats", "/api/v1/regulator-cases/stats"):
        for year in (-871, 0, 10_000):
            r = client.get(path, params={"brand_id": brand.id, "year": year}, headers=headers)
            assert r.status_code == 422, (path, year, r.text)
        assert client.get(path, params={"brand_id": brand.id, "year": 2026}, headers=headers).status_code == 200
