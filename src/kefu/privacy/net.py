"""SSRF-safe outbound HTTP: the only way kefu code may open an HTTP connection to somewhere else.

Webhooks (API channel callback_url), provider APIs (LINE/Messenger `api_base`, set by admins) and media
downloads (URLs inside customer-supplied webhook payloads) all take their destination from someone who is
not the operator. Every request therefore goes through a transport that resolves the name, refuses any
non-public answer (loopback, private, link-local, metadata, IPv4-mapped/NAT64/6to4 embeddings…), and then
connects to exactly the vetted address, so DNS rebinding cannot swap it afterwards. Redirects are followed by
httpx one hop at a time and every hop re-enters the transport, so each is checked again. Responses are capped
in size and time. `tests/privacy/test_outbound_guard.py` fails when a module creates a plain HTTP client.

Internal destinations are reachable only when the operator lists them (never a global off switch):
KEFU_OUTBOUND_ALLOW is a comma-separated list of CIDRs (`10.1.2.0/24`: any port) and address:port pairs
(`127.0.0.1:8080`, `[::1]:8080`: that port only). The test suite lists the ports of its loopback stub servers.
httpx is used (not hand-written sockets); only the address vetting and pinning are ours, as httpx has no hook
between resolution and connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from kefu.core.config import get_settings, parse_allow_entry

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Beyond is_private/is_loopback/…: CGNAT, benchmarking, the AWS/GCP/Azure/Alibaba metadata addresses,
# NAT64 and 6to4 prefixes that can embed an internal IPv4 address.
EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "192.0.0.0/24",
        "198.18.0.0/15",
        "100.100.100.200/32",
        "fd00:ec2::254/128",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
    )
)
ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_TIMEOUT = 20.0
MAX_REDIRECTS = 5


# The type safe_client() returns, for annotations: modules outside this one never name httpx's client classes.
GuardedClient = httpx.Client


class BlockedDestination(httpx.TransportError):
    """The URL resolves to an address outbound requests may not reach."""


class ResponseTooLarge(httpx.HTTPError):
    """The response body exceeded the size cap."""


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    """Operator settings of the outbound guard."""

    allow: tuple[str, ...]
    max_bytes: int
    timeout: float


def outbound_settings() -> OutboundSettings:
    """The guard's settings, read at call time (KEFU_OUTBOUND_ALLOW, _MAX_MB, _TIMEOUT_SECONDS; validated)."""
    settings = get_settings()
    max_bytes = int(settings.outbound_max_mb * 1024 * 1024)
    return OutboundSettings(tuple(settings.outbound_allow), max_bytes, settings.outbound_timeout_seconds)


def allow_from_env() -> list[str]:
    """Operator-allowed internal destinations from KEFU_OUTBOUND_ALLOW."""
    return list(outbound_settings().allow)


def _unmap(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    """True for globally routable unicast addresses outside every special-purpose range."""
    ip = _unmap(ip)
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    ):
        return False
    return not any(ip.version == n.version and ip in n for n in EXTRA_BLOCKED)


def _parse_allow(entry: str) -> tuple[IPNetwork, int | None]:
    """`10.0.0.0/8` → (net, None); `127.0.0.1:8080` / `[::1]:8080` → (host net, 8080)."""
    return parse_allow_entry(entry)


