"""HTML: sanitizing mail HTML for display and converting it to plain text."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import nh3

_ALLOWED_TAGS: frozenset[str] = frozenset(nh3.ALLOWED_TAGS) | {"font", "tfoot"}
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ALLOWED_ATTRIBUTES["*"] = {"style", "title", "dir", "lang", "align"}
_ALLOWED_ATTRIBUTES["font"] = {"color", "face", "size"}
for _table_tag in ("table", "td", "th", "tr"):
    _ALLOWED_ATTRIBUTES.setdefault(_table_tag, set()).update({"width", "height", "valign", "bgcolor"})
_ALLOWED_ATTRIBUTES["table"].update({"border", "cellpadding", "cellspacing"})

# Inline style is kept for readability, but only presentational properties: no position (overlay
# phishing), no display (hidden text), no url()-bearing background shorthand.
# fmt: off
_SAFE_STYLE_PROPERTIES = frozenset({
    "background-color", "border", "border-bottom", "border-collapse", "border-color", "border-left",
    "border-right", "border-style", "border-top", "border-width", "color", "direction", "font",
    "font-family", "font-size", "font-style", "font-variant", "font-weight", "height",
    "letter-spacing", "line-height", "list-style-type", "margin", "margin-bottom", "margin-left",
    "margin-right", "margin-top", "max-width", "padding", "padding-bottom", "padding-left",
    "padding-right", "padding-top", "text-align", "text-decoration", "text-indent",
    "vertical-align", "white-space", "width", "word-break",
})
# fmt: on
# "data" is allowed here only so the attribute filter can admit raster data: images; every other
# data: URL is dropped there. javascript:, vbscript: etc. are never in this set.
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
_CLEAN_CONTENT_TAGS = frozenset({"script", "style", "title", "noscript", "template"})
_SAFE_DATA_IMAGE_RE = re.compile(r"^data:image/(?:png|jpe?g|gif|webp|bmp);base64,", re.I)
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*:", re.I)
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "action", "background", "poster"})


def _make_attribute_filter(allow_remote_images: bool) -> Callable[[str, str, str], str | None]:
    def _filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        lowered = value.strip().lower()
        if lowered.startswith("data:"):
            is_image = tag == "img" and attribute == "src" and _SAFE_DATA_IMAGE_RE.match(lowered)
            return value if is_image else None
        # Relative URLs would resolve against our own agent UI, so they are never meaningful here.
        if not _SCHEME_RE.match(lowered):
            return None
        if not allow_remote_images and tag == "img" and lowered.startswith(("http:", "https:")):
            return None
        return value

    return _filter


_FILTER_REMOTE_OK = _make_attribute_filter(True)
_FILTER_NO_REMOTE = _make_attribute_filter(False)


def sanitize_html(html: str, *, allow_remote_images: bool = True) -> str:
    """Sanitize untrusted email HTML with nh3: no scripts, handlers, javascript: or relative URLs."""
    if not html:
        return ""
    return nh3.clean(
        html,
        tags=set(_ALLOWED_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_FILTER_REMOTE_OK if allow_remote_images else _FILTER_NO_REMOTE,
        strip_comments=True,
        link_rel="noopener noreferrer",
        url_schemes=set(_URL_SCHEMES),
        filter_style_properties=set(_SAFE_STYLE_PROPERTIES),
        set_tag_attribute_values={"a": {"target": "_blank"}},
    ).strip()


class _HtmlToText(HTMLParser):
    """Render HTML as plain text; blockquotes become ``> `` lines so quote stripping still works."""

    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg"})
    # fmt: off
    _BLOCK = frozenset({
        "address", "article", "aside", "blockquote", "center", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "tr", "ul",
    })
    # fmt: on
    _PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._buf: list[str] = []
        self._skip = 0
        self._quote = 0
        self._pre = 0

    def _flush(self, *, force: bool = False) -> None:
        line = "".join(self._buf)
        self._buf = []
        if not self._pre:
            line = re.sub(r"\s+", " ", line).strip()
        if line or force:
            prefix = "> " * self._quote
            self._lines.append((prefix + line).rstrip() if prefix else line)

    def _blank(self) -> None:
        self._flush()
        blank = ">" * self._quote if self._quote else ""
        if self._lines and self._lines[-1] != blank:
            self._lines.append(blank)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element."""
        if tag in self._SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "br":
            self._flush(force=True)
        elif tag in ("td", "th"):
            self._buf.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._buf.append(f"[{alt}]")
        elif tag in self._BLOCK:
            if tag in self._PARAGRAPH or tag == "blockquote":
                self._blank()
            else:
                self._flush()
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._buf.append("- ")

    def handle_endtag(self, tag: str) -> None:
        """Close an element."""
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip or tag not in self._BLOCK:
            return
        if tag in self._PARAGRAPH or tag == "blockquote":
            self._blank()
        else:
            self._flush()
        if tag == "blockquote":
            self._quote = max(0, self._quote - 1)
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        """Collect text content."""
        if self._skip:
            return
        if self._pre:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._flush(force=True)
                self._buf.append(part)
        else:
            self._buf.append(data)

    def text(self) -> str:
        """Return the rendered text."""
        self.close()
        self._flush()
        rendered = "\n".join(self._lines)
        return re.sub(r"\n{3,}", "\n\n", rendered).strip()


def html_to_text(html: str) -> str:
    """Convert HTML to readable plain text (scripts/styles dropped, quotes as ``> ``)."""
    parser = _HtmlToText()
    parser.feed(html)
    return parser.text()
