"""Brand appearance: colours validated as readable #RRGGBB, logo/favicon uploads checked by signature and size or a
logo https:// URL, served to the help centre and the widget as a per-brand stylesheet (no inline styles)."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import pytest

from kefu.brands import theme
from kefu.core.errors import InvalidInput
from tests.web.test_workspace import _login


def png(width: int = 8, height: int = 8, pad: int = 0) -> bytes:
    """A real PNG (solid teal), optionally padded with an ancillary chunk to a given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([15, 118, 110]) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    extra = chunk(b"tEXt", b"c\x00" + b"x" * pad) if pad else b""
    body = chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def test_colour_checks() -> None:
    assert theme.check_colour("#0F766E") == "#0f766e"
    for bad in ("0f766e", "#fff", "#12345g", "red", "#0f766e;}"):
        with pytest.raises(InvalidInput):
            theme.check_colour(bad)
    with pytest.raises(InvalidInput) as low:
        theme.check_colour("#ffcc00")  # white text on yellow is unreadable
    assert low.value.extra["reason"] == "contrast"
    assert round(theme.contrast_with_white("#c2410c"), 1) == 5.2


def test_asset_checks_by_signature_and_size() -> None:
    assert theme.check_asset("logo", png()) == "image/png"
    assert theme.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    with pytest.raises(InvalidInput):
        theme.check_asset("logo", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    with pytest.raises(InvalidInput) as big:
        theme.check_asset("logo", png(pad=theme.LOGO_MAX))
    assert big.value.extra["reason"] == "size"
    with pytest.raises(InvalidInput):
        theme.check_asset("favicon", b"\xff\xd8\xff\xe0 jpeg is not a favicon type here")
    for bad in ("http://cdn.example/logo.png", "javascript:alert(1)", "https://", 'https://x.example/"><b>'):
        with pytest.raises(InvalidInput):
            theme.check_url(bad)


@pytest.fixture
def admin_world(make: Any) -> dict[str, Any]:
    brand = make.brand(timezone="Asia/Taipei")
    return {"brand": brand, "admin": make.agent("admin", [brand])}


def test_admin_saves_theme_and_help_centre_uses_it(client: Any, admin_world: dict[str, Any]) -> None:
    brand = admin_world["brand"]
    h = _login(client, admin_world["admin"])
    h.pop("HX-Request")
    assert client.get(f"/portal/{brand.slug}/brand.css").text == ""  # unthemed: portal.css defaults apply
    r = client.post(
        f"/admin/brands/{brand.id}/theme",
        data={"primary": "#0F766E", "accent": "#7c3aed"},
        files={"logo_file": ("logo.png", png(), "image/png"), "favicon_file": ("f.png", png(4, 4), "image/png")},
        headers=h,
    )
    assert r.status_code == 200, r.text
    css = client.get(f"/portal/{brand.slug}/brand.css")
    assert css.headers["content-type"].startswith("text/css")
    assert "--hc-accent:#0f766e" in css.text and "--kefu-accent:#0f766e" in css.text
    assert "--hc-highlight:#7c3aed" in css.text
    page = client.get(f"/portal/{brand.slug}?lang=en").text
    logo = re.search(r'<img class="hc-logo-img" src="([^"]+)"', page)
    assert logo and logo.group(1).startswith(f"/portal/{brand.slug}/logo?v=")
    assert f'href="/portal/{brand.slug}/brand.css?v=' in page
    assert f'<link rel="icon" href="/portal/{brand.slug}/favicon?v=' in page
    assert "style=" not in page  # CSP: colours come from the stylesheet only
    img = client.get(logo.group(1))
    assert img.status_code == 200 and img.content == png()
    assert img.headers["content-type"] == "image/png" and img.headers["x-content-type-options"] == "nosniff"
    # Removing the upload and giving an address instead: the page allows that host for images.
    r = client.post(
        f"/admin/brands/{brand.id}/theme",
        data={"primary": "#0f766e", "logo_url": "https://cdn.example.com/logo.png", "remove_logo": "1"},
        headers=h,
    )
    assert r.status_code == 200
    assert client.get(f"/portal/{brand.slug}/logo").status_code == 404
    home = client.get(f"/portal/{brand.slug}")
    assert 'src="https://cdn.example.com/logo.png"' in home.text
    assert "https://cdn.example.com" in home.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("data", "files", "field", "message"),
    [
        ({"primary": "teal"}, None, "primary", "Enter a 6-digit hex colour"),
        ({"accent": "#ffee00"}, None, "accent", "too faint"),
        ({"logo_url": "http://insecure.example/l.png"}, None, "logo_url", "https://"),
        ({}, {"logo_file": ("x.svg", b"<svg/>", "image/svg+xml")}, "logo_file", "PNG, JPEG or WebP"),
        ({}, {"logo_file": ("big.png", png(pad=300 * 1024), "image/png")}, "logo_file", "max 256 KB"),
        ({}, {"favicon_file": ("f.gif", b"GIF89a....", "image/gif")}, "favicon_file", "PNG or ICO"),
    ],
)
def test_admin_theme_errors_shown_next_to_the_field(
    client: Any, admin_world: dict[str, Any], data: dict[str, str], files: Any, field: str, message: str
) -> None:
    brand = admin_world["brand"]
    h = _login(client, admin_world["admin"])
    r = client.post(f"/admin/brands/{brand.id}/theme?lang=en", data=data, files=files, headers=h)
    assert r.status_code == 422
    fid = f"theme-{brand.id}"
    shown = rf'<p class="field-error" id="{fid}-{field}-err">[^<]*{re.escape(message)}'
    assert re.search(shown, r.text), r.text[-3000:]
    assert client.get(f"/portal/{brand.slug}/brand.css").text == ""  # nothing saved