class Policy:
    """Which destinations are reachable: public addresses plus explicitly allowed networks/ports."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[tuple[IPNetwork, int | None], ...] = tuple(_parse_allow(a) for a in allow)

    def permits(self, ip: IPAddress, port: int | None = None) -> bool:
        """True when `ip` (on `port`, when given) may be contacted."""
        ip = _unmap(ip)
        for net, allowed_port in self.allow:
            if ip.version == net.version and ip in net and (allowed_port is None or allowed_port == port):
                return True
        return is_public(ip)

    def choose(self, host: str, infos: Iterable[tuple[Any, ...]], port: int | None = None) -> str:
        """First permitted address among the resolved ones; refuses if any answer is internal."""
        addrs: list[IPAddress] = []
        for info in infos:
            addrs.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        if not addrs:
            raise BlockedDestination(f"{host} did not resolve")
        # Refuse when *any* answer is internal: a mixed answer is how rebinding attacks hedge.
        bad = [a for a in addrs if not self.permits(a, port)]
        if bad:
            raise BlockedDestination(f"{host} resolves to a non-public address ({bad[0]})")
        return str(_unmap(addrs[0]))


def _check_url(url: httpx.URL) -> tuple[str, int]:
    if url.scheme not in ALLOWED_SCHEMES:
        raise BlockedDestination(f"scheme {url.scheme!r} is not allowed")
    host = url.host
    if not host:
        raise BlockedDestination("URL has no host")
    return host, url.port or (443 if url.scheme == "https" else 80)


def _pin(request: httpx.Request, host: str, ip: str) -> None:
    """Connect to `ip` while keeping Host, SNI and certificate checks on the original name."""
    if ip == host:
        return
    request.url = request.url.copy_with(host=ip)
    request.headers["Host"] = request.headers.get("Host") or host
    if request.url.scheme == "https":
        request.extensions = {**request.extensions, "sni_hostname": host}


class SafeTransport(httpx.HTTPTransport):
    """A synchronous transport that enforces a Policy on every request (and so on every redirect hop)."""

    def __init__(self, policy: Policy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy or Policy(allow_from_env())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Vet, pin and send."""
        host, port = _check_url(request.url)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise BlockedDestination(f"{host} did not resolve: {exc}") from exc
        _pin(request, host, self.policy.choose(host, infos, port))
        return super().handle_request(request)


class SafeAsyncTransport(httpx.AsyncHTTPTransport):
    """The asyncio twin of SafeTransport."""

    def __init__(self, policy: Policy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy or Policy(allow_from_env())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Vet, pin and send."""
        host, port = _check_url(request.url)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise BlockedDestination(f"{host} did not resolve: {exc}") from exc
        _pin(request, host, self.policy.choose(host, infos, port))
        return await super().handle_async_request(request)


def safe_client(allow: Iterable[str] | None = None, *, timeout: float | None = None, **kwargs: Any) -> httpx.Client:
    """An httpx.Client that cannot reach internal addresses (redirects re-checked, at most 5)."""
    settings = outbound_settings()
    policy = Policy(settings.allow if allow is None else allow)
    kwargs.setdefault("follow_redirects", True)
    kwargs.setdefault("max_redirects", MAX_REDIRECTS)
    # trust_env=False: an HTTP(S)_PROXY variable would otherwise route around the pinning.
    return httpx.Client(
        transport=SafeTransport(policy),
        timeout=settings.timeout if timeout is None else timeout,
        trust_env=False,
        **kwargs,
    )


def safe_async_client(
    allow: Iterable[str] | None = None, *, timeout: float | None = None, **kwargs: Any
) -> httpx.AsyncClient:
    """An httpx.AsyncClient that cannot reach internal addresses."""
    settings = outbound_settings()
    policy = Policy(settings.allow if allow is None else allow)
    kwargs.setdefault("follow_redirects", True)
    kwargs.setdefault("max_redirects", MAX_REDIRECTS)
    return httpx.AsyncClient(
        transport=SafeAsyncTransport(policy),
        timeout=settings.timeout if timeout is None else timeout,
        trust_env=False,
        **kwargs,
    )


def fetch(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    timeout: float | None = None,
) -> bytes:
    """GET a URL through the guard with a size cap (raises BlockedDestination / ResponseTooLarge / HTTPError)."""
    limit = outbound_settings().max_bytes if max_bytes is None else max_bytes
    chunks: list[bytes] = []
    total = 0
    with safe_client(timeout=timeout) as client, client.stream("GET", url, headers=dict(headers or {})) as response:
        response.raise_for_status()
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(f"response larger than {limit} bytes")
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > limit:
                raise ResponseTooLarge(f"response larger than {limit} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def post(
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> httpx.Response:
    """POST through the guard; redirects are not followed (a webhook answering 3xx is an error, not a hop)."""
    with safe_client(timeout=timeout, follow_redirects=False) as client:
        return client.post(url, content=content, headers=dict(headers or {}))
