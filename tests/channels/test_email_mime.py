"""Tests for the email MIME protocol layer (kefu.channels.email.mime)."""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from kefu.channels.email import (
    EmailAddress,
    build_reply,
    decode_bytes,
    decode_header_value,
    extract_ticket_number,
    html_to_text,
    is_auto_reply,
    parse_address,
    parse_email,
    reply_subject,
    sanitize_html,
    strip_quoted_reply,
    to_inbound,
)
from kefu.channels.types import Attachment, InboundMessage

# ---------------------------------------------------------------------------
# helpers to build real-world-shaped raw mail
# ---------------------------------------------------------------------------


def ew(text: str, charset: str, encoding: str = "B") -> str:
    """RFC 2047 encoded word."""
    data = text.encode(charset)
    if encoding == "B":
        payload = base64.b64encode(data).decode("ascii")
    else:
        payload = quopri.encodestring(data, header=True).decode("ascii")
    return f"=?{charset}?{encoding}?{payload}?="


def mail(headers: list[tuple[str, str | bytes]], body: bytes | str = b"") -> bytes:
    lines: list[bytes] = []
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode("ascii") + b": " + raw)
    payload = body.encode("ascii") if isinstance(body, str) else body
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


BASE_HEADERS: list[tuple[str, str | bytes]] = [
    ("From", "Customer <customer@example.com>"),
    ("To", "support@kefu.example"),
    ("Subject", "hello"),
    ("Date", "Tue, 02 Jan 2024 10:00:00 +0800"),
    ("Message-ID", "<m1@example.com>"),
    ("MIME-Version", "1.0"),
]


def simple(body: bytes, content_type: str, cte: str = "8bit", extra: list | None = None) -> bytes:
    headers = [*BASE_HEADERS, *(extra or []), ("Content-Type", content_type), ("Content-Transfer-Encoding", cte)]
    return mail(headers, body)


# ---------------------------------------------------------------------------
# charsets and headers
# ---------------------------------------------------------------------------


