"""Customer portal knowledge-base search."""

from __future__ import annotations

from typing import Any

from kefu.knowledge.commands import CreateArticle, CreateFaq


def _faq(db: Any, brand: Any, locale: str, questions: list[str], answer: str, published: bool = True) -> None:
    from kefu.knowledge.service import create_faq

    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale=locale,
            questions=questions,
            answer=answer,
            category=None,
            intent=None,
            is_published=published,
        ),
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
        CreateArticle(
            brand_id=brand.id,
            locale="en",
            category=None,
            title="Password help",
            body="Reset your password from the sign-in page.",
            is_published=True,
        ),
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


def _portal_brand(db: Any, make: Any) -> Any:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    create_inbox(db, brand, kind="board", name="留言板", config={}, actor=None)
    db.commit()
    return brand


def _csrf(client: Any, slug: str) -> str:
    page = client.get(f"/portal/{slug}/new")
    assert page.status_code == 200
    return str(client.cookies.get("kefu_portal_csrf"))


def test_submit_ticket_with_attachments(client: Any, make: Any, db: Any, jobs: Any) -> None:
    from sqlalchemy import select

    from kefu.conversations.models import Message
    from kefu.tickets.models import Ticket

    brand = _portal_brand(db, make)
    token = _csrf(client, brand.slug)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    r = client.post(
        f"/portal/{brand.slug}/new",
        data={
            "csrf_token": token,
            "name": "陳小姐",
            "contact": "chen@example.com",
            "subject": "商品瑕疵",
            "message": "收到的杯子有裂痕",
        },
        files=[("files", ("裂痕.png", png, "image/png")), ("files", ("receipt.pdf", b"%PDF-1.4 x", "application/pdf"))],
    )
    assert r.status_code == 200, r.text
    number = r.text.split('class="ticket-number">')[1].split("<")[0]
    # The thanks page writes zh-TW punctuation and says where to follow the case up.
    assert '案件編號：<strong class="ticket-number">' in r.text and f'href="/portal/{brand.slug}/track"' in r.text
    ticket = db.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None and ticket.brand_id == brand.id
    msg = db.scalar(select(Message).where(Message.sender_type == "customer", Message.brand_id == brand.id))
    assert "收到的杯子有裂痕" in msg.body
    assert sorted(a["filename"] for a in msg.attachments) == ["receipt.pdf", "裂痕.png"]


def test_submit_rejects_bad_files_and_missing_csrf(client: Any, make: Any, db: Any) -> None:
    brand = _portal_brand(db, make)
    base = {"name": "A", "contact": "a@example.com", "message": "hi"}
    assert client.post(f"/portal/{brand.slug}/new", data=base).status_code == 403
    token = _csrf(client, brand.slug)
    fake = client.post(
        f"/portal/{brand.slug}/new",
        data={**base, "csrf_token": token},
        files=[("files", ("x.png", b"<script>alert(1)</script>", "image/png"))],
    )
    assert fake.status_code == 422 and "不支援的附件類型" in fake.text
    exe = client.post(
        f"/portal/{brand.slug}/new",
        data={**base, "csrf_token": token},
        files=[("files", ("x.exe", b"MZ\x90\x00", "application/x-msdownload"))],
    )
    assert exe.status_code == 422
    empty = client.post(
        f"/portal/{brand.slug}/new", data={"csrf_token": token, "name": "", "contact": "", "message": ""}
    )
    assert empty.status_code == 422


def test_track_progress_with_contact_verification(client: Any, make: Any, db: Any) -> None:
    from kefu.tickets.service import create_ticket

    brand = make.brand()
    other_brand = make.brand()
    cust = make.customer(brand, name="林", email="lin@example.com", phone="0911-222-333")
    ticket = create_ticket(db, brand_id=brand.id, subject="退貨申請", actor=None, customer_id=cust.id)
    db.commit()
    client.get(f"/portal/{brand.slug}/track")
    token = str(client.cookies.get("kefu_portal_csrf"))
    ok = client.post(
        f"/portal/{brand.slug}/track",
        data={"csrf_token": token, "number": ticket.number.lower(), "contact": "LIN@example.com"},
    )
    assert ok.status_code == 200 and "退貨申請" in ok.text and "已受理" in ok.text
    by_phone = client.post(
        f"/portal/{brand.slug}/track", data={"csrf_token": token, "number": ticket.number, "contact": "0911222333"}
    )
    assert by_phone.status_code == 200
    wrong = client.post(
        f"/portal/{brand.slug}/track",
        data={"csrf_token": token, "number": ticket.number, "contact": "someone@example.com"},
    )
    assert wrong.status_code == 404 and "退貨申請" not in wrong.text
    cross = client.post(
        f"/portal/{other_brand.slug}/track",
        data={"csrf_token": token, "number": ticket.number, "contact": "lin@example.com"},
    )
    assert cross.status_code == 404 and "退貨申請" not in cross.text
    assert client.post(f"/portal/{brand.slug}/track", data={"number": ticket.number, "contact": "x"}).status_code == 403


