"""The FAQ and article editors: locale copies side by side, needs-translation state, preview, publish, errors kept."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from kefu.knowledge.models import Article, FaqEntry


def _login(client: Any, agent: Any) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def test_faq_editor_creates_locale_copies_and_marks_missing_ones(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    h = _login(client, make.agent("supervisor", [brand]))
    page = client.get("/admin/kb/faq/new", params={"brand_id": brand.id, "lang": "zh-TW"})
    assert page.status_code == 200 and page.text.count("待翻譯") == 3
    form = {
        "brand_id": str(brand.id),
        "category": "帳戶 > 密碼",
        "q_zh-TW": "忘記密碼怎麼辦？",
        "alt_zh-TW": "密碼忘了\n登入不了",
        "answer_zh-TW": "請到**登入頁**點「忘記密碼」。",
        "fmt_zh-TW": "markdown",
        "pub_zh-TW": "1",
        "q_zh-CN": "忘记密码怎么办？",
        "answer_zh-CN": "",
        "fmt_zh-CN": "text",
        "fmt_en": "text",
    }
    bad = client.post("/admin/kb/faq", data=form, headers=h)
    assert bad.status_code == 422
    assert re.search(r'id="faq-answer_zh-CN-err">問法和答案都要填', bad.text)
    assert "密碼忘了\n登入不了" in bad.text and "請到**登入頁**" in bad.text  # nothing typed is lost
    form["answer_zh-CN"] = "请到登录页点击“忘记密码”。"
    ok = client.post("/admin/kb/faq", data=form, headers=h, follow_redirects=False)
    assert ok.status_code == 303
    rows = list(db.scalars(select(FaqEntry).where(FaqEntry.brand_id == brand.id).order_by(FaqEntry.locale)))
    assert [r.locale for r in rows] == ["zh-CN", "zh-TW"] and rows[0].external_id == rows[1].external_id
    tw = next(r for r in rows if r.locale == "zh-TW")
    assert tw.questions == ["忘記密碼怎麼辦？", "密碼忘了", "登入不了"] and tw.category_path == ["帳戶", "密碼"]
    assert tw.answer_format == "markdown" and tw.is_published and not rows[0].is_published
    editor = client.get(ok.headers["location"] + "&lang=en")
    assert editor.text.count("Needs translation") == 1 and editor.text.count(">Translated<") == 2
    listing = client.get("/admin", params={"tab": "kb", "brand_id": brand.id, "locale": "zh-TW", "lang": "en"})
    assert "忘記密碼怎麼辦？" in listing.text and "en · Needs translation" in listing.text
    preview = client.post(
        "/admin/kb/preview",
        data={"preview_locale": "zh-TW", "answer_zh-TW": "**粗體** <script>x()</script>", "fmt_zh-TW": "markdown"},
        headers={**h, "HX-Request": "true"},
    )
    assert "<strong>粗體</strong>" in preview.text and "<script>" not in preview.text


def test_article_editor_saves_and_keeps_text_on_error(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    h = _login(client, make.agent("supervisor", [brand]))
    form = {"brand_id": str(brand.id), "locale": "zh-TW", "title": "", "body": "## 退貨流程\n1. 申請", "pub": "1"}
    bad = client.post("/admin/kb/article", data=form, headers=h)
    assert bad.status_code == 422 and "## 退貨流程" in bad.text and 'id="article-title-err"' in bad.text
    ok = client.post("/admin/kb/article", data={**form, "title": "如何退貨"}, headers=h, follow_redirects=False)
    assert ok.status_code == 303
    art = db.scalar(select(Article).where(Article.brand_id == brand.id))
    assert art.title == "如何退貨" and art.is_published
    unpublish = {**form, "title": "如何退貨", "id": str(art.id), "pub": ""}
    client.post("/admin/kb/article", data=unpublish, headers=h)
    db.expire_all()
    assert db.get(Article, art.id).is_published is False
    agent_h = _login(client, make.agent("agent", [brand]))
    assert client.post("/admin/kb/article", data=form, headers=agent_h).status_code == 403


def test_new_faq_and_article_without_a_brand_open_the_agent_first_brand(client: Any, make: Any, db: Any) -> None:
    """/admin/kb/faq/new without ?brand_id answered 422 「有欄位格式不正確」 instead of the editor."""
    make.brand()  # a brand the supervisor cannot see comes first
    brand = make.brand()
    _login(client, make.agent("supervisor", [brand]))
    faq = client.get("/admin/kb/faq/new", params={"lang": "zh-TW"})
    assert faq.status_code == 200 and faq.text.count("待翻譯") == 3
    assert f'name="brand_id" value="{brand.id}"' in faq.text
    art = client.get("/admin/kb/article/new", params={"lang": "en"})
    assert art.status_code == 200 and f'name="brand_id" value="{brand.id}"' in art.text
