"""Every outbound HTTP request goes through kefu.privacy.net: no plain clients, media and admin URLs are vetted."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.channels.conftest import hub_sign, line_body, line_sign
from tests.channels.fakes import FakeApi

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
GUARD = SRC / "privacy" / "net.py"
# Modules that open network connections without going through the guard.
FORBIDDEN_MODULES = ("requests", "urllib.request", "urllib3", "aiohttp", "http.client", "pycurl", "httplib2")
# Red-team pass 2: other ways out the scanner did not see — httpx's own engine, other protocols' clients, raw sockets.
FORBIDDEN_MODULES += ("httpcore", "ftplib", "poplib", "imaplib", "nntplib", "telnetlib", "xmlrpc.client", "websocket")
# Operator-configured mail relays (SECURITY.md: SMTP/IMAP hosts are not routed through the guard); nowhere else.
MAIL_TRANSPORT = {"channels/email/smtp.py", "channels/email/adapter.py"}
RAW_CONNECTS = {"create_connection", "open_connection", "create_unix_connection", "open_unix_connection"}
FORBIDDEN_HTTPX = {
    "Client", "AsyncClient", "HTTPTransport", "AsyncHTTPTransport",
    "get", "post", "put", "patch", "delete", "head", "options", "request", "stream",
}  # fmt: skip


def _violations(path: Path, mail_transport: bool = False) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    forbidden = FORBIDDEN_MODULES if mail_transport else (*FORBIDDEN_MODULES, "smtplib")
    # Names the socket module and its class go by here: `socket.socket(...)` / `from socket import socket as s`.
    imports = [a for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    socket_mods = {"socket"} | {a.asname for a in imports if a.name == "socket" and a.asname}
    socket_classes = {
        a.asname or a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "socket"
        for a in n.names
        if a.name in ("socket", "SocketType", *RAW_CONNECTS)
    }
    # Names httpx goes by in this module: `import httpx as h` must not hide `h.Client()`.
    httpx_names = {"httpx"} | {
        a.asname for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name == "httpx" and a.asname
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.startswith(forbidden)]
            found += [f"import {a.name}" for a in node.names if a.name.startswith("httpx.")]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            # `from urllib import request`, `from http import client`: the forbidden module under its parent's name.
            full = [f"{mod}.{a.name}" for a in node.names]
            if mod.startswith(forbidden) or any(f.startswith(forbidden) for f in full):
                found.append(f"from {mod} import …")
            if mod == "httpx":
                found += [f"from httpx import {a.name}" for a in node.names if a.name in FORBIDDEN_HTTPX]
            elif mod.startswith("httpx."):  # httpx._client, httpx._api: the same classes by their private path
                found.append(f"from {mod} import …")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in httpx_names
            and node.attr in FORBIDDEN_HTTPX
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in httpx_names
        ):
            found.append(f"getattr({node.args[0].id}, …) (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr in RAW_CONNECTS and not mail_transport:
            # socket.create_connection, asyncio.open_connection, loop.create_connection: a connection to any host.
            found.append(f"….{node.attr} (line {node.lineno})")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in socket_mods
            and node.attr in ("socket", "SocketType", "fromfd", "socketpair")
            and not mail_transport
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Name) and node.id in socket_classes and not mail_transport:
            found.append(f"{node.id} from socket (line {node.lineno})")
    return found


def test_no_module_creates_a_plain_http_client() -> None:
    bad = {
        rel: v
        for p in SRC.rglob("*.py")
        if p != GUARD and (v := _violations(p, (rel := p.relative_to(SRC).as_posix()) in MAIL_TRANSPORT))
    }
    assert bad == {}, f"use kefu.privacy.net (safe_client/fetch/post) instead: {bad}"


def test_the_scanner_catches_a_plain_client(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import httpx\nimport urllib.request\nc = httpx.Client()\nhttpx.get('http://x')\n")
    assert len(_violations(sample)) == 3


@pytest.mark.parametrize(
    "code",
    [
        "import httpx as h\nh.Client()\n",
        "import httpx as h\nh.get('http://x')\n",
        "from urllib import request\nrequest.urlopen('http://x')\n",
        "from http import client\nclient.HTTPConnection('x')\n",
        "from httpx._client import Client\n",
        "import httpx._api\n",
        "import httpx\ngetattr(httpx, 'Cli' + 'ent')()\n",
        # Red-team pass 2: each of these reached any host past the scanner.
        "import httpcore\nhttpcore.ConnectionPool().request('GET', 'http://x')\n",
        "import socket\nsocket.create_connection(('10.0.0.1', 80))\n",
        "import socket as s\ns.socket().connect(('10.0.0.1', 80))\n",
        "from socket import socket\nsocket().connect(('10.0.0.1', 80))\n",
        "from socket import create_connection as cc\ncc(('10.0.0.1', 80))\n",
        "import asyncio\nasyncio.open_connection('10.0.0.1', 80)\n",
        "import smtplib\nsmtplib.SMTP('10.0.0.1')\n",
        "from xmlrpc import client\nclient.ServerProxy('http://10.0.0.1')\n",
        "import ftplib\nftplib.FTP('10.0.0.1')\n",
    ],
)
def test_the_scanner_sees_through_aliases(tmp_path: Path, code: str) -> None:
    """Red-team pass: each of these opened a plain connection past the scanner."""
    sample = tmp_path / "x.py"
    sample.write_text(code)
    assert _violations(sample), code


# ------------------------------------------------------------------ the guard itself


@pytest.fixture
def internal() -> Any:
    """A loopback server that is NOT on the allow-list (stands for an internal service)."""
    api = FakeApi(lambda rec: (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\nsecret"))
    from tests.channels.outbound import revoke

    revoke(api._allowed)
    yield api
    api.close()


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/a.png",
        "http://localhost:{port}/a.png",
        "http://[::ffff:127.0.0.1]:{port}/a.png",
        "http://[::ffff:7f00:1]:{port}/a.png",
        "http://0x7f.1:{port}/a.png",
        "http://2130706433:{port}/a.png",
    ],
)
def test_fetch_refuses_loopback_spellings(internal: Any, template: str) -> None:
    from kefu.privacy.net import BlockedDestination, fetch

    with pytest.raises(BlockedDestination):
        fetch(template.format(port=internal.server.server_address[1]))
    assert internal.requests == []


def test_redirect_from_allowed_host_to_loopback_is_refused(internal: Any, line_api: Any) -> None:
    from kefu.privacy.net import BlockedDestination, fetch

    target = f"http://127.0.0.1:{internal.server.server_address[1]}/a.png"
    line_api.responder = lambda rec: (302, {"Location": target}, b"")
    with pytest.raises(BlockedDestination):
        fetch(f"{line_api.url}/hop")
    assert len(line_api.requests) == 1 and internal.requests == []


def test_allow_entries_are_port_specific(internal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from kefu.privacy.net import BlockedDestination, ResponseTooLarge, fetch

    port = internal.server.server_address[1]
    monkeypatch.setenv("KEFU_OUTBOUND_ALLOW", f"127.0.0.1:{port + 1 if port < 65535 else port - 1}")
    with pytest.raises(BlockedDestination):
        fetch(f"http://127.0.0.1:{port}/a.png")
    monkeypatch.setenv("KEFU_OUTBOUND_ALLOW", f"127.0.0.1:{port}")
    assert fetch(f"http://127.0.0.1:{port}/a.png").endswith(b"secret")
    with pytest.raises(ResponseTooLarge):
        fetch(f"http://127.0.0.1:{port}/a.png", max_bytes=4)


# ------------------------------------------------------------------ through the channels


def test_line_external_media_on_loopback_is_not_fetched(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, line_api: Any, internal: Any
) -> None:
    from kefu.channels.models import ChannelAttachment
    from kefu.conversations.models import Message

    brand = make.brand()
    secret = "line-secret"
    ib = inbox(brand, "line", {"channel_secret": secret, "channel_access_token": "tok", "api_base": line_api.url})
    port = internal.server.server_address[1]
    events = []
    for i, host in enumerate(("127.0.0.1", "[::ffff:127.0.0.1]", "localhost")):
        events.append(
            {
                "type": "message",
                "timestamp": i,
                "webhookEventId": f"EVX{i}",
                "source": {"type": "user", "userId": "U9"},
                "message": {
                    "id": f"IMGX{i}",
                    "type": "image",
                    "contentProvider": {"type": "external", "originalContentUrl": f"http://{host}:{port}/a.png"},
                },
            }
        )
    body = line_body(*events)
    r = client.post(
        f"/api/v1/channels/line/{ib.id}/webhook",
        content=body,
        headers={"X-Line-Signature": line_sign(secret, body), "Content-Type": "application/json"},
    )
    assert r.status_code == 200
    jobs.drain()
    assert internal.requests == []
    msgs = list(db.scalars(select(Message).where(Message.brand_id == brand.id)))
    assert len(msgs) == 3
    assert db.scalars(select(ChannelAttachment).where(ChannelAttachment.brand_id == brand.id)).all() == []


def test_messenger_media_redirecting_to_loopback_is_not_stored(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, messenger_api: Any, internal: Any
) -> None:
    from kefu.channels.models import ChannelAttachment

    brand = make.brand()
    ib = inbox(
        brand,
        "messenger",
        {"app_secret": "app", "verify_token": "v", "page_access_token": "pat", "api_base": messenger_api.url},
    )
    target = f"http://127.0.0.1:{internal.server.server_address[1]}/a.png"
    messenger_api.responder = lambda rec: (302, {"Location": target}, b"") if rec.path == "/cdn/x.png" else None
    event = {
        "sender": {"id": "PSID9"},
        "recipient": {"id": "PAGE"},
        "timestamp": 1_700_000_000_000,
        "message": {
            "mid": "mid.x",
            "attachments": [{"type": "image", "payload": {"url": f"{messenger_api.url}/cdn/x.png"}}],
        },
    }
    body = json.dumps({"object": "page", "entry": [{"id": "PAGE", "time": 1, "messaging": [event]}]}).encode()
    r = client.post(
        f"/api/v1/channels/messenger/{ib.id}/webhook",
        content=body,
        headers={"X-Hub-Signature-256": hub_sign("app", body), "Content-Type": "application/json"},
    )
    assert r.status_code == 200
    jobs.drain()
    assert internal.requests == []
    assert db.scalars(select(ChannelAttachment).where(ChannelAttachment.brand_id == brand.id)).all() == []


@pytest.mark.parametrize("kind", ["line", "api"])
def test_admin_set_base_urls_never_carry_credentials_to_internal_hosts(
    make: Any, db: Any, inbox: Any, internal: Any, kind: str
) -> None:
    from kefu.channels.base import SendContext, get_adapter
    from kefu.channels.types import PermanentSendError

    base = f"http://127.0.0.1:{internal.server.server_address[1]}"
    config = (
        {"channel_access_token": "tok-secret", "api_base": base}
        if kind == "line"
        else {"callback_url": f"{base}/hook", "secret": "s"}
    )
    adapter = get_adapter(kind)
    assert adapter is not None
    ctx = SendContext(1, config, "U1", {"text": "hi"}, "key-1", 1)
    with pytest.raises(PermanentSendError):
        adapter.send(ctx)
    assert internal.requests == []
