"""Brand appearance for the help centre and the chat widget: colours, logo and favicon, served as a stylesheet.

Stored in ``brand.settings["theme"]`` (colours, logo URL, asset digests) and ``brand_assets`` (uploaded bytes).
Pages never get inline styles (strict CSP): the colours reach them as CSS custom properties in a per-brand
stylesheet (:func:`stylesheet`) that the help-centre layout and the widget link to.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.brands.commands import UpdateBrand, build
from kefu.brands.models import Brand, BrandAsset
from kefu.brands.service import update_brand
from kefu.core.db import utcnow
from kefu.core.errors import InvalidInput

HEX = re.compile(r"#[0-9a-fA-F]{6}")
MIN_CONTRAST = 4.5  # WCAG AA for white button and header text on the brand colour
LOGO_MAX = 256 * 1024
FAVICON_MAX = 64 * 1024
ASSET_KINDS = ("logo", "favicon")
# Raster types only (an SVG could carry script); recognised by their leading bytes, never the client's word.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)
_ALLOWED = {"logo": {"image/png", "image/jpeg", "image/webp"}, "favicon": {"image/png", "image/x-icon"}}


@dataclass(frozen=True)
class Theme:
    """What a page needs to draw the brand: colours, where the logo and favicon are, and a cache version."""

    primary: str | None
    accent: str | None
    logo: str | None  # URL to put in <img src>: the uploaded logo's route or an https:// address
    favicon: str | None
    version: str


def sniff(data: bytes) -> str | None:
    """The image type of uploaded bytes, from their signature (None when not a recognised raster image)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((ctype for magic, ctype in _MAGIC if data.startswith(magic)), None)


def contrast_with_white(hex_colour: str) -> float:
    """WCAG contrast ratio of white text on the colour."""

    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else float(((v + 0.055) / 1.055) ** 2.4)

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    lum = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (lum + 0.05)


def darker(hex_colour: str, factor: float = 0.78) -> str:
    """The colour darkened (hover states, links on white)."""
    r, g, b = (round(int(hex_colour[i : i + 2], 16) * factor) for i in (1, 3, 5))
    return f"#{r:02x}{g:02x}{b:02x}"


def check_colour(value: str) -> str:
    """A #RRGGBB colour white text stays readable on; InvalidInput otherwise (field-specific reason in .extra)."""
    if not HEX.fullmatch(value):
        raise InvalidInput.said("err_brands_colour_hex").also(reason="hex")
    ratio = contrast_with_white(value)
    if ratio < MIN_CONTRAST:
        raise InvalidInput.said("err_brands_colour_contrast", colour=value, ratio=ratio).also(reason="contrast")
    return value.lower()


def check_url(value: str) -> str:
    """An absolute https:// address (images from elsewhere must not downgrade the page)."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or len(value) > 500 or any(c in value for c in "\"'<> \\"):
        raise InvalidInput.said("err_brands_logo_https")
    return value


def check_asset(kind: str, data: bytes) -> str:
    """The content type of an upload for `kind`, refusing other types and oversize files."""
    ctype = sniff(data)
    if ctype not in _ALLOWED[kind]:
        raise InvalidInput.said("err_brands_asset_type", kind=kind, types=sorted(_ALLOWED[kind])).also(reason="type")
    if len(data) > (LOGO_MAX if kind == "logo" else FAVICON_MAX):
        raise InvalidInput.said("err_brands_asset_size", kind=kind).also(reason="size")
    return ctype


def theme_of(brand: Brand) -> Theme:
    """The brand's appearance as stored (no queries: digests of uploads are kept in the settings)."""
    raw: dict[str, Any] = (brand.settings or {}).get("theme") or {}
    assets: dict[str, str] = raw.get("assets") or {}
    logo = f"/portal/{brand.slug}/logo?v={assets['logo'][:12]}" if "logo" in assets else raw.get("logo_url")
    favicon = f"/portal/{brand.slug}/favicon?v={assets['favicon'][:12]}" if "favicon" in assets else None
    digest = hashlib.sha256(repr(sorted(raw.items())).encode()).hexdigest()[:12]
    return Theme(raw.get("primary"), raw.get("accent"), logo, favicon, digest)


def stylesheet(theme: Theme) -> str:
    """CSS custom properties for the help centre (--hc-*) and the widget (--kefu-accent); empty when unthemed."""
    rules: list[str] = []
    if theme.primary:
        rules.append(f":root {{ --hc-accent:{theme.primary}; --hc-accent-dark:{darker(theme.primary)}; }}")
        rules.append(f":root .kefu-root {{ --kefu-accent:{theme.primary}; }}")  # outranks widget.css's default
    if theme.accent:
        rules.append(f":root {{ --hc-highlight:{theme.accent}; }}")
    return "\n".join(rules) + ("\n" if rules else "")


def save_theme(
    session: Session,
    brand: Brand,
    actor: Principal,
    *,
    primary: str | None,
    accent: str | None,
    logo_url: str | None,
    uploads: dict[str, bytes] | None = None,
    remove: tuple[str, ...] = (),
) -> Theme:
    """Validate and store the appearance; uploads replace the brand's logo/favicon, `remove` deletes them."""
    raw: dict[str, Any] = dict((brand.settings or {}).get("theme") or {})
    assets: dict[str, str] = dict(raw.get("assets") or {})
    raw["primary"] = check_colour(primary) if primary else None
    raw["accent"] = check_colour(accent) if accent else None
    raw["logo_url"] = check_url(logo_url) if logo_url else None
    for kind, data in (uploads or {}).items():
        ctype = check_asset(kind, data)
        digest = hashlib.sha256(data).hexdigest()
        row = _asset_row(session, brand.id, kind) or BrandAsset(brand_id=brand.id, kind=kind)
        row.content_type, row.data, row.sha256, row.updated_at = ctype, data, digest, utcnow()
        session.add(row)
        assets[kind] = digest
    for kind in remove:
        if kind in (uploads or {}):
            continue
        old = _asset_row(session, brand.id, kind)
        if old is not None:
            session.delete(old)
        assets.pop(kind, None)
    raw["assets"] = assets
    stored = {k: v for k, v in raw.items() if v}
    update_brand(session, brand, actor, build(UpdateBrand, {"settings": {"theme": stored or None}}))
    return theme_of(brand)


def _asset_row(session: Session, brand_id: int, kind: str) -> BrandAsset | None:
    return session.scalar(select(BrandAsset).where(BrandAsset.brand_id == brand_id, BrandAsset.kind == kind))


def asset(session: Session, brand: Brand, kind: str) -> BrandAsset | None:
    """An uploaded logo or favicon of a brand (public: they are shown on its help centre)."""
    return _asset_row(session, brand.id, kind) if kind in ASSET_KINDS else None
