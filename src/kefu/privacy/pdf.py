"""PDF documents (data-subject exports, reports) written by fpdf2 with embedded, subset CJK fonts.

Every character is stored with its glyph and a ToUnicode entry, so what a reader shows and what a text extractor
returns is the exact input, beyond the BMP too (😀, 𠀀: a name in an export must not change). The fonts come from
Debian packages that `make system-deps` and the Dockerfile install, never from the network at run time:
fonts-wqy-microhei (Latin and BMP Chinese, the body font), fonts-hanazono (rare ideographs, CJK extensions A–F incl.
plane 2) and fonts-symbola (emoji, symbols). The fallbacks are loaded only when the text needs them, since parsing
the large CJK fonts is the slow part of a render. A missing font file is an error naming its package.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kefu.core.errors import ProblemError

FONT_SIZE = 10
TITLE_SIZE = 14
LEADING = 14
MARGIN = 50


class MissingFontError(ProblemError):
    """A font file the PDF writer needs is not installed (503 problem naming the Debian package)."""

    status = 503
    title = "PDF fonts not installed"


@dataclass(frozen=True)
class FontFile:
    """One font the writer embeds: its family name in the PDF, file and the Debian package that installs it."""

    family: str
    path: Path
    package: str


FONT_DIR = Path("/usr/share/fonts/truetype")
BODY = FontFile("wqy-microhei", FONT_DIR / "wqy" / "wqy-microhei.ttc", "fonts-wqy-microhei")
FALLBACKS = (
    FontFile("hanamin-a", FONT_DIR / "hanazono" / "HanaMinA.ttf", "fonts-hanazono"),
    FontFile("hanamin-b", FONT_DIR / "hanazono" / "HanaMinB.ttf", "fonts-hanazono"),
    FontFile("symbola", FONT_DIR / "ancient-scripts" / "Symbola_hint.ttf", "fonts-symbola"),
)


def _require(font: FontFile) -> Path:
    if not font.path.is_file():
        raise MissingFontError.said("err_privacy_pdf_font_missing", path=str(font.path), package=font.package)
    return font.path


@lru_cache(maxsize=8)
def coverage(font: FontFile) -> frozenset[int]:
    """Code points the font has glyphs for (read once per process)."""
    from fontTools.ttLib import TTFont  # imported on first use: keeps fpdf2/fontTools out of app start-up

    with TTFont(str(_require(font)), fontNumber=0, lazy=True) as tt:
        return frozenset(tt.getBestCmap())


def fallbacks_for(text: str) -> list[FontFile]:
    """The fallback fonts that cover characters of `text` the body font lacks (in preference order)."""
    missing = {ord(ch) for ch in set(text) if ch.isprintable() and not ch.isspace()} - coverage(BODY)
    chosen = []
    for font in FALLBACKS:
        if not missing:
            break
        covered = missing & coverage(font)
        if covered:
            chosen.append(font)
            missing -= covered
    return chosen


def render_pdf(title: str, lines: Iterable[str], *, locale: str | None = None) -> bytes:
    """Lay `lines` (wrapped to the page width, character-wise for CJK) out on A4 pages under `title`."""
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos

    body = [line.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ") for line in lines]
    pdf = FPDF(unit="pt", format="A4")

    def footer() -> None:
        pdf.set_y(-MARGIN / 2 - 8)
        pdf.set_font(BODY.family, size=8)
        pdf.cell(0, 8, f"{pdf.page_no()}/{{nb}}", align="R")

    pdf.footer = footer  # type: ignore[method-assign]  # FPDF calls self.footer() at each page end
    pdf.set_title(title)
    pdf.set_producer("kefu")
    if locale:
        pdf.set_lang(locale)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, MARGIN)
    pdf.add_font(BODY.family, fname=_require(BODY))
    extra = fallbacks_for(title + "".join(body))
    for font in extra:
        pdf.add_font(font.family, fname=_require(font))
    if extra:
        pdf.set_fallback_fonts([f.family for f in extra])
    pdf.add_page()
    pdf.set_font(BODY.family, size=TITLE_SIZE)
    pdf.multi_cell(0, LEADING * 1.5, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR)
    pdf.ln(LEADING / 2)
    pdf.set_font(BODY.family, size=FONT_SIZE)
    for line in body:
        for part in line.split("\n"):
            pdf.multi_cell(
                0, LEADING, part or " ", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR
            )
    return bytes(pdf.output())