def test_track_page_lets_the_customer_confirm_a_resolved_case(client: Any, make: Any, db: Any) -> None:
    """答覆確認（用戶確認後歸檔）: the page said 已解決，待您確認 and offered no way to confirm."""
    from kefu.tickets.models import Ticket
    from kefu.tickets.service import create_ticket, update_ticket

    brand = make.brand()
    cust = make.customer(brand, name="林", email="lin@example.com")
    ticket = create_ticket(db, brand_id=brand.id, subject="退貨申請", actor=None, customer_id=cust.id)
    update_ticket(db, ticket, None, {"status": "resolved"})
    db.commit()
    client.get(f"/portal/{brand.slug}/track")
    token = str(client.cookies.get("kefu_portal_csrf"))
    looked = client.post(
        f"/portal/{brand.slug}/track?lang=zh-TW",
        data={"csrf_token": token, "number": ticket.number, "contact": "lin@example.com"},
    )
    assert looked.status_code == 200 and "待您確認" in looked.text and "問題已解決，確認結案" in looked.text
    assert 'name="action" value="confirm"' in looked.text and 'name="contact" value="lin@example.com"' in looked.text
    stranger = client.post(
        f"/portal/{brand.slug}/track",
        data={"csrf_token": token, "action": "confirm", "number": ticket.number, "contact": "x@example.com"},
    )
    assert stranger.status_code == 404
    db.expire_all()
    assert db.get(Ticket, ticket.id).status == "resolved"  # only the customer on file confirms
    done = client.post(
        f"/portal/{brand.slug}/track?lang=en",
        data={"csrf_token": token, "action": "confirm", "number": ticket.number, "contact": "lin@example.com"},
    )
    assert done.status_code == 200 and "Thank you for confirming: the case is closed." in done.text
    assert 'value="confirm"' not in done.text
    db.expire_all()
    assert db.get(Ticket, ticket.id).status == "closed"


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 64
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + b"\x00" * 64


def test_customer_uploads_videos_within_the_brand_limit_and_agents_download_them(
    client: Any, make: Any, db: Any, jobs: Any
) -> None:
    from sqlalchemy import select

    from kefu.conversations.models import Message
    from kefu.portal.service import video_limit_bytes
    from kefu.security.asgi import body_limit

    brand = _portal_brand(db, make)
    other = make.brand(ticket_prefix="OV")
    admin = make.agent("admin")
    agent, outsider = make.agent("agent", [brand]), make.agent("agent", [other])
    h = make.token(admin)
    assert video_limit_bytes(brand) == 50 * 1024 * 1024  # the default
    assert body_limit(f"/portal/{brand.slug}/new") > 60 * 1024 * 1024  # the form's route takes the files
    assert (
        client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"portal_video_mb": 0}}, headers=h).status_code
        == 422
    )
    assert (
        client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"portal_video_mb": 51}}, headers=h).status_code
        == 422
    )
    token = _csrf(client, brand.slug)
    form = client.get(f"/portal/{brand.slug}/new").text
    assert "video/mp4" in form and "50 MB" in form
    base = {"csrf_token": token, "name": "王先生", "contact": "wang@example.com", "message": "開箱影片：螢幕有壞點"}
    r = client.post(
        f"/portal/{brand.slug}/new",
        data=base,
        files=[
            ("files", ("unboxing.mp4", MP4, "video/mp4")),
            ("files", ("iphone.mov", MOV, "video/quicktime")),
            ("files", ("screen.webm", WEBM, "video/webm")),
        ],
    )
    assert r.status_code == 200, r.text
    msg = db.scalar(select(Message).where(Message.sender_type == "customer", Message.brand_id == brand.id))
    assert {a["filename"]: a["content_type"] for a in msg.attachments} == {
        "unboxing.mp4": "video/mp4",
        "iphone.mov": "video/quicktime",
        "screen.webm": "video/webm",
    }
    # Content must match the declared video type.
    for name, data, ctype in (
        ("x.mp4", b"<html>not a video</html>", "video/mp4"),
        ("x.webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 20 + b"matroska", "video/webm"),
        ("x.mov", WEBM, "video/quicktime"),
        ("x.avi", b"RIFF\x00\x00\x00\x00AVI ", "video/x-msvideo"),
    ):
        bad = client.post(f"/portal/{brand.slug}/new", data=base, files=[("files", (name, data, ctype))])
        assert bad.status_code == 422 and "不支援的附件類型" in bad.text, name
    # The brand's limit applies to videos (1 MB here).
    assert client.patch(f"/api/v1/brands/{brand.id}", json={"settings": {"portal_video_mb": 1}}, headers=h).is_success
    db.expire_all()
    big = MP4 + b"\x00" * (1024 * 1024)
    r = client.post(f"/portal/{brand.slug}/new", data=base, files=[("files", ("long.mp4", big, "video/mp4"))])
    assert r.status_code == 422 and "影片太大" in r.text
    assert "1 MB" in client.get(f"/portal/{brand.slug}/new").text
    # Agents see the video in the timeline and download it with the usual access check.
    video = next(a for a in msg.attachments if a["filename"] == "unboxing.mp4")
    client.cookies.clear()
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    assert r.status_code == 200
    page = client.get(f"/console/conversations/{msg.conversation_id}")
    assert page.status_code == 200 and "unboxing.mp4" in page.text and "video/mp4" in page.text
    assert f'href="/console/attachments/{video["id"]}"' in page.text
    got = client.get(f"/console/attachments/{video['id']}")
    assert got.status_code == 200 and got.content == MP4
    client.cookies.clear()
    assert client.post("/api/v1/auth/login", json={"email": outsider.email, "password": "correct horse 1"}).is_success
    assert client.get(f"/console/attachments/{video['id']}").status_code == 404
