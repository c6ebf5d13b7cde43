"""The admin import page over HTTP: preview shows row errors without writing, import applies, export downloads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kefu.knowledge.models import FaqEntry

GOOD = (
    "id,locale,category,question,alternatives,answer,format,published\r\n"
    'loan-1,zh-TW,貸款 > 房貸,房貸利率多少？,"房貸利率\n房屋貸款利率",請見<a href=""https://bank.example/rate"">利率表</a>,html,true\r\n'
    "loan-2,en,Loans,Mortgage rate?,mortgage interest,See the rate table.,text,true\r\n"
)
BAD = GOOD + "loan-3,fr,Loans,Q?,,A,text,true\r\nloan-1,zh-TW,x,dup?,,A,text,true\r\n"


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def test_admin_import_preview_then_apply_and_export(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    h = _login(client, make.agent("supervisor", [brand]))
    page = client.get("/admin/kb/import", params={"brand_id": brand.id})
    assert page.status_code == 200 and 'name="file"' in page.text and "<script>" not in page.text
    files = {"file": ("kb.csv", BAD.encode(), "text/csv")}
    r = client.post(
        "/admin/kb/import/preview", data={"brand_id": str(brand.id)}, files=files, headers={**h, "HX-Request": "true"}
    )
    assert r.status_code == 200 and 'id="kb-result"' in r.text and "<html" not in r.text  # an HTMX fragment
    # Row problems in the agent's language (the console's default, zh-TW), each a catalog text.
    assert "不支援的語言 &#39;fr&#39;" in r.text and "與第 1 列的 id 和語言相同" in r.text
    r = client.post("/admin/kb/import", data={"brand_id": str(brand.id)}, files=files, headers=h)
    assert r.status_code == 422 and "<html" in r.text  # without HTMX: the whole page, nothing written
    assert db.scalar(select(func.count(FaqEntry.id)).where(FaqEntry.brand_id == brand.id)) == 0
    good = {"file": ("kb.csv", GOOD.encode(), "text/csv")}
    r = client.post("/admin/kb/import", data={"brand_id": str(brand.id)}, files=good, headers=h)
    assert r.status_code == 200 and "2 " in r.text
    faq = db.scalars(select(FaqEntry).where(FaqEntry.external_id == "loan-1")).one()
    assert faq.questions == ["房貸利率多少？", "房貸利率", "房屋貸款利率"] and faq.category_path == ["貸款", "房貸"]
    exp = client.get("/admin/kb/export", params={"brand_id": brand.id, "format": "csv"})
    assert exp.status_code == 200 and "loan-1" in exp.text
    # The FAQ editor route next to it still takes ids only.
    edit = client.post(
        f"/admin/kb/{faq.id}", data={"questions": "房貸利率多少？", "answer": "見利率表", "published": "1"}, headers=h
    )
    assert edit.status_code == 200
    # Without the CSRF token or the permission: refused.
    assert client.post("/admin/kb/import", data={"brand_id": str(brand.id)}, files=good).status_code == 403
    client.cookies.clear()
    agent_h = _login(client, make.agent("agent", [brand]))
    assert (
        client.post("/admin/kb/import", data={"brand_id": str(brand.id)}, files=good, headers=agent_h).status_code
        == 403
    )


def test_admin_kb_tab_pages_and_searches_a_bank_sized_kb(client: Any, make: Any, db: Any) -> None:
    from kefu.knowledge import bulk

    brand = make.brand()
    rows = [{"id": f"q{i}", "locale": "zh-TW", "question": f"第 {i} 個問題", "answer": f"答案 {i}"} for i in range(120)]
    bulk.import_faqs(db, None, brand, rows)
    db.commit()
    _login(client, make.agent("supervisor", [brand]))
    page = client.get("/admin", params={"tab": "kb", "brand_id": brand.id, "locale": "zh-TW"})
    assert page.status_code == 200 and "共 120 題 · 1 / 3" in page.text
    assert page.text.count('class="faq-row"') == 50 and "下一頁" in page.text
    last = client.get("/admin", params={"tab": "kb", "brand_id": brand.id, "locale": "zh-TW", "page": 3})
    assert last.text.count('class="faq-row"') == 20 and "上一頁" in last.text
    found = client.get("/admin", params={"tab": "kb", "brand_id": brand.id, "locale": "zh-TW", "q": "第 77 個"})
    assert "共 1 題" in found.text and "第 77 個問題" in found.text
