"""SSRF-safe outbound HTTP: resolve first, refuse internal addresses, then connect to exactly the checked address.

Webhooks, link previews and avatar fetches take URLs from customers or admins; without this an attacker can
reach the cloud metadata service, localhost admin ports or the office network. Every redirect hop goes through
the same check, and the connection is pinned to the vetted IP so DNS rebinding cannot swap it afterwards.
Allow internal targets only explicitly: ``allow=["10.1.2.0/24", "127.0.0.1/32"]`` or KEFU_OUTBOUND_ALLOW
(comma-separated CIDRs).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpx

from kefu.core.config import get_settings

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


class BlockedDestination(httpx.TransportError):
    """The URL resolves to an address outbound requests may not reach."""


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


def allow_from_env() -> list[str]:
    """Operator-allowed internal networks from KEFU_OUTBOUND_ALLOW (validated by Settings)."""
    return [str(n) for n in get_settings().outbound_allow]


class Policy:
    """Which destinations are reachable: public addresses plus explicitly allowed networks."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(a, strict=False) for a in allow)

    def permits(self, ip: IPAddress) -> bool:
        """True when `ip` may be contacted."""
        ip = _unmap(ip)
        if any(ip.version == n.version and ip in n for n in self.allow):
            return True
        return is_public(ip)

    def choose(self, host: str, infos: Iterable[tuple[Any, ...]]) -> str:
        """First permitted address among the resolved ones; refuses if any answer is internal."""
        addrs: list[IPAddress] = []
        for info in infos:
            addrs.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        if not addrs:
            raise BlockedDestination(f"{host} did not resolve")
        # Refuse when *any* answer is internal: a mixed answer is how rebinding attacks hedge.
        bad = [a for a in addrs if not self.permits(a)]
        if bad:
            raise BlockedDestination(f"{host} resolves to a non-public address ({bad[0]})")
        return str(addrs[0])


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
    """A synchronous transport that enforces a Policy on every request."""

    def __init__(self, policy: Policy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy or Policy(allow_from_env())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Vet, pin and send."""
        host, port = _check_url(request.url)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise BlockedDestination(f"{host} did not resolve: {exc}") from exc
        _pin(request, host, self.policy.choose(host, infos))
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
        except socket.gaierror as exc:
            raise BlockedDestination(f"{host} did not resolve: {exc}") from exc
        _pin(request, host, self.policy.choose(host, infos))
        return await super().handle_async_request(request)


def safe_client(allow: Iterable[str] | None = None, *, timeout: float = 10.0, **kwargs: Any) -> httpx.Client:
    """An httpx.Client that cannot reach internal addresses (redirects re-checked, max 5)."""
    policy = Policy(allow_from_env() if allow is None else allow)
    kwargs.setdefault("follow_redirects", True)
    kwargs.setdefault("max_redirects", 5)
    return httpx.Client(transport=SafeTransport(policy), timeout=timeout, trust_env=False, **kwargs)


def safe_async_client(allow: Iterable[str] | None = None, *, timeout: float = 10.0, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx.AsyncClient that cannot reach internal addresses."""
    policy = Policy(allow_from_env() if allow is None else allow)
    kwargs.setdefault("follow_redirects", True)
    kwargs.setdefault("max_redirects", 5)
    return httpx.AsyncClient(transport=SafeAsyncTransport(policy), timeout=timeout, trust_env=False, **kwargs)
