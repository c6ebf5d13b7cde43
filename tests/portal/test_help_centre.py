"""Help centre: topics, popular items, article pages with votes, retriever search, friendly 404, brand language."""

from __future__ import annotations

from typing import Any

from kefu.knowledge.commands import CreateArticle, CreateFaq
from kefu.knowledge.models import Article, FaqEntry


def _kb(db: Any, brand: Any) -> tuple[Any, Any]:
    from kefu.knowledge.service import create_article, create_faq

    tw = create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            external_id="refund-time",
            questions=["退款多久會到帳？", "退款要多久"],
            answer="刷卡退款約 **7–14 個工作天**入帳。",
            answer_format="markdown",
            category="退款",
            intent=None,
        ),
    )
    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-CN",
            external_id="refund-time",
            questions=["退款多久到账？"],
            answer="刷卡退款约 7–14 个工作日到账。",
            category="退款",
            intent=None,
        ),
    )
    art = create_article(
        db,
        None,
        CreateArticle(
            brand_id=brand.id, locale="zh-TW", category="退款", title="退貨退款流程", body="## 步驟\n1. 申請退貨"
        ),
    )
    create_article(
        db, None, CreateArticle(brand_id=brand.id, locale="zh-TW", category="退款", title="發票與折讓", body="說明")
    )
    create_article(
        db,
        None,
        CreateArticle(brand_id=brand.id, locale="zh-TW", category="退款", title="草稿", body="x", is_published=False),
    )
    db.commit()
    return tw, art


def test_home_shows_topics_and_popular_items_with_links_out(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    _kb(db, brand)
    page = client.get(f"/portal/{brand.slug}?lang=zh-TW")
    assert page.status_code == 200
    assert "依主題瀏覽" in page.text and "退款" in page.text and "退貨退款流程" in page.text
    assert "草稿" not in page.text and "退款多久會到帳？" in page.text
    assert f'href="/portal/{brand.slug}/new"' in page.text and "/console" not in page.text
    assert "style=" not in page.text and "onclick" not in page.text
    cat = client.get(f"/portal/{brand.slug}/c/退款?lang=zh-TW")
    assert cat.status_code == 200 and "發票與折讓" in cat.text


def test_article_page_votes_once_and_counts_views(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    _, art = _kb(db, brand)
    page = client.get(f"/portal/{brand.slug}/a/{art.id}?lang=zh-TW")
    assert page.status_code == 200 and "<h2>步驟</h2>" in page.text and "相關文章" in page.text
    token = client.cookies.get("kefu_hc_voted") or page.text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "kind": "article", "id": str(art.id), "helpful": "1"}
    r = client.post(f"/portal/{brand.slug}/vote", data=form, follow_redirects=False)
    assert r.status_code == 303
    again = client.post(f"/portal/{brand.slug}/vote", data=form, follow_redirects=False)
    assert again.status_code == 303
    db.expire_all()
    row = db.get(Article, art.id)
    assert row.helpful_votes == 1 and row.views == 1
    after = client.get(f"/portal/{brand.slug}/a/{art.id}?lang=zh-TW")
    assert "謝謝您的回饋" in after.text and "1 人覺得有幫助" in after.text
    bad = client.post(f"/portal/{brand.slug}/vote", data={**form, "csrf_token": "nope"})
    assert bad.status_code == 404 and "找不到這個頁面" in bad.text


def test_search_uses_paraphrases_and_shows_one_copy_in_visitor_script(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    tw, _ = _kb(db, brand)
    cn = client.get(f"/portal/{brand.slug}", params={"q": "退款要多久", "lang": "zh-CN"})
    assert cn.status_code == 200
    assert cn.text.count("退款多久到账？") == 1 and "退款多久會到帳？" not in cn.text
    tw_page = client.get(f"/portal/{brand.slug}", params={"q": "退款多久", "lang": "zh-TW"})
    assert tw_page.text.count("退款多久會到帳？") == 1 and "<strong>7–14 個工作天</strong>" in tw_page.text
    faq = client.get(f"/portal/{brand.slug}/faq/{tw.id}?lang=zh-TW")
    assert faq.status_code == 200 and "這篇內容有幫助嗎？" in faq.text
    db.expire_all()
    assert db.get(FaqEntry, tw.id).views == 1


def test_search_shows_an_article_as_text_once_in_the_visitor_locale(client: Any, make: Any, db: Any) -> None:
    """An article result reads as text (no Markdown marks); another locale's copy only when none of its own matched."""
    from kefu.knowledge.service import create_article

    brand = make.brand()
    for locale, title, body in [
        ("zh-TW", "退貨與退款流程", "收到商品 **7 天內**都可以申請退貨。\n\n## 步驟\n1. 申請退款"),
        ("zh-CN", "退货与退款流程", "收到商品 **7 天内**都可以申请退货。\n\n## 步骤\n1. 申请退款"),
    ]:
        command = CreateArticle(brand_id=brand.id, locale=locale, category="退款", title=title, body=body)
        create_article(db, None, command)
    db.commit()
    tw = client.get(f"/portal/{brand.slug}", params={"q": "退款", "lang": "zh-TW"}).text
    assert "退貨與退款流程" in tw and "收到商品 7 天內都可以申請退貨。" in tw
    assert "**" not in tw and "## " not in tw and "退货与退款流程" not in tw
    cn = client.get(f"/portal/{brand.slug}", params={"q": "退款", "lang": "zh-CN"}).text
    assert "退货与退款流程" in cn and "退貨與退款流程" not in cn
    en = client.get(f"/portal/{brand.slug}", params={"q": "退款", "lang": "en"}).text
    assert "退貨與退款流程" in en and "退货与退款流程" in en  # nothing in English matched: both copies are the answer


def test_friendly_404_in_the_brand_language(client: Any, make: Any, db: Any) -> None:
    brand = make.brand()
    r = client.get(f"/portal/{brand.slug}/a/999999?lang=en")
    assert r.status_code == 404 and "find that page" in r.text and 'role="search"' in r.text
    r = client.get("/portal/no-such-brand?lang=zh-CN")
    assert r.status_code == 404 and "找不到这个页面" in r.text and "problem" not in r.text
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
