"""A dependency-free PDF writer for CJK text, using the standard non-embedded Adobe CID fonts.

MSung-Light (Traditional, Adobe-CNS1) and STSong-Light (Simplified, Adobe-GB1) are part of every PDF
reader's Asian font pack, so no font file is embedded and the output stays small.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 50
FONT_SIZE = 10
LEADING = 14


@dataclass(frozen=True)
class CidFont:
    """A standard CID-keyed font and the UCS-2 CMap that addresses it."""

    name: str
    ordering: str
    supplement: int
    encoding: str


MSUNG = CidFont("MSung-Light", "CNS1", 0, "UniCNS-UCS2-H")
STSONG = CidFont("STSong-Light", "GB1", 2, "UniGB-UCS2-H")


def font_for(locale: str | None) -> CidFont:
    """Simplified Chinese gets STSong, everything else MSung."""
    return STSONG if (locale or "").lower() in ("zh-cn", "zh-hans", "zh-sg") else MSUNG


def _width(ch: str) -> float:
    return 0.5 if ord(ch) < 0x80 else 1.0  # half-width Roman vs full-width ideographs, in ems


def wrap(text: str, max_em: float) -> list[str]:
    """Greedy wrap by character width (CJK has no spaces to break on)."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line, width = "", 0.0
        for ch in raw.replace("\t", "    "):
            w = _width(ch)
            if width + w > max_em and line:
                lines.append(line)
                line, width = "", 0.0
            line += ch
            width += w
        lines.append(line)
    return lines


def _hex(text: str) -> str:
    # UCS-2 CMaps cover the BMP only; anything beyond (emoji, rare CJK Ext. B) becomes U+FFFD-like '?'.
    safe = "".join(ch if ord(ch) <= 0xFFFF and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in text)
    return safe.encode("utf-16-be").hex().upper()


def _pdf_string(text: str) -> str:
    return "<FEFF" + _hex(text) + ">"


def render_pdf(title: str, lines: Iterable[str], *, locale: str | None = None) -> bytes:
    """Lay `lines` (wrapped to the page width) out on A4 pages under `title`; returns the PDF bytes."""
    font = font_for(locale)
    max_em = (PAGE_W - 2 * MARGIN) / FONT_SIZE
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(wrap(line, max_em))
    per_page = int((PAGE_H - 2 * MARGIN) / LEADING) - 2
    pages = [wrapped[i : i + per_page] for i in range(0, len(wrapped), per_page)] or [[]]

    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree id is known
    pages_id = add(b"")
    descriptor = add(
        (
            f"<< /Type /FontDescriptor /FontName /{font.name} /Flags 6 /FontBBox [-160 -249 1015 1071] "
            "/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"
        ).encode()
    )
    cid = add(
        (
            f"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /{font.name} "
            f"/CIDSystemInfo << /Registry (Adobe) /Ordering ({font.ordering}) /Supplement {font.supplement} >> "
            f"/FontDescriptor {descriptor} 0 R /DW 1000 /W [1 95 500] >>"
        ).encode()
    )
    type0 = add(
        (
            f"<< /Type /Font /Subtype /Type0 /BaseFont /{font.name}-{font.encoding} /Encoding /{font.encoding} "
            f"/DescendantFonts [{cid} 0 R] >>"
        ).encode()
    )
    kids: list[int] = []
    for n, page_lines in enumerate(pages, start=1):
        ops = [f"BT /F1 {FONT_SIZE + 4} Tf {MARGIN} {PAGE_H - MARGIN} Td <{_hex(title)}> Tj ET"]
        ops.append(f"BT /F1 {FONT_SIZE} Tf {LEADING} TL {MARGIN} {PAGE_H - MARGIN - 2 * LEADING} Td")
        ops.extend(f"<{_hex(line)}> Tj T*" for line in page_lines)
        ops.append("ET")
        ops.append(f"BT /F1 8 Tf {PAGE_W - MARGIN - 30} {MARGIN / 2} Td <{_hex(f'{n}/{len(pages)}')}> Tj ET")
        stream = zlib.compress("\n".join(ops).encode("ascii"))
        content = add(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream")
        kids.append(
            add(
                (
                    f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                    f"/Resources << /Font << /F1 {type0} 0 R >> >> /Contents {content} 0 R >>"
                ).encode()
            )
        )
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    objects[pages_id - 1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    )
    info = add(f"<< /Title {_pdf_string(title)} /Producer (kefu) >>".encode())

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
