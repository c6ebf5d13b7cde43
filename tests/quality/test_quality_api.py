"""The quarterly quality loop over the API (#17, seed 000 「歸因分析與分類建檔，納入季度品質改善計畫」「第三方抽檢」):
negative feedback of every source attributed to root causes and counted per quarter, plans drafted from the previous
quarter's top causes and tracked to closure, seeded third-party samples exported masked, findings imported back."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from kefu.core.db import utcnow
from tests.quality.helpers import World, utc

Q3 = utc(2026, 8, 10, 4)  # inside 2026Q3 in every zone


def _lead(make: Any, brand: Any) -> dict[str, str]:
    return make.token(make.agent("supervisor", [brand]))


def _attribute(client: Any, h: dict[str, str], source: str, source_id: int, cause: str) -> Any:
    body = {"source": source, "source_id": source_id, "cause_key": cause, "note": "根因"}
    return client.post("/api/v1/quality/attributions", json=body, headers=h)


def test_negative_feedback_is_attributed_and_the_summary_counts_by_cause_and_source(
    client: Any, make: Any, db: Any
) -> None:
    brand = make.brand()
    w = World(db, make, brand)
    low = w.csat(Q3, 1, "等太久")
    w.csat(Q3, 5)  # satisfied: not negative feedback
    complaint = w.complaint(Q3 + timedelta(hours=1))
    failed = w.qa(Q3 + timedelta(hours=2), passed=False)
    w.qa(Q3, passed=True, total=95)
    vote = w.bot_vote(Q3 + timedelta(hours=3), helpful=False)
    w.bot_vote(Q3, helpful=True)
    later = w.csat(utc(2026, 11, 2), 2)  # 2026Q4
    db.commit()
    h = _lead(make, brand)

    causes = client.get("/api/v1/quality/causes", params={"brand_id": brand.id}, headers=h).json()
    assert isinstance(causes, list), causes
    assert [(c["key"], c["label_zh_tw"], c["label_zh_cn"], c["label_en"]) for c in causes][:3] == [
        ("product", "產品", "产品", "Product"),
        ("process", "流程", "流程", "Process"),
        ("people", "人員", "人员", "People"),
    ]
    items = client.get("/api/v1/quality/feedback", params={"brand_id": brand.id, "quarter": "2026Q3"}, headers=h).json()
    assert sorted((i["source"], i["source_id"]) for i in items) == sorted(
        [("csat", low.id), ("complaint", complaint.id), ("qa", failed.id), ("bot", vote.id)]
    )
    assert {i["cause_key"] for i in items} == {None}

    assert _attribute(client, h, "csat", low.id, "process").status_code == 200
    assert _attribute(client, h, "complaint", complaint.id, "people").status_code == 200
    assert _attribute(client, h, "qa", failed.id, "people").status_code == 200
    assert _attribute(client, h, "csat", later.id, "system").status_code == 200  # next quarter: not counted in Q3
    # a custom cause, then re-attribution moves the item
    r = client.post(
        "/api/v1/quality/causes",
        json={
            "brand_id": brand.id,
            "key": "logistics",
            "label_zh_tw": "物流",
            "label_zh_cn": "物流",
            "label_en": "Logistics",
        },
        headers=h,
    )
    assert r.status_code == 201
    assert _attribute(client, h, "csat", low.id, "logistics").status_code == 200
    assert _attribute(client, h, "csat", low.id, "nope").status_code == 422
    assert _attribute(client, h, "bot", 999_999, "people").status_code == 404
    assert client.post("/api/v1/quality/attributions", json={"source": "tweet", "source_id": 1, "cause_key": "x"},
                       headers=h).status_code == 422  # fmt: skip

    s = client.get(
        "/api/v1/quality/attributions/summary", params={"brand_id": brand.id, "quarter": "2026Q3"}, headers=h
    ).json()
    assert s["quarter"] == "2026Q3" and s["total"] == 4 and s["attributed"] == 3
    assert s["by_cause"] == {"logistics": 1, "people": 2}
    assert sorted((r["cause_key"], r["source"], r["count"]) for r in s["rows"]) == [
        ("logistics", "csat", 1), ("people", "complaint", 1), ("people", "qa", 1),
    ]  # fmt: skip
    assert s["by_source"]["bot"] == 1 and s["unattributed"] == {
        "csat": 0, "campaign": 0, "complaint": 0, "qa": 0, "bot": 1, "audit": 0,
    }  # fmt: skip
    only = client.get(
        "/api/v1/quality/feedback",
        params={"brand_id": brand.id, "quarter": "2026Q3", "unattributed": True},
        headers=h,
    ).json()
    assert [(i["source"], i["source_id"]) for i in only] == [("bot", vote.id)]

    # another brand's lead sees none of it
    other = make.brand()
    ho = _lead(make, other)
    assert _attribute(client, ho, "csat", low.id, "product").status_code == 404
    r = client.get("/api/v1/quality/attributions/summary", params={"brand_id": brand.id}, headers=ho)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    agent = make.token(make.agent("agent", [brand]))
    assert _attribute(client, agent, "bot", vote.id, "system").status_code == 403


def test_quarters_follow_the_brand_timezone(client: Any, make: Any, db: Any) -> None:
    taipei = make.brand(timezone="Asia/Taipei", ticket_prefix="TPE")
    london = make.brand(timezone="Europe/London", ticket_prefix="LON")
    edge = utc(2026, 9, 30, 17)  # 2026-10-01 01:00 in Taipei, 18:00 on 30 Sep in London
    a = World(db, make, taipei).csat(edge, 1)
    b = World(db, make, london).csat(edge, 1)
    db.commit()
    h = make.token(make.agent("admin"))

    def quarter_of(brand: Any, quarter: str) -> list[int]:
        params = {"brand_id": brand.id, "quarter": quarter}
        return [i["source_id"] for i in client.get("/api/v1/quality/feedback", params=params, headers=h).json()]

    assert quarter_of(taipei, "2026Q4") == [a.id] and quarter_of(taipei, "2026Q3") == []
    assert quarter_of(london, "2026Q3") == [b.id] and quarter_of(london, "2026Q4") == []
    assert _attribute(client, h, "csat", a.id, "system").status_code == 200
    s = client.get(
        "/api/v1/quality/attributions/summary", params={"brand_id": taipei.id, "quarter": "2026Q4"}, headers=h
    ).json()
    assert s["by_cause"] == {"system": 1}
    r = client.get(f"/api/v1/quality/reports/{taipei.id}/2026Q4", headers=h).json()
    assert (r["start"], r["end"]) == ("2026-09-30T16:00:00Z", "2026-12-31T16:00:00Z")
    assert client.get("/api/v1/quality/feedback", params={"brand_id": taipei.id, "quarter": "2026Q5"},
                      headers=h).status_code == 422  # fmt: skip


def test_plan_is_drafted_from_last_quarters_top_causes_and_items_are_tracked_until_closed(
    client: Any, make: Any, db: Any
) -> None:
    brand = make.brand()
    w = World(db, make, brand)
    ids = {
        "process": [w.csat(Q3, 1).id, w.csat(Q3, 2).id, w.csat(Q3, 1).id],
        "people": [w.csat(Q3, 2).id, w.csat(Q3, 1).id],
        "system": [w.csat(Q3, 1).id],
        "policy": [w.csat(Q3, 2).id],
    }
    db.commit()
    h = _lead(make, brand)
    for cause, rows in ids.items():
        for source_id in rows:
            assert _attribute(client, h, "csat", source_id, cause).status_code == 200

    dry = client.post("/api/v1/quality/plans/draft", json={"brand_id": brand.id, "quarter": "2026Q4", "dry_run": True},
                      headers=h).json()  # fmt: skip
    assert dry["dry_run"] is True and dry["plan"] is None and dry["based_on"]["quarter"] == "2026Q3"
    assert [(p["cause_key"], p["count"]) for p in dry["proposals"]] == [("process", 3), ("people", 2), ("policy", 1)]
    assert client.get("/api/v1/quality/plans", params={"brand_id": brand.id}, headers=h).json() == []

    made = client.post("/api/v1/quality/plans/draft", json={"brand_id": brand.id, "quarter": "2026Q4"}, headers=h)
    assert made.status_code == 200
    plan = made.json()["plan"]
    assert [(i["cause_key"], i["due_date"], i["status"]) for i in plan["items"]] == [
        ("process", "2026-12-31", "open"), ("people", "2026-12-31", "open"), ("policy", "2026-12-31", "open"),
    ]  # fmt: skip
    first = plan["items"][0]
    assert sorted(e["id"] for e in first["evidence"]) == sorted(ids["process"])
    assert {e["source"] for e in first["evidence"]} == {"csat"}
    again = client.post("/api/v1/quality/plans/draft", json={"brand_id": brand.id, "quarter": "2026Q4"}, headers=h)
    assert again.json()["proposals"] == [] and len(again.json()["plan"]["items"]) == 3  # idempotent

    # a lead adds an item already past its due date, with an owner and a case as evidence
    owner = make.agent("agent", [brand])
    case = w.case("物流延誤")
    db.commit()
    yesterday = (utcnow() - timedelta(days=2)).date().isoformat()
    item = client.post(
        f"/api/v1/quality/plans/{plan['id']}/items",
        json={"title": "縮短退款流程", "cause_key": "process", "owner_id": owner.id, "due_date": yesterday,
              "evidence": [{"source": "case", "id": case.id}, {"source": "csat", "id": ids["process"][0]}]},
        headers=h,
    )  # fmt: skip
    assert item.status_code == 201 and item.json()["overdue"] is True
    item_id = item.json()["id"]
    overdue = client.get("/api/v1/quality/plan-items/overdue", params={"brand_id": brand.id}, headers=h).json()
    assert [i["id"] for i in overdue] == [item_id]
    foreign_case = World(db, make, make.brand(ticket_prefix="FX")).case()
    db.commit()
    foreign = {"evidence": [{"source": "case", "id": foreign_case.id}]}
    bad = client.patch(f"/api/v1/quality/plan-items/{item_id}", json=foreign, headers=h)
    assert bad.status_code == 422

    def move(target: str, note: str = "") -> Any:
        body = {"status": target, "verification_note": note}
        return client.post(f"/api/v1/quality/plan-items/{item_id}/status", json=body, headers=h)

    assert move("in_progress").json()["status"] == "in_progress"
    assert move("closed").status_code == 422  # closing needs a verification note
    assert move("done").json()["completed_at"] is not None
    closed = move("closed", "抽查 20 件退款皆 3 日內完成")
    assert closed.json()["status"] == "closed" and closed.json()["on_time"] is False  # completed after its due date
    assert move("open").status_code == 409  # closed is final
    assert client.get("/api/v1/quality/plan-items/overdue", params={"brand_id": brand.id}, headers=h).json() == []

    on_time_id = plan["items"][0]["id"]
    for target in ("in_progress", "done"):
        r = client.post(f"/api/v1/quality/plan-items/{on_time_id}/status", json={"status": target}, headers=h)
        assert r.status_code == 200
    report = client.get(f"/api/v1/quality/reports/{brand.id}/2026Q4", headers=h).json()
    assert report["progress"]["total"] == 4 and report["progress"]["completed"] == 2
    assert report["progress"]["on_time"] == 1 and report["progress"]["on_time_rate"] == 0.25
    assert report["progress"]["by_status"] == {"open": 2, "in_progress": 0, "done": 1, "closed": 1}
    # the KPIs are the analytics service's own numbers for the same period
    dash = client.get(
        "/api/v1/analytics/dashboard",
        params={"brand_id": brand.id, "start": report["start"], "end": report["end"]},
        headers=h,
    ).json()
    assert report["kpis"]["csat"] == dash["csat"] and report["kpis"]["qa"] == dash["qa_correctness"]
    assert report["kpis"]["regulator_on_time"] == dash["regulator_on_time"]
    assert report["kpis"]["complaints"]["received"] == dash["complaints"]["received"]

    ho = _lead(make, make.brand())
    assert client.get(f"/api/v1/quality/plans/{plan['id']}", headers=ho).status_code == 404
    assert client.post(f"/api/v1/quality/plan-items/{on_time_id}/status", json={"status": "closed",
                       "verification_note": "x"}, headers=ho).status_code == 404  # fmt: skip
    assert (
        client.get("/api/v1/quality/plan-items/overdue", params={"brand_id": brand.id}, headers=ho).status_code == 404
    )


def test_third_party_sample_is_seeded_reproducible_masked_and_audited(client: Any, make: Any, db: Any) -> None:
    from sqlalchemy import select

    from kefu.audit.models import AuditLog

    brand = make.brand()
    w = World(db, make, brand)
    closed = [
        w.case(f"案件 {n}", closed_at=Q3 + timedelta(hours=n), description="請回電 0912345678 或寄 ming@example.com")
        for n in range(41)
    ]
    w.case("開著的案件")  # open: not in the population
    w.case("上一季", closed_at=utc(2026, 6, 1))
    db.commit()
    h = _lead(make, brand)

    body = {"brand_id": brand.id, "quarter": "2026Q3", "seed": "audit-2026q3", "auditor": "安永"}
    one = client.post("/api/v1/quality/samples", json=body, headers=h).json()
    two = client.post("/api/v1/quality/samples", json=body, headers=h).json()
    assert (one["population"], one["sampled"], one["rate"]) == (41, 3, 0.05)  # ceil(5 % × 41)
    assert one["ticket_ids"] == two["ticket_ids"] and set(one["ticket_ids"]) <= {t.id for t in closed}
    other = client.post("/api/v1/quality/samples", json={**body, "seed": "another"}, headers=h).json()
    assert other["ticket_ids"] != one["ticket_ids"]
    unseeded = client.post("/api/v1/quality/samples", json={"brand_id": brand.id, "quarter": "2026Q3", "rate": 0.1},
                           headers=h).json()  # fmt: skip
    assert unseeded["sampled"] == 5 and unseeded["seed"]  # a random seed, recorded
    again = client.post("/api/v1/quality/samples", json={**body, "seed": unseeded["seed"], "rate": 0.1}, headers=h)
    assert again.json()["ticket_ids"] == unseeded["ticket_ids"]  # the recorded seed reproduces it

    rows = client.get(f"/api/v1/quality/samples/{one['id']}/export", headers=h).json()
    text = client.get(f"/api/v1/quality/samples/{one['id']}/export", params={"format": "csv"}, headers=h)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(text.text)))
    numbers = {t.id: t.number for t in closed}
    assert [r["case_number"] for r in rows] == [numbers[i] for i in one["ticket_ids"]]
    assert [r["case_number"] for r in parsed] == [r["case_number"] for r in rows]
    # an admin (who may reveal personal data in the console) still gets a masked export
    admin = make.token(make.agent("admin"))
    admin_csv = client.get(f"/api/v1/quality/samples/{one['id']}/export", params={"format": "csv"}, headers=admin)
    for payload in (text.text, admin_csv.text, str(rows)):
        for secret in ("王小明", "0912345678", "ming@example.com"):
            assert secret not in payload
    assert parsed[0]["customer_name"] and parsed[0]["customer_name"] != "王小明"
    assert parsed[0]["subject"].startswith("案件")

    db.expire_all()
    exports = db.scalars(select(AuditLog).where(AuditLog.action == "quality.sample_export")).all()
    assert sorted((e.details["format"], e.details["rows"]) for e in exports) == [("csv", 3), ("csv", 3), ("json", 3)]
    created = db.scalars(select(AuditLog).where(AuditLog.action == "quality.sample_create")).all()
    assert {e.details["seed"] for e in created} >= {"audit-2026q3", "another", unseeded["seed"]}

    reader = make.token(make.agent("auditor", [brand]))
    assert client.get(f"/api/v1/quality/samples/{one['id']}", headers=reader).status_code == 200
    assert client.get(f"/api/v1/quality/samples/{one['id']}/export", headers=reader).status_code == 403
    ho = _lead(make, make.brand())
    assert client.get(f"/api/v1/quality/samples/{one['id']}/export", headers=ho).status_code == 404
    assert client.post("/api/v1/quality/samples", json=body, headers=ho).status_code == 404
    assert client.post("/api/v1/quality/samples", json={**body, "rate": 0}, headers=h).status_code == 422


def test_auditor_findings_come_back_as_attributed_feedback(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    w = World(db, make, brand)
    cases = [w.case(f"案件 {n}", closed_at=Q3 + timedelta(hours=n)) for n in range(4)]
    outside = w.case("不在樣本", closed_at=utc(2026, 5, 1))
    db.commit()
    h = _lead(make, brand)
    sample = client.post(
        "/api/v1/quality/samples", json={"brand_id": brand.id, "quarter": "2026Q3", "rate": 1, "seed": "s"}, headers=h
    ).json()
    assert sample["sampled"] == 4
    n = [c.number for c in cases]
    text = (
        "case_number,score,finding,cause\n"
        f"{n[0]},62,未依 SOP 核對身分,process\n"
        f"{n[1]},95,處理妥當\n"
        f"{n[2]},40,答覆錯誤\n"
        f"{outside.number},50,不在樣本\n"
        f"{n[3]},abc,分數錯誤\n"
        f"{n[3]},70,用了不存在的原因,nope\n"
    )
    r = client.post(f"/api/v1/quality/samples/{sample['id']}/findings", json={"csv": text}, headers=h).json()
    assert (r["imported"], r["attributed"]) == (3, 1)
    assert [e["line"] for e in r["errors"]] == [5, 6, 7]

    items = client.get("/api/v1/quality/feedback", params={"brand_id": brand.id, "quarter": quarter_now()},
                       headers=h).json()  # fmt: skip
    audit = sorted((i["ticket_number"], i["score"], i["cause_key"]) for i in items if i["source"] == "audit")
    assert audit == sorted([(n[0], 62.0, "process"), (n[2], 40.0, None)])  # 95 passes: not negative feedback
    # re-importing a case replaces its finding
    r = client.post(f"/api/v1/quality/samples/{sample['id']}/findings", json={"csv": f"{n[2]},85,複查後合格"},
                    headers=h).json()  # fmt: skip
    assert r["imported"] == 1
    items = client.get("/api/v1/quality/feedback", params={"brand_id": brand.id, "source": "audit"}, headers=h).json()
    assert [i["ticket_number"] for i in items] == [n[0]]
    ho = _lead(make, make.brand())
    assert client.post(f"/api/v1/quality/samples/{sample['id']}/findings", json={"csv": text},
                       headers=ho).status_code == 404  # fmt: skip


def quarter_now() -> str:
    """The current quarter in Taipei (findings are dated when imported)."""
    from kefu.quality.service import quarter_of

    return quarter_of(utcnow(), "Asia/Taipei")


def test_quarter_arithmetic() -> None:
    from kefu.quality.service import previous_quarter, quarter

    q = quarter("2026Q1", "Asia/Taipei")
    assert (q.first_day, q.last_day) == (date(2026, 1, 1), date(2026, 3, 31))
    assert previous_quarter("2026Q1") == "2025Q4" and previous_quarter("2026Q3") == "2026Q2"
    assert quarter("2026q4", "UTC").last_day == date(2026, 12, 31)


def test_summary_and_feedback_list_cost_the_same_queries_for_more_items(
    client: Any, make: Any, db: Any, count_queries: Any
) -> None:
    brand = make.brand()
    w = World(db, make, brand)
    h = _lead(make, brand)
    params = {"brand_id": brand.id, "quarter": "2026Q3"}

    def add(n: int) -> None:
        for _ in range(n):
            row = w.csat(Q3, 1)
            db.commit()
            assert _attribute(client, h, "csat", row.id, "process").status_code == 200
            w.bot_vote(Q3, helpful=False)
            db.commit()

    def measure() -> tuple[int, int]:
        """Each list's queries with warm caches: the fewest of three calls in a row. A configuration cache's TTL
        can lapse, or an invalidation published after `add`'s commit arrive, between any two calls on a loaded
        machine; that costs a call a cache refill, which is not what this test is about (per-item queries are)."""
        counts = []
        for path in ("/api/v1/quality/attributions/summary", "/api/v1/quality/feedback"):
            seen = []
            for _ in range(3):
                with count_queries() as q:
                    assert client.get(path, params=params, headers=h).status_code == 200
                seen.append(q.count)
            counts.append(min(seen))
        return counts[0], counts[1]

    add(2)
    few = measure()
    add(6)
    many = measure()
    assert few == many, (few, many)
    s = client.get("/api/v1/quality/attributions/summary", params=params, headers=h).json()
    assert s["by_cause"] == {"process": 8} and s["unattributed"]["bot"] == 8
