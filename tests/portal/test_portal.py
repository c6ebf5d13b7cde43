"""Customer portal knowledge-base search."""

from __future__ import annotations

from typing import Any


def _faq(db: Any, brand: Any, locale: str, questions: list[str], answer: str, published: bool = True) -> None:
    from kefu.knowledge.service import create_faq

    create_faq(
        db,
        None,
        brand_id=brand.id,
        locale=locale,
        questions=questions,
        answer=answer,
        category=None,
        intent=None,
        is_published=published,
    )
    db.commit()


def test_search_matches_across_scripts_and_hides_drafts(client: Any, make: Any, db: Any) -> None:
    from kefu.knowledge.service import create_article

    brand = make.brand()
    _faq(db, brand, "zh-TW", ["忘記密碼怎麼辦？"], "請點選「忘記密碼」重設。")
    _faq(db, brand, "zh-TW", ["草稿問題 密碼"], "尚未發布", published=False)
    create_article(
        db,
        None,
        brand_id=brand.id,
        locale="en",
        category=None,
        title="Password help",
        body="Reset your password from the sign-in page.",
        is_published=True,
    )
    db.commit()
    r = client.get(f"/portal/{brand.slug}", params={"q": "忘记密码"})  # Simplified query, Traditional entry
    assert r.status_code == 200
    assert "請點選「忘記密碼」重設。" in r.text and "尚未發布" not in r.text
    r = client.get(f"/portal/{brand.slug}", params={"q": "password", "lang": "en"})
    assert "Reset your password" in r.text
    r = client.get(f"/portal/{brand.slug}", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    assert client.get("/portal/no-such-brand").status_code == 404
