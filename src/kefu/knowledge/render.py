"""Answer rendering: one place decides, per channel, how a text/HTML/Markdown answer reaches the customer.

HTML is sanitised with nh3 when written and again when rendered (defence in depth); Markdown is rendered with
markdown-it-py (raw HTML disabled) and then sanitised the same way. Channels without rich text (LINE, Messenger,
SMS…) get plain text with links written out. The HTML-to-text walk is hand-written on the standard library's
HTMLParser because no maintained dependency writes out link targets and numbers ordered lists the way chat
customers need ("text (https://…)", "1. …"); it only ever sees HTML that nh3 has already cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import nh3
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from sqlalchemy.orm import Session

    from kefu.conversations.models import Message

FORMATS = ("text", "html", "markdown")
# Channels that display HTML safely (widget, help-center portal, email); every other channel gets plain text.
RICH_CHANNELS = frozenset({"web_chat", "portal", "email"})

ALLOWED_TAGS = frozenset(
    {
        "a", "p", "br", "hr", "ul", "ol", "li", "strong", "b", "em", "i", "u", "s", "code", "pre",
        "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "img", "table", "thead", "tbody", "tr", "th", "td", "span",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_CLEAN_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "svg", "math", "noscript"})


def _url_ok(tag: str, attr: str, value: str) -> str | None:
    # Relative and protocol-relative URLs mean different things on a customer's site (widget) and in email.
    if attr in ("href", "src") and not re.match(r"^(https?:|mailto:|tel:)", value.strip(), re.IGNORECASE):
        return None
    if tag == "img" and attr == "src" and not value.lower().startswith("https://"):
        return None  # mixed content and tracking over plain http are refused for images
    return value


def sanitize_html(html: str) -> str:
    """Safe HTML subset for answers: no scripts, handlers, styles, frames or non-http(s)/mailto/tel URLs."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_url_ok,
        strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        url_schemes=set(URL_SCHEMES),
        set_tag_attribute_values={"a": {"target": "_blank"}},
    ).strip()


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # "commonmark" + tables/strikethrough; html=False escapes raw HTML instead of passing it through.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
        ["table", "strikethrough"]
    )


def markdown_html(source: str) -> str:
    """Markdown rendered to sanitised HTML."""
    return sanitize_html(_markdown().render(source))


def clean_answer(answer: str, fmt: str) -> str:
    """What is stored for an answer: sanitised HTML, Markdown source, or stripped text."""
    if fmt not in FORMATS:
        from kefu.core.errors import InvalidInput

        raise InvalidInput.said("err_knowledge_unknown_answer_format", fmt=fmt)
    if fmt == "html":
        return sanitize_html(answer)
    return answer.strip()


def to_html(body: str, fmt: str) -> str:
    """Safe HTML for a stored answer of any format (plain text is escaped, line breaks and URLs kept)."""
    if fmt == "html":
        return sanitize_html(body)
    if fmt == "markdown":
        return markdown_html(body)
    escaped = str(escape(body))
    linked = re.sub(
        r"https?://[^\s<>&\"']+",
        lambda m: f'<a href="{m.group(0)}" target="_blank" rel="noopener noreferrer nofollow">{m.group(0)}</a>',
        escaped,
    )
    return linked.replace("\n", "<br>")


