"""Base for provider API clients: an SSRF-guarded httpx pool with a bearer token, closed as a context manager."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from kefu.privacy.net import fetch, safe_client

# Provider-hosted attachments (LINE content, Messenger CDN URLs) larger than this are refused.
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


class BearerClient:
    """Holds one httpx.Client with `Authorization: Bearer …`; use `with` (or close()) to release the pool."""

    def __init__(
        self,
        token: str,
        *,
        user_agent: str,
        timeout: float,
        params: dict[str, str] | None = None,
    ) -> None:
        # The token goes in a header rather than the query string so it does not end up in URL logs. The base URL
        # is admin-configurable, so the pool is the SSRF-guarded one: the token never reaches an internal host.
        self._http = safe_client(
            timeout=timeout,
            follow_redirects=False,
            params=params or {},
            headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
        )

    def __enter__(self) -> Self:
        """Use as a context manager that closes the HTTP connection pool."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._http.close()


def download(url: str, *, headers: dict[str, str] | None = None, timeout: float = 20.0) -> bytes:
    """GET a provider-hosted file through the SSRF guard with a size cap (the URL comes from a webhook payload)."""
    return fetch(url, headers=headers, max_bytes=MAX_DOWNLOAD_BYTES, timeout=timeout)
