"""Every HTML response carries a strict, nonce-based CSP and runs no script or style without that nonce."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from tests.security.test_route_matrix import _fill, _world, api_routes

TEMPLATES = Path(__file__).parents[2] / "src" / "kefu" / "web" / "templates"
TAG = re.compile(r"<(script|style|link)\b([^>]*)>", re.I)
INLINE_HANDLER = re.compile(r"""\s(on[a-z]+|hx-on[:\w-]*|style)\s*=""", re.I)


def check_html(html: str, csp: str | None, where: str) -> list[str]:
    """Problems with one HTML response: CSP header, nonces on every script/style, no inline handlers."""
    problems: list[str] = []
    if not csp:
        return [f"{where}: no Content-Security-Policy"]
    m = re.search(r"script-src [^;]*'nonce-([A-Za-z0-9_\-+/=]+)'", csp)
    if not m:
        return [f"{where}: CSP without a script nonce: {csp}"]
    nonce = m.group(1)
    for bad in ("'unsafe-inline'", "'unsafe-eval'", "*;", " * ", "'unsafe-hashes'"):
        if bad in csp:
            problems.append(f"{where}: CSP contains {bad}")
    for needed in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        if needed not in csp:
            problems.append(f"{where}: CSP lacks {needed}")
    for tag, attrs in TAG.findall(html):
        if tag.lower() == "link" and "stylesheet" not in attrs:
            continue
        if tag.lower() == "link" and "nonce=" not in attrs:
            continue  # a same-origin stylesheet is allowed by style-src 'self'
        if f'nonce="{nonce}"' not in attrs:
            problems.append(f"{where}: <{tag}{attrs[:80]}> without this response's nonce")
    if INLINE_HANDLER.search(re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S | re.I)):
        problems.append(f"{where}: inline event handler or style attribute: {INLINE_HANDLER.search(html)}")
    if "javascript:" in html.lower():
        problems.append(f"{where}: javascript: URL")
    return problems


def _html_routes(app: Any) -> list[APIRoute]:
    routes = []
    for r in api_routes(list(app.routes)):
        if "GET" not in r.methods:
            continue
        html = getattr(r.response_class, "__name__", "") == "HTMLResponse"
        if not r.path.startswith("/api/") or html or r.path.endswith(".{fmt}"):
            routes.append(r)
    return routes


def test_every_page_route_sends_nonce_csp(app: Any, client: Any, make: Any, db: Any) -> None:
    w = _world(db, make)
    from kefu.brands.service import create_inbox

    board = create_inbox(db, w["brand"], kind="board", name="Board <b>", config={}, actor=None)
    db.commit()
    ids = {
        "brand_id": w["brand"].id,
        "customer_id": w["customer"].id,
        "conversation_id": w["conversation"].id,
        "ticket_id": w["ticket"].id,
        "number": w["ticket"].number,
        "inbox_id": board.id,
        "kind": "weekly",
        "fmt": "html",
        "brand": w["brand"].slug,
        "slug": w["brand"].slug,
    }
    admin = make.agent("admin")
    routes = _html_routes(app)
    assert len(routes) >= 15, [r.path for r in routes]
    problems: list[str] = []
    seen = 0
    for signed_in in (False, True):
        client.cookies.clear()
        if signed_in:
            assert client.post("/login", data={"email": admin.email, "password": "correct horse 1"}).status_code < 400
        for route in routes:
            path = _fill(route.path, ids)
            extra = ["", "?tab=agents", "?view=all"] if path in ("/admin", "/console") else [""]
            for q in extra:
                r = client.get(path + q, follow_redirects=True)
                if r.status_code >= 500:
                    problems.append(f"{path}{q}: {r.status_code}")
                if r.headers.get("content-type", "").startswith("text/html"):
                    seen += 1
                    problems += check_html(r.text, r.headers.get("content-security-policy"), f"GET {path}{q}")
    # Error pages and the docs too.
    for path in ("/console/conversations/999999", "/no-such-page", "/reset-password?token=x", "/docs", "/login"):
        r = client.get(path)
        assert r.headers["content-type"].startswith("text/html"), path
        problems += check_html(r.text, r.headers.get("content-security-policy"), f"GET {path}")
    assert seen >= 20
    assert not problems, "\n".join(problems)


def test_nonce_differs_per_response(client: Any) -> None:
    a, b = client.get("/login"), client.get("/login")
    na = re.search(r"'nonce-([^']+)'", a.headers["content-security-policy"])
    nb = re.search(r"'nonce-([^']+)'", b.headers["content-security-policy"])
    assert na and nb and na.group(1) != nb.group(1) and len(na.group(1)) >= 16
    assert f'nonce="{na.group(1)}"' in a.text


def test_templates_have_no_inline_script_or_handler() -> None:
    """Static check of every template, including ones no route above happened to render."""
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for tag, attrs in TAG.findall(text):
            if tag.lower() in ("script", "style") and "request.state.csp_nonce" not in attrs:
                problems.append(f"{path.name}: <{tag}{attrs[:60]}> without the nonce")
        if INLINE_HANDLER.search(text) or "hx-on" in text or "javascript:" in text:
            problems.append(f"{path.name}: inline handler/style attribute")
    assert not problems, "\n".join(problems)


def test_demo_shop_only_in_demo_mode_and_never_reflects(client: Any, app: Any, make: Any, db: Any) -> None:
    from kefu.brands.service import create_inbox

    brand = make.brand()
    create_inbox(db, brand, kind="web_chat", name="Web", config={}, actor=None)
    db.commit()
    evil = "https://evil.example/x.js"
    assert client.get(f"/demo/shop?brand={brand.slug}&widget_origin={evil}").status_code == 404
    app.state.settings = app.state.settings.model_copy(update={"demo_mode": True})
    r = client.get(f"/demo/shop?brand={brand.slug}&widget_origin={evil}")
    assert r.status_code == 200
    assert "evil.example" not in r.text and "evil.example" not in r.headers["content-security-policy"]
    assert check_html(r.text, r.headers["content-security-policy"], "demo") == []


def test_me_does_not_expose_csrf_but_pages_do(client: Any, make: Any) -> None:
    agent = make.agent()
    r = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "correct horse 1"})
    csrf = r.json()["csrf_token"]
    assert csrf not in client.get("/api/v1/me").text
    assert f'<meta name="csrf-token" content="{csrf}">' in client.get("/console").text