class TestCharsets:
    def test_big5_subject_from_and_body(self) -> None:
        body = "您好，我的訂單還沒有收到，請幫忙查詢。".encode("big5")
        raw = mail(
            [
                ("From", f"{ew('王小明', 'big5')} <ming@example.com.tw>"),
                ("To", "support@kefu.example"),
                ("Subject", ew("訂單查詢", "big5")),
                ("Message-ID", "<big5@example.com.tw>"),
                ("Content-Type", 'text/plain; charset="big5"'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            b64(body),
        )
        parsed = parse_email(raw)
        assert parsed.subject == "訂單查詢"
        assert parsed.from_addr == EmailAddress("王小明", "ming@example.com.tw")
        assert parsed.text == "您好，我的訂單還沒有收到，請幫忙查詢。"

    def test_gb2312_label_with_gbk_only_characters(self) -> None:
        # 镕 is GBK-only; Chinese mailers still label such mail "gb2312".
        subject_bytes = "关于朱镕基的订单".encode("gbk")
        subject = "=?gb2312?B?" + base64.b64encode(subject_bytes).decode() + "?="
        body = "镕字测试：请尽快发货。".encode("gbk")
        raw = mail(
            [
                ("From", "customer@example.cn"),
                ("Subject", subject),
                ("Content-Type", "text/plain; charset=gb2312"),
                ("Content-Transfer-Encoding", "quoted-printable"),
            ],
            quopri.encodestring(body),
        )
        parsed = parse_email(raw)
        assert parsed.subject == "关于朱镕基的订单"
        assert parsed.text == "镕字测试：请尽快发货。"

    def test_big5_label_with_hkscs_character(self) -> None:
        body = "係咪已經寄出㗎？".encode("big5hkscs")
        parsed = parse_email(simple(b64(body), "text/plain; charset=big5", "base64"))
        assert parsed.text == "係咪已經寄出㗎？"

    def test_encoded_word_splitting_a_multibyte_character(self) -> None:
        data = "退货申请".encode("gb2312")
        first, second = data[:3], data[3:]  # splits the second character in half
        value = (
            "=?gb2312?B?"
            + base64.b64encode(first).decode()
            + "?=\r\n =?gb2312?B?"
            + base64.b64encode(second).decode()
            + "?="
        )
        assert decode_header_value(value) == "退货申请"

    def test_mixed_charsets_and_literal_text(self) -> None:
        value = f"{ew('你好', 'gb2312')} {ew('世界', 'utf-8', 'Q')} (ticket) {ew('謝謝', 'big5')}"
        assert decode_header_value(value) == "你好世界 (ticket) 謝謝"

    def test_raw_8bit_header_uses_body_charset_hint(self) -> None:
        raw = mail(
            [
                ("From", "support-user@example.com"),
                ("Subject", "退貨申請".encode("big5")),
                ("Message-ID", "<raw8@example.com>"),
                ("Content-Type", "text/plain; charset=big5"),
            ],
            "請協助處理".encode("big5"),
        )
        parsed = parse_email(raw)
        assert parsed.subject == "退貨申請"
        assert parsed.text == "請協助處理"

    @pytest.mark.parametrize(
        ("text", "codec"),
        [
            ("您好，我的订单还没有收到，请帮忙查询。谢谢！", "gb18030"),
            ("您好，我的訂單還沒有收到，請幫忙查詢。謝謝！", "big5"),
        ],
    )
    def test_missing_charset_is_guessed(self, text: str, codec: str) -> None:
        parsed = parse_email(simple(text.encode(codec), "text/plain"))
        assert parsed.text == text

    def test_wrong_utf8_label_falls_back(self) -> None:
        text = "请帮我查一下物流信息"
        parsed = parse_email(simple(text.encode("gbk"), "text/plain; charset=utf-8"))
        assert parsed.text == text

    def test_unknown_charset_label(self) -> None:
        parsed = parse_email(simple("退款".encode(), "text/plain; charset=x-unknown"))
        assert parsed.text == "退款"

    def test_decode_bytes_never_raises(self) -> None:
        assert decode_bytes(b"\xff\xfe\xfa", "no-such-charset")
        assert decode_bytes(b"", "utf-8") == ""

    def test_broken_base64_encoded_word_kept_literally(self) -> None:
        assert decode_header_value("=?utf-8?B?@@@?=") == "=?utf-8?B?@@@?="

    def test_header_newlines_are_neutralized(self) -> None:
        value = ew("line1\r\nBcc: victim@example.com", "utf-8")
        assert "\n" not in decode_header_value(value)


class TestHeaders:
    def test_threading_headers(self) -> None:
        raw = mail(
            [
                *BASE_HEADERS[:4],
                ("Message-ID", " <abc.123@mail.example.com> (comment)"),
                ("In-Reply-To", "<parent@kefu.example> (Support's message of Tue)"),
                ("References", "<root@kefu.example>\r\n <mid@kefu.example>  <parent@kefu.example>"),
            ],
            "body",
        )
        parsed = parse_email(raw)
        assert parsed.message_id == "<abc.123@mail.example.com>"
        assert parsed.in_reply_to == "<parent@kefu.example>"
        assert parsed.references == ("<root@kefu.example>", "<mid@kefu.example>", "<parent@kefu.example>")
        assert parsed.thread_keys == ("<parent@kefu.example>", "<root@kefu.example>", "<mid@kefu.example>")
        assert parsed.date == datetime(2024, 1, 2, 2, 0, tzinfo=UTC)

    def test_missing_message_id_is_synthesized_deterministically(self) -> None:
        raw = mail([("From", "a@example.com"), ("Subject", "x")], "hi")
        first, second = parse_email(raw), parse_email(raw)
        assert first.message_id_generated
        assert first.message_id == second.message_id
        assert first.message_id.startswith("<") and first.message_id.endswith("@kefu.invalid>")

    def test_message_id_without_brackets(self) -> None:
        raw = mail([("From", "a@example.com"), ("Message-ID", "bare-id@example.com")], "hi")
        assert parse_email(raw).message_id == "<bare-id@example.com>"

    def test_address_lists_with_encoded_names_containing_commas(self) -> None:
        raw = mail(
            [
                ("From", f'"{ew("陳, 大文", "utf-8")}" <chan@example.hk>'),
                ("To", f"{ew('客服中心', 'gb2312')} <support@kefu.example>, other@example.com"),
                ("Cc", "Boss <boss@example.com>"),
                ("Reply-To", "reply@example.com"),
                ("Message-ID", "<x@y>"),
            ],
            "hi",
        )
        parsed = parse_email(raw)
        assert parsed.from_addr == EmailAddress("陳, 大文", "chan@example.hk")
        assert parsed.to == (
            EmailAddress("客服中心", "support@kefu.example"),
            EmailAddress(None, "other@example.com"),
        )
        assert parsed.cc == (EmailAddress("Boss", "boss@example.com"),)
        assert parsed.reply_to == (EmailAddress(None, "reply@example.com"),)

    def test_bad_date_is_none(self) -> None:
        raw = mail([("From", "a@example.com"), ("Date", "yesterday-ish")], "hi")
        assert parse_email(raw).date is None

    def test_parse_address(self) -> None:
        assert parse_address(f"{ew('李四', 'utf-8')} <li@example.com>") == EmailAddress("李四", "li@example.com")
        assert parse_address("") is None
        assert str(EmailAddress("李四", "li@example.com")) == "李四 <li@example.com>"


# ---------------------------------------------------------------------------
# bodies, HTML and attachments
# ---------------------------------------------------------------------------

XSS_HTML = """<html><head><title>t</title><style>body{background:url(javascript:alert(1))}</style>
<meta http-equiv="refresh" content="0;url=https://evil.example/"><base href="https://evil.example/"></head>
<body onload="alert('body')">
<p style="color:red;position:fixed;top:0">Hello <b>bold</b> <i>it</i></p>
<script>alert('xss')</script>
<img src="https://img.example/x.png" onerror="alert('img')">
<a href="javascript:alert('link')">js link</a>
<a href="JaVaScRiPt&#x3a;alert('enc')">encoded js</a>
<a href="  javascript:alert('space')">spaced js</a>
<svg onload="alert('svg')"><circle r="1"/></svg>
<iframe src="https://evil.example/frame"></iframe>
<form action="https://evil.example/phish"><input name="password"><button>Go</button></form>
<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>
<a href="/admin/delete">relative</a>
<img src="cid:logo@kefu">
<img src="data:image/png;base64,iVBORw0KGgo=">
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">
<div onclick="steal()" onmouseover="steal()">hover</div>
<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/x.swf">
<a href="https://shop.example/order/1">order</a>
</body></html>"""


class TestHtml:
    def test_xss_vectors_are_inert(self) -> None:
        clean = sanitize_html(XSS_HTML).lower()
        for needle in (
            "<script",
            "alert(",
            "onerror",
            "onload",
            "onclick",
            "onmouseover",
            "javascript",
            "<svg",
            "<iframe",
            "<form",
            "<input",
            "<object",
            "<embed",
            "<meta",
            "<base",
            "<style",
            "data:text/html",
            "svg+xml",
            "/admin/delete",
            "position",
        ):
            assert needle not in clean, needle

    def test_safe_formatting_and_links_survive(self) -> None:
        clean = sanitize_html(XSS_HTML)
        assert "<b>bold</b>" in clean
        assert "<i>it</i>" in clean
        assert 'style="color:red"' in clean
        assert 'href="https://shop.example/order/1"' in clean
        assert 'rel="noopener noreferrer"' in clean
        assert 'target="_blank"' in clean
        assert 'src="cid:logo@kefu"' in clean
        assert 'src="data:image/png;base64,iVBORw0KGgo="' in clean
        assert 'src="https://img.example/x.png"' in clean

    def test_remote_images_can_be_blocked(self) -> None:
        clean = sanitize_html(XSS_HTML, allow_remote_images=False)
        assert "img.example" not in clean
        assert 'src="cid:logo@kefu"' in clean
        assert 'href="https://shop.example/order/1"' in clean

    def test_multipart_alternative_prefers_plain_and_sanitizes_html(self) -> None:
        boundary = "ALT"
        body = (
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64("純文字版本".encode()).decode()
            + f"\r\n--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + "<p>HTML 版本</p><script>alert(1)</script>"
            + f"\r\n--{boundary}--\r\n"
        ).encode()
        raw = mail([*BASE_HEADERS, ("Content-Type", f'multipart/alternative; boundary="{boundary}"')], body)
        parsed = parse_email(raw)
        assert parsed.text == "純文字版本"
        assert parsed.html == "<p>HTML 版本</p>"

    def test_html_only_mail_gets_text_from_html(self) -> None:
        html = (
            "<div>谢谢，我明天再试试。<br>王先生</div>"
            "<div class='gmail_quote'>On Tue, Jan 2, 2024 at 10:00 AM Support &lt;s@kefu.example&gt; wrote:"
            "<blockquote>Please restart the router.<br>Thanks</blockquote></div>"
        )
        parsed = parse_email(simple(html.encode("gb18030"), "text/html; charset=gb2312"))
        assert "谢谢，我明天再试试。\n王先生" in parsed.text
        assert "> Please restart the router." in parsed.text
        assert strip_quoted_reply(parsed.text) == "谢谢，我明天再试试。\n王先生"
        assert parsed.html is not None and "<blockquote>" in parsed.html

    def test_html_to_text_structure(self) -> None:
        html = (
            "<style>p{}</style><h1>Title</h1><p>one&nbsp;two &amp; three</p><ul><li>a</li><li>b</li></ul>"
            "<table><tr><td>x</td><td>y</td></tr></table><pre>  keep\n  spacing</pre><img alt='logo'>"
        )
        text = html_to_text(html)
        assert text.splitlines()[0] == "Title"
        assert "one two & three" in text
        assert "- a\n- b" in text
        assert "x y" in text
        assert "  keep\n  spacing" in text
        assert "[logo]" in text
        assert "p{}" not in text

    def test_format_flowed_is_unwrapped(self) -> None:
        body = b"This is a long line that was \r\nsoft wrapped by the client.\r\n> quoted that \r\n> continues\r\n"
        parsed = parse_email(simple(body, "text/plain; charset=us-ascii; format=flowed"))
        assert parsed.text == ("This is a long line that was soft wrapped by the client.\n> quoted that continues")

    def test_format_flowed_delsp(self) -> None:
        body = "这是一段很长的中文 \r\n内容。\r\n".encode()
        parsed = parse_email(simple(body, "text/plain; charset=utf-8; format=flowed; delsp=yes"))
        assert parsed.text == "这是一段很长的中文内容。"

    def test_apple_style_split_body(self) -> None:
        body = (
            b"--M\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPart one\r\n"
            b"--M\r\nContent-Type: image/png\r\nContent-Disposition: inline\r\nContent-ID: <img1@x>\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
            b"--M\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPart two\r\n--M--\r\n"
        )
        parsed = parse_email(mail([*BASE_HEADERS, ("Content-Type", "multipart/mixed; boundary=M")], body))
        assert parsed.text == "Part one\n\nPart two"
        [image] = parsed.attachments
        assert image.inline and image.content_id == "img1@x" and image.filename == "attachment-1.png"


def _attachment_mail() -> bytes:
    pdf = b"%PDF-1.4 fake"
    gbk_name = "报价单（第二版）.xlsx".encode("gbk")
    pct = "".join(f"%{b:02X}" for b in gbk_name)
    half = len(pct) // 2
    # keep percent-escapes intact when splitting into RFC 2231 continuations
    while pct[half] != "%":
        half += 1
    parts = [
        ("Content-Type: text/plain; charset=utf-8\r\n\r\n附件请查收。\r\n",),
        (
            "Content-Type: application/pdf\r\n"
            "Content-Disposition: attachment; filename*=UTF-8''%E5%90%88%E5%90%8C%E8%8D%89%E7%A8%BF.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + b64(pdf).decode(),
        ),
        (
            "Content-Type: application/vnd.ms-excel\r\n"
            f"Content-Disposition: attachment;\r\n filename*0*=gb2312''{pct[:half]};\r\n"
            f" filename*1*={pct[half:]}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + b64(b"xls").decode(),
        ),
        (
            f'Content-Type: image/jpeg; name="{ew("截图.jpg", "gb2312")}"\r\n'
            f'Content-Disposition: attachment; filename="{ew("截图.jpg", "gb2312")}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n" + b64(b"\xff\xd8\xff").decode(),
        ),
        ('Content-Type: text/plain; name="../../etc/passwd"\r\nContent-Disposition: attachment\r\n\r\nroot:x:0:0\r\n',),
    ]
    body = b""
    for (part,) in parts:
        body += b"--B\r\n" + part.encode("utf-8") + b"\r\n"
    # raw 8-bit GBK filename (non-compliant but common from older Chinese clients)
    body += (
        b'--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="'
        + "发票.zip".encode("gbk")
        + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n'
    )
    inner = mail([("From", "old@example.com"), ("Subject", "original"), ("Message-ID", "<inner@x>")], "inner body")
    body += b"--B\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--B--\r\n"
    return mail([*BASE_HEADERS, ("Content-Type", 'multipart/mixed; boundary="B"')], body)


class TestAttachments:
    def test_attachment_names_and_bytes(self) -> None:
        parsed = parse_email(_attachment_mail())
        assert parsed.text == "附件请查收。"
        names = [a.filename for a in parsed.attachments]
        assert names == ["合同草稿.pdf", "报价单（第二版）.xlsx", "截图.jpg", "passwd", "发票.zip", "attachment-6.eml"]
        pdf, xls, jpg, passwd, zipped, eml = parsed.attachments
        assert pdf.data == b"%PDF-1.4 fake" and pdf.size == len(pdf.data) and pdf.content_type == "application/pdf"
        assert xls.data == b"xls"
        assert jpg.content_type == "image/jpeg" and jpg.data == b"\xff\xd8\xff"
        assert passwd.data is not None and passwd.data.startswith(b"root")
        assert zipped.data == b"PK\x03\x04"
        assert eml.content_type == "message/rfc822"
        assert eml.data is not None
        assert parse_email(eml.data).message_id == "<inner@x>"
        assert not any(a.inline for a in parsed.attachments)

    @pytest.mark.parametrize(
        "disposition",
        [
            "attachment; filename*",  # crashes the stdlib's policy.default header parser
            "attachment; filename*=a.txt; filename*0*=b.txt",  # crashes email.utils.decode_params
        ],
    )
    def test_malformed_disposition_does_not_crash(self, disposition: str) -> None:
        body = (
            "--B\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
            f"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: {disposition}\r\n\r\n%PDF\r\n--B--\r\n"
        )
        parsed = parse_email(mail([*BASE_HEADERS, ("Content-Type", "multipart/mixed; boundary=B")], body))
        assert parsed.text == "body"
        [attachment] = parsed.attachments
        assert attachment.data == b"%PDF"
        assert attachment.filename in ("attachment-1.pdf", "a.txt", "b.txt")

    def test_inline_image_in_related(self) -> None:
        body = (
            b'--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>see <img src="cid:shot@client"></p>\r\n'
            b"--R\r\nContent-Type: image/png; name=shot.png\r\nContent-ID: <shot@client>\r\n"
            b"Content-Disposition: inline; filename=shot.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"iVBORw0KGgo=\r\n--R--\r\n"
        )
        parsed = parse_email(mail([*BASE_HEADERS, ("Content-Type", 'multipart/related; boundary="R"')], body))
        [image] = parsed.attachments
        assert image == Attachment(
            filename="shot.png",
            content_type="image/png",
            size=8,
            data=base64.b64decode("iVBORw0KGgo="),
            content_id="shot@client",
            inline=True,
        )
        assert parsed.html == '<p>see <img src="cid:shot@client"></p>'
        assert parsed.text == "see"


# ---------------------------------------------------------------------------
# quote stripping
# ---------------------------------------------------------------------------


class TestStripQuotedReply:
    def test_gmail_english_wrapped_attribution(self) -> None:
        text = (
            "Thanks, that fixed it.\n\n"
            "On Tue, Jan 2, 2024 at 10:00 AM Kefu Support <\nsupport@kefu.example> wrote:\n\n"
            "> Please restart the router.\n>\n> Regards\n"
        )
        assert strip_quoted_reply(text) == "Thanks, that fixed it."

    def test_outlook_original_message(self) -> None:
        text = (
            "Please cancel my order.\r\n\r\n-----Original Message-----\r\nFrom: Support\r\n"
            "Sent: Tuesday, January 2, 2024 10:00 AM\r\nTo: me\r\nSubject: RE: order\r\n\r\nOld text\r\n"
        )
        assert strip_quoted_reply(text) == "Please cancel my order."

    def test_outlook_header_block_without_separator(self) -> None:
        text = (
            "OK 收到\n\nFrom: Kefu Support <support@kefu.example>\nSent: Tuesday, January 2, 2024 10:00 AM\n"
            "To: 王小明\nSubject: RE: [KF-000123] 订单\n\n旧内容"
        )
        assert strip_quoted_reply(text) == "OK 收到"

    def test_outlook_underscore_separator(self) -> None:
        text = "New answer\n\n________________________________\nFrom: Support\nSent: today\n\nold"
        assert strip_quoted_reply(text) == "New answer"

    def test_chinese_outlook_header_block(self) -> None:
        text = (
            "好的，谢谢。\n\n发件人: 客服中心 <support@kefu.example>\n发送时间: 2024年1月2日 10:00\n"
            "收件人: 王小明\n主题: 回复: 订单\n\n旧内容"
        )
        assert strip_quoted_reply(text) == "好的，谢谢。"

    def test_traditional_outlook_header_block(self) -> None:
        text = "已處理。\n\n寄件者: 客服中心 <support@kefu.example>\n寄件日期: 2024年1月2日 上午 10:00\n\n舊內容"
        assert strip_quoted_reply(text) == "已處理。"

    def test_qq_mail_original(self) -> None:
        text = (
            "麻烦再确认一下地址\n\n------------------ 原始邮件 ------------------\n"
            '发件人: "客服"<support@kefu.example>;\n发送时间: 2024年1月2日(星期二) 上午10:00\n\n旧内容'
        )
        assert strip_quoted_reply(text) == "麻烦再确认一下地址"

    def test_netease_163_attribution(self) -> None:
        text = '已经付款了\n\n\n在 2024-01-02 10:00:00，"客服中心" <support@kefu.example> 写道：\n>请尽快付款\n>谢谢'
        assert strip_quoted_reply(text) == "已经付款了"

    def test_gmail_traditional_chinese_attribution(self) -> None:
        text = (
            "好的，沒問題。\n\n客服中心 <support@kefu.example> 於 2024年1月2日 週二 上午10:00寫道：\n\n"
            "> 請提供訂單編號\n"
        )
        assert strip_quoted_reply(text) == "好的，沒問題。"

    def test_gmail_simplified_chinese_attribution_without_quote_prefix(self) -> None:
        text = "收到\n\n客服中心 <support@kefu.example> 于2024年1月2日周二 10:00写道：\n\n请提供订单编号"
        assert strip_quoted_reply(text) == "收到"

    def test_bottom_posting_keeps_reply_below_quote(self) -> None:
        text = "On 1/2/24 10:00, Support wrote:\n> Which colour?\n\nBlue please."
        assert strip_quoted_reply(text) == "Blue please."

    def test_interleaved_quotes_removed(self) -> None:
        text = "> Which colour?\nBlue.\n> Which size?\nM."
        assert strip_quoted_reply(text) == "Blue.\nM."

    def test_signatures(self) -> None:
        assert strip_quoted_reply("Hi\n\n-- \nJohn Doe\nACME Corp") == "Hi"
        assert strip_quoted_reply("謝謝\n\n從我的 iPhone 傳送") == "謝謝"
        assert strip_quoted_reply("谢谢\n\n发自我的iPhone") == "谢谢"
        assert strip_quoted_reply("Thanks\n\nSent from my iPhone") == "Thanks"

    def test_ordinary_sentences_are_not_cut(self) -> None:
        text = "他在信中写道：\n请尽快发货。\nI wrote: nothing special"
        assert strip_quoted_reply(text) == text

    def test_all_quoted_returns_original(self) -> None:
        text = "> only quoted\n> content"
        assert strip_quoted_reply(text) == text

    def test_empty(self) -> None:
        assert strip_quoted_reply("") == ""


# ---------------------------------------------------------------------------
# ticket numbers and subjects
# ---------------------------------------------------------------------------


class TestTicketNumbers:
    @pytest.mark.parametrize(
        ("subject", "expected"),
        [
            ("[KF-000123] 订单问题", "KF-000123"),
            ("Re: 回覆：[#KF-000123] 訂單問題", "KF-000123"),
            ("RE: Fwd: 回复: 问题 [kf-42]", "KF-42"),
            ("答复：【KF-000777】退款", "KF-000777"),
            ("回覆：［＃ＫＦ－０００１２３］", "KF-000123"),
            ("KF-000123 without brackets", None),
            ("[OTHER-1] nope", None),
            ("", None),
            (None, None),
        ],
    )
    def test_extract(self, subject: str | None, expected: str | None) -> None:
        assert extract_ticket_number(subject, "KF") == expected

    def test_custom_prefix_pattern(self) -> None:
        assert extract_ticket_number("Re: [#TK2024-55] help", r"TK\d{4}") == "TK2024-55"
        assert extract_ticket_number("Re: [#CS-9] help", "KF|CS") == "CS-9"

    @pytest.mark.parametrize(
        ("subject", "tag", "expected"),
        [
            ("问题", None, "Re: 问题"),
            ("Re: RE: re: 问题", None, "Re: 问题"),
            ("Re: 回覆：[#KF-000123] 問題", "KF-000123", "Re: [#KF-000123] 問題"),
            ("回复：订单", "KF-000123", "Re: [KF-000123] 订单"),
            ("Re[2]: AW: Sv: hello", None, "Re: hello"),
            ("Fwd: info", None, "Re: Fwd: info"),
            ("", None, "Re:"),
        ],
    )
    def test_reply_subject(self, subject: str, tag: str | None, expected: str) -> None:
        assert reply_subject(subject, tag) == expected


# ---------------------------------------------------------------------------
# loop protection
# ---------------------------------------------------------------------------


def _auto(extra: list[tuple[str, str]], subject: str = "Question about my order", sender: str = "") -> bool:
    headers: list[tuple[str, str | bytes]] = [
        ("From", sender or "Customer <customer@example.com>"),
        ("To", "support@kefu.example"),
        ("Subject", subject),
        ("Message-ID", "<auto@example.com>"),
        *extra,
    ]
    return is_auto_reply(parse_email(mail(headers, "body")))


class TestAutoReply:
    def test_normal_customer_mail(self) -> None:
        assert not _auto([])
        assert not _auto([("Auto-Submitted", "no")])
        assert not _auto([], subject="Out of office hours support?")
        assert not _auto([], subject="Re: undeliverable package, please help")

    @pytest.mark.parametrize(
        "headers",
        [
            [("Auto-Submitted", "auto-replied")],
            [("Auto-Submitted", "auto-generated; owner-email=x@example.com")],
            [("X-Autoreply", "yes")],
            [("X-Autorespond", "Out of office")],
            [("Precedence", "bulk")],
            [("Precedence", "junk")],
            [("Precedence", "list")],
            [("List-Id", "<news.example.com>")],
            [("List-Unsubscribe", "<mailto:unsub@example.com>")],
            [("Return-Path", "<>")],
            [("Content-Type", "multipart/report; report-type=delivery-status; boundary=x")],
        ],
    )
    def test_header_signals(self, headers: list[tuple[str, str]]) -> None:
        assert _auto(headers)

    @pytest.mark.parametrize(
        "sender",
        [
            "MAILER-DAEMON@mx.example.com",
            "Mail Delivery System <postmaster@example.com>",
            "noreply@shop.example",
            "no-reply+abc@shop.example",
            "do-not-reply@bank.example",
        ],
    )
    def test_robot_senders(self, sender: str) -> None:
        assert _auto([], sender=sender)

    @pytest.mark.parametrize(
        "subject",
        [
            "Automatic reply: Question about my order",
            "Auto-Reply: hello",
            "Out of Office: hello",
            "Out of Office AutoReply: hello",
            ew("自動回覆：訂單問題", "big5"),
            ew("自动回复: 订单问题", "gb2312"),
            "Undeliverable: hello",
            "Delivery Status Notification (Failure)",
            "Mail delivery failed: returning message to sender",
            ew("系统退信", "utf-8"),
        ],
    )
    def test_subject_signals(self, subject: str) -> None:
        assert _auto([], subject=subject)

    def test_accepts_stdlib_message(self) -> None:
        msg = EmailMessage(policy=policy.default)
        msg["From"] = "customer@example.com"
        msg["Subject"] = "hi"
        assert not is_auto_reply(msg)
        msg["Auto-Submitted"] = "auto-replied"
        assert is_auto_reply(msg)


# ---------------------------------------------------------------------------
# building replies
# ---------------------------------------------------------------------------


def _parent() -> bytes:
    refs = " ".join(f"<r{i}@kefu.example>" for i in range(30))
    return mail(
        [
            ("From", f"{ew('王小明', 'big5')} <ming@example.com.tw>"),
            ("To", "support@kefu.example"),
            ("Subject", ew("回覆：[#KF-000123] 訂單問題", "big5")),
            ("Message-ID", "<customer-msg@example.com.tw>"),
            ("In-Reply-To", "<r29@kefu.example>"),
            ("References", refs),
            ("Content-Type", "text/plain; charset=big5"),
        ],
        "還沒收到".encode("big5"),
    )


class TestBuildReply:
    def test_threading_round_trip(self) -> None:
        parent = parse_email(_parent())
        reply = build_reply(
            from_addr="客服中心 <support@kefu.example>",
            to=[parent.from_addr] if parent.from_addr else [],
            text="您好，包裹已於今日寄出。",
            html="<p>您好，包裹已於今日<b>寄出</b>。</p>",
            parent=parent,
            message_id_domain="kefu.example",
            max_references=10,
        )
        raw = reply.as_bytes()
        raw.decode("ascii")  # every header and body is 7-bit clean
        assert b"\r\n" in raw
        back = parse_email(raw)
        assert back.subject == "Re: [#KF-000123] 訂單問題"
        assert extract_ticket_number(back.subject) == "KF-000123"
        assert back.message_id.endswith("@kefu.example>")
        assert not back.message_id_generated
        assert back.in_reply_to == "<customer-msg@example.com.tw>"
        assert len(back.references) == 10
        assert back.references[0] == "<r0@kefu.example>"  # thread root kept
        assert back.references[-1] == "<customer-msg@example.com.tw>"
        assert back.references[-2] == "<r29@kefu.example>"
        assert back.from_addr == EmailAddress("客服中心", "support@kefu.example")
        assert back.to == (EmailAddress("王小明", "ming@example.com.tw"),)
        assert back.text == "您好，包裹已於今日寄出。"
        assert back.html == "<p>您好，包裹已於今日<b>寄出</b>。</p>"
        assert back.header("Auto-Submitted") is None
        assert not is_auto_reply(back)

    def test_chinese_headers_are_rfc2047_utf8(self) -> None:
        reply = build_reply(
            from_addr=EmailAddress("客服中心", "support@kefu.example"),
            to="王小明 <ming@example.com>",
            subject="订单问题",
            text="你好",
            message_id_domain="kefu.example",
        )
        raw = reply.as_bytes()
        header_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        assert "=?utf-8?b?" in header_block.lower()
        assert "Content-Transfer-Encoding: base64" in raw.decode("ascii")

    def test_automatic_reply_is_marked_and_detected(self) -> None:
        parent = parse_email(_parent())
        reply = build_reply(
            from_addr="support@kefu.example",
            to="ming@example.com.tw",
            text="我們已收到您的來信。",
            parent=parent,
            message_id_domain="kefu.example",
            automatic=True,
            ticket_tag="KF-000123",
        )
        assert reply["Auto-Submitted"] == "auto-replied"
        back = parse_email(reply.as_bytes())
        assert is_auto_reply(back)
        assert back.subject.count("KF-000123") == 1

    def test_ticket_tag_added_when_missing(self) -> None:
        reply = build_reply(
            from_addr="support@kefu.example",
            to="a@example.com",
            subject="Re: 回复：订单",
            text="x",
            message_id_domain="kefu.example",
            ticket_tag="KF-000009",
        )
        assert parse_email(reply.as_bytes()).subject == "Re: [KF-000009] 订单"

    def test_attachments_round_trip(self) -> None:
        reply = build_reply(
            from_addr="support@kefu.example",
            to=["a@example.com", EmailAddress("乙", "b@example.com")],
            cc=["c@example.com"],
            reply_to="help@kefu.example",
            subject="发票",
            text="见附件",
            html='<p>见附件 <img src="cid:logo@kefu"></p>',
            message_id_domain="kefu.example",
            attachments=[
                Attachment("发票（2024）.pdf", "application/pdf", 4, b"%PDF"),
                Attachment("logo.png", "image/png", 3, b"png", content_id="logo@kefu", inline=True),
                Attachment("data.csv", "text/csv", 3, b"a,b"),
            ],
        )
        back = parse_email(reply.as_bytes())
        by_name = {a.filename: a for a in back.attachments}
        assert by_name["发票（2024）.pdf"].data == b"%PDF"
        assert by_name["logo.png"].inline and by_name["logo.png"].content_id == "logo@kefu"
        assert by_name["data.csv"].data == b"a,b"
        assert [a.address for a in back.to] == ["a@example.com", "b@example.com"]
        assert [a.address for a in back.cc] == ["c@example.com"]
        assert [a.address for a in back.reply_to] == ["help@kefu.example"]
        assert back.text == "见附件"

    def test_explicit_threading_and_message_id(self) -> None:
        reply = build_reply(
            from_addr="support@kefu.example",
            to="a@example.com",
            subject="hi",
            text="x",
            message_id_domain="kefu.example",
            message_id="<fixed-1@kefu.example>",
            in_reply_to="parent@example.com",
            references=["<root@example.com> <mid@example.com>", "garbage"],
            date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        assert reply["Message-ID"] == "<fixed-1@kefu.example>"
        assert reply["In-Reply-To"] == "<parent@example.com>"
        assert reply["References"] == "<root@example.com> <mid@example.com> <parent@example.com>"
        assert reply["Date"] == "Tue, 02 Jan 2024 03:04:05 +0000"

    def test_generated_parent_id_not_used_for_threading(self) -> None:
        parent = parse_email(mail([("From", "a@example.com"), ("Subject", "no id")], "hi"))
        reply = build_reply(
            from_addr="support@kefu.example",
            to="a@example.com",
            text="x",
            parent=parent,
            message_id_domain="kefu.example",
        )
        assert reply["In-Reply-To"] is None
        assert reply["References"] is None
        assert reply["Subject"] == "Re: no id"

    def test_header_injection_is_neutralized(self) -> None:
        reply = build_reply(
            from_addr="support@kefu.example",
            to="a@example.com",
            subject="hi\r\nBcc: victim@example.com",
            text="x",
            message_id_domain="kefu.example",
        )
        raw = reply.as_bytes()
        assert b"\r\nBcc:" not in raw
        assert parse_email(raw).header("Bcc") is None

    @pytest.mark.parametrize("domain", ["", "bad domain", "a@b", "<x>"])
    def test_invalid_domain(self, domain: str) -> None:
        with pytest.raises(ValueError, match="domain"):
            build_reply(from_addr="s@kefu.example", to="a@example.com", subject="s", text="x", message_id_domain=domain)

    def test_idn_domain(self) -> None:
        reply = build_reply(
            from_addr="s@kefu.example", to="a@example.com", subject="s", text="x", message_id_domain="客服.example"
        )
        assert reply["Message-ID"].endswith("@" + "客服".encode("idna").decode() + ".example>")

    def test_requires_subject_and_recipients(self) -> None:
        with pytest.raises(ValueError, match="subject"):
            build_reply(from_addr="s@kefu.example", to="a@example.com", text="x", message_id_domain="kefu.example")
        with pytest.raises(ValueError, match="recipient"):
            build_reply(from_addr="s@kefu.example", to=[], subject="s", text="x", message_id_domain="kefu.example")
        with pytest.raises(ValueError, match="no data"):
            build_reply(
                from_addr="s@kefu.example",
                to="a@example.com",
                subject="s",
                text="x",
                message_id_domain="kefu.example",
                attachments=[Attachment("a.bin", "application/octet-stream", None, url="https://x/a")],
            )


# ---------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------


class TestToInbound:
    def test_mapping(self) -> None:
        raw = mail(
            [
                ("From", f"{ew('王小明', 'utf-8')} <Ming@Example.com>"),
                ("To", "support@kefu.example"),
                ("Subject", "Re: [KF-000123] 问题"),
                ("Date", "Tue, 02 Jan 2024 10:00:00 +0800"),
                ("Message-ID", "<c2@example.com>"),
                ("In-Reply-To", "<s1@kefu.example>"),
                ("References", "<c1@example.com> <s1@kefu.example>"),
                ("Content-Type", "text/plain; charset=utf-8"),
            ],
            "新的问题\n\n在 2024-01-02 09:00:00，客服 <s@kefu.example> 写道：\n> 旧内容\n".encode(),
        )
        parsed = parse_email(raw)
        inbound = to_inbound(parsed)
        assert isinstance(inbound, InboundMessage)
        assert inbound.channel == "email"
        assert inbound.provider_message_id == "<c2@example.com>"
        assert inbound.sender_external_id == "ming@example.com"
        assert inbound.sender_name == "王小明"
        assert inbound.text == "新的问题"
        assert inbound.thread_keys == ("<s1@kefu.example>", "<c1@example.com>")
        assert inbound.subject == "Re: [KF-000123] 问题"
        assert inbound.sent_at == datetime(2024, 1, 2, 2, 0, tzinfo=UTC)
        assert inbound.event_type == "message"
        assert inbound.reply_token is None
        assert inbound.raw["full_text"].startswith("新的问题")
        assert inbound.raw["is_auto_reply"] is False
        assert to_inbound(parsed, strip_quotes=False).text == parsed.text
        hash(inbound)  # usable in sets despite the raw dict

    def test_raw_is_json_serializable(self) -> None:
        import json

        json.dumps(to_inbound(parse_email(_attachment_mail())).raw)
