"""The outbound HTTP client refuses internal destinations unless explicitly allowed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from kefu.privacy.net import BlockedDestination, Policy, is_public, safe_async_client, safe_client


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        body = f"host={self.headers.get('Host')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://2130706433:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "file:///etc/passwd",
    ],
)
def test_internal_destinations_blocked(server: int, url: str) -> None:
    with safe_client(allow=[]) as client, pytest.raises(BlockedDestination):
        client.get(url.format(port=server))


def test_loopback_allowed_explicitly_and_redirects_rechecked(server: int) -> None:
    with safe_client(allow=["127.0.0.1/32"]) as client:
        r = client.get(f"http://localhost:{server}/x")
        assert r.status_code == 200 and r.text == f"host=localhost:{server}"
        with pytest.raises(BlockedDestination):
            client.get(f"http://127.0.0.1:{server}/redirect")


def test_async_client(server: int) -> None:
    async def go() -> None:
        async with safe_async_client(allow=[]) as client:
            with pytest.raises(BlockedDestination):
                await client.get(f"http://127.0.0.1:{server}/")
        async with safe_async_client(allow=["127.0.0.0/8"]) as client:
            assert (await client.get(f"http://127.0.0.1:{server}/")).status_code == 200

    asyncio.run(go())


def test_policy_classification(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address("8.8.8.8"))
    for bad in ("100.64.1.1", "fd00:ec2::254", "64:ff9b::a00:1", "198.18.0.1", "fe80::1", "224.0.0.1"):
        assert not is_public(ipaddress.ip_address(bad)), bad
    infos = [(2, 1, 6, "", ("93.184.216.34", 80)), (2, 1, 6, "", ("10.0.0.5", 80))]
    with pytest.raises(BlockedDestination):
        Policy().choose("mixed.example", infos)  # any internal answer refuses the whole name
    monkeypatch.setenv("KEFU_OUTBOUND_ALLOW", "10.0.0.0/8")
    from kefu.privacy.net import allow_from_env

    assert Policy(allow_from_env()).choose("mixed.example", infos) == "93.184.216.34"
    assert issubclass(BlockedDestination, httpx.TransportError)