class _Text(HTMLParser):
    """Sanitised HTML → chat text: paragraphs and list items on their own lines, links written out."""

    _BLOCK = frozenset({"p", "ul", "ol", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number] (0 for bullets)
        self.links: list[tuple[str, int]] = []  # (href, position in out where the link text starts)
        self.pre = 0

    def _newline(self) -> None:
        tail = "".join(self.out[-3:]).rstrip(" ")
        if tail and not tail.endswith("\n"):
            self.out.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element."""
        a = dict(attrs)
        if tag in self._BLOCK:
            self._newline()
        if tag == "pre":
            self.pre += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "ul":
            self.lists.append([0])
        elif tag == "ol":
            start = a.get("start") or "1"
            self.lists.append([int(start) if start.isdigit() else 1])
        elif tag == "li":
            self._newline()
            indent = "  " * max(len(self.lists) - 1, 0)
            if self.lists and self.lists[-1][0]:
                self.out.append(f"{indent}{self.lists[-1][0]}. ")
                self.lists[-1][0] += 1
            else:
                self.out.append(f"{indent}• ")
        elif tag == "a":
            self.links.append((a.get("href") or "", len(self.out)))
        elif tag == "img":
            alt, src = (a.get("alt") or "").strip(), a.get("src") or ""
            self.out.append(f"{alt} ({src})" if alt and src else alt or src)
        elif tag in ("td", "th") and self.out and not self.out[-1].endswith("\n"):
            self.out.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        """Close an element."""
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            target = href[7:] if href.lower().startswith("mailto:") else href[4:] if href.startswith("tel:") else href
            same_number = href.startswith("tel:") and re.sub(r"[^\d+]", "", label) == re.sub(r"[^\d+]", "", target)
            if href and target != label and not same_number:
                self.out.append(f" ({target})" if label else target)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in self._BLOCK or tag == "li":
            self._newline()

    def handle_data(self, data: str) -> None:
        """Text content (whitespace collapsed outside <pre>)."""
        if self.pre:
            self.out.append(data)
        elif data.strip() or (self.out and not self.out[-1].endswith(("\n", " "))):
            text = re.sub(r"\s+", " ", data)
            self.out.append(text.lstrip() if not self.out or self.out[-1].endswith("\n") else text)

    def text(self) -> str:
        """The collected text."""
        self.close()
        lines = [line.rstrip() for line in "".join(self.out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def to_text(body: str, fmt: str) -> str:
    """Plain text for channels without rich text, links written out as "label (url)"."""
    if fmt == "text":
        return body.strip()
    parser = _Text()
    parser.feed(to_html(body, fmt))
    return parser.text()


@dataclass(frozen=True, slots=True)
class Rendered:
    """An answer as one channel shows it: plain text always, safe HTML only for rich channels."""

    text: str
    html: Markup | None
    fmt: str = "text"

    @property
    def rich(self) -> bool:
        """True when the source had markup worth an HTML part (HTML or Markdown answers on a rich channel)."""
        return self.html is not None and self.fmt != "text"


def for_channel(body: str, fmt: str, channel: str) -> Rendered:
    """The rendering of a body of format `fmt` on `channel` (the one rule every channel follows)."""
    fmt = fmt if fmt in FORMATS else "text"
    if channel in RICH_CHANNELS:
        return Rendered(to_text(body, fmt), Markup(to_html(body, fmt)), fmt)  # noqa: S704 - sanitised by nh3 above
    return Rendered(to_text(body, fmt), None, fmt)


def message_formats(session: Session, messages: Sequence[Message]) -> dict[int, str]:
    """Format of each message body: bot answers carry their FAQ's format, everything else is text (one query)."""
    from sqlalchemy import select

    from kefu.knowledge.models import FaqEntry

    out: dict[int, str] = {}
    lookup: dict[int, list[int]] = {}
    for m in messages:
        meta: dict[str, Any] = m.meta or {}
        fmt = meta.get("answer_format")
        if isinstance(fmt, str) and fmt in FORMATS:
            out[m.id] = fmt
        elif m.sender_type == "bot" and isinstance(meta.get("faq_id"), int):
            lookup.setdefault(int(meta["faq_id"]), []).append(m.id)
        else:
            out[m.id] = "text"
    if lookup:
        for faq_id, fmt in session.execute(select(FaqEntry.id, FaqEntry.answer_format).where(FaqEntry.id.in_(lookup))):
            for mid in lookup.pop(faq_id):
                out[mid] = fmt or "text"
        for mids in lookup.values():  # FAQ deleted since: show the stored body as text
            out.update(dict.fromkeys(mids, "text"))
    return out


def render_messages(session: Session, messages: Iterable[Message], channel: str) -> dict[int, Rendered]:
    """Per message id, how `channel` shows its body."""
    rows = list(messages)
    formats = message_formats(session, rows)
    return {m.id: for_channel(m.body, formats.get(m.id, "text"), channel) for m in rows}


def render_message(session: Session, message: Message, channel: str) -> Rendered:
    """How `channel` shows one message."""
    return render_messages(session, [message], channel)[message.id]
