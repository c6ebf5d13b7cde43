"""An error no handler knows: one handler (kefu.web.errors) answers problem+json on the API and the friendly page
on pages; a database outage wrapped in another error is still a 503 with Retry-After, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError


class Boom(RuntimeError):
    """A bug: nothing maps it to a status."""


def _boom() -> None:
    raise Boom("internal detail that must not leak")


def _outage() -> None:
    try:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    except OperationalError as exc:
        raise RuntimeError("commit failed in teardown") from exc


@pytest.fixture
def raw_client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    for path in ("/api/v1/test-boom", "/console/test-boom"):
        app.add_api_route(path, _boom, methods=["GET"])
    for path in ("/api/v1/test-outage", "/console/test-outage"):
        app.add_api_route(path, _outage, methods=["GET"])
    # ServerErrorMiddleware re-raises after answering; the test reads the answer the client got.
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def test_one_handler_for_unknown_errors(app: Any) -> None:
    """problems.py no longer registers a catch-all that errors.py would silently replace."""
    from kefu.web import errors

    handler = app.exception_handlers[Exception]
    assert handler.__qualname__.startswith(errors._wrap.__qualname__)


def test_api_500_is_problem_json(raw_client: Any) -> None:
    r = raw_client.get("/api/v1/test-boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json() == {
        "type": "about:blank",
        "title": "Internal server error",
        "status": 500,
        "instance": "/api/v1/test-boom",
    }
    assert "internal detail" not in r.text


def test_page_500_is_the_friendly_page(raw_client: Any) -> None:
    r = raw_client.get("/console/test-boom", params={"lang": "en"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text and "internal detail" not in r.text and "Traceback" not in r.text
    assert "content-security-policy" in r.headers


@pytest.mark.parametrize("path", ["/api/v1/test-outage", "/console/test-outage"])
def test_wrapped_outage_is_503_with_retry_after(raw_client: Any, path: str) -> None:
    r = raw_client.get(path)
    assert r.status_code == 503
    assert r.headers["retry-after"].isdigit()
    want = "application/problem+json" if path.startswith("/api/") else "text/html"
    assert r.headers["content-type"].startswith(want)
