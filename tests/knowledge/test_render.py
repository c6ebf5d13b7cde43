"""The answer renderer: sanitising on write, per-channel rendering, XSS attempts."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from kefu.knowledge.render import ALLOWED_TAGS, clean_answer, for_channel, sanitize_html, to_text

XSS = [
    "<script>alert(1)</script><p>ok</p>",
    '<img src="https://x.example/a.png" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://evil.example"><input name="pw"></form>',
    '<a href="//evil.example/x">x</a>',
    '<img src="http://insecure.example/a.png">',
    '"><script>alert(1)</script>',
    "<body onload=alert(1)>",
    '<object data="https://evil.example/x.swf"></object>',
]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("payload", XSS)
@pytest.mark.parametrize("fmt", ["html", "markdown", "text"])
def test_no_active_content_survives_any_format_or_channel(payload: str, fmt: str) -> None:
    for channel in ("web_chat", "portal", "email"):
        html = str(for_channel(payload, fmt, channel).html)
        parser = _Elements()
        parser.feed(html)
        for tag, attrs in parser.found:
            assert tag in ALLOWED_TAGS, (payload, fmt, html)
            assert not any(a.startswith("on") or a == "style" for a in attrs), (payload, fmt, html)
            for a in ("href", "src"):
                if attrs.get(a) is not None:
                    assert str(attrs[a]).startswith(("https://", "mailto:", "tel:")) or (
                        a == "href" and str(attrs[a]).startswith("http://")
                    ), (payload, fmt, html)
            assert not (tag == "img" and str(attrs.get("src", "")).startswith("http://"))


def test_html_is_sanitised_on_write_and_keeps_links_lists_images() -> None:
    raw = (
        '<p>Call <a href="tel:+886-2-1234" onclick="x()">us</a> or see '
        '<a href="https://bank.example/fees?a=1&b=2">fees</a>.</p>'
        "<ol><li>Sign in</li><li>Open <b>Cards</b></li></ol>"
        '<img src="https://cdn.bank.example/card.png" alt="card"><script>steal()</script>'
    )
    stored = clean_answer(raw, "html")
    assert "script" not in stored and "onclick" not in stored
    assert (
        '<a href="https://bank.example/fees?a=1&amp;b=2" target="_blank" rel="noopener noreferrer nofollow">' in stored
    )
    assert "<ol><li>Sign in</li>" in stored and '<img src="https://cdn.bank.example/card.png" alt="card">' in stored


def test_plain_text_channels_get_links_written_out() -> None:
    md = (
        "Lost card? **Call us** or [report online](https://bank.example/lost).\n\n"
        "1. Sign in\n2. Freeze card\n\n- one\n- two\n\n![card](https://cdn.example/c.png)"
    )
    line = for_channel(md, "markdown", "line")
    assert line.html is None
    assert line.text == (
        "Lost card? Call us or report online (https://bank.example/lost).\n"
        "1. Sign in\n2. Freeze card\n• one\n• two\ncard (https://cdn.example/c.png)"
    )
    messenger = for_channel(
        '<p>見 <a href="https://a.example/x">說明</a></p><ul><li>甲</li><li>乙</li></ul>', "html", "messenger"
    )
    assert messenger.text == "見 說明 (https://a.example/x)\n• 甲\n• 乙"
    # A link whose label is its URL is written once; mailto shows the address.
    assert to_text('<a href="https://a.example">https://a.example</a>', "html") == "https://a.example"
    assert to_text('<a href="mailto:help@bank.example">help@bank.example</a>', "html") == "help@bank.example"


def test_markdown_raw_html_is_escaped_and_text_is_linkified_for_rich_channels() -> None:
    out = str(for_channel("hi <b>there</b> https://a.example/x?y=1", "markdown", "web_chat").html)
    assert "&lt;b&gt;" in out
    text = for_channel("see https://a.example/x\nline 2 <i>", "text", "web_chat")
    assert text.html is not None and '<a href="https://a.example/x"' in text.html and "&lt;i&gt;" in text.html
    assert "<br>" in text.html and text.text == "see https://a.example/x\nline 2 <i>"


def test_unknown_format_is_refused_and_empty_after_sanitising_is_empty() -> None:
    from kefu.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        clean_answer("x", "rtf")
    assert sanitize_html("<script>only()</script>") == ""
