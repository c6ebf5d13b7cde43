"""Credentials never reach log output: tokens, reset links, visitor tokens, search terms, bearer headers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kefu.security.logredact import install_log_redaction, redact

SECRETS = (
    "kefu_pat_S3cr3tT0kenValue123",
    "kefu_reset_R3setT0kenValue456",
    "visitor-tok-9f8e7d6c5b4a",
    "ming@example.com",
)


@pytest.fixture(autouse=True)
def _installed() -> None:
    # What create_app and the CLI do (idempotent; another test uninstalling PII masking no longer drops it).
    install_log_redaction()


def _output(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)


def test_uvicorn_access_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO):
        for path in (
            f"/api/v1/ws?token={SECRETS[0]}",
            f"/api/v1/widget/ws?token={SECRETS[2]}",
            "/console?view=all&q=ming%40example.com",
            "/api/v1/customers?q=0912345678&limit=20",
            f"/reset-password?token={SECRETS[1]}&lang=en",
        ):
            access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1", "GET", path, "1.1", 200)
    out = _output(caplog)
    for secret in (*SECRETS, "ming%40example.com", "0912345678"):
        assert secret not in out
    assert "view=all" in out and "limit=20" in out and "lang=en" in out  # harmless parameters stay readable


def test_messages_headers_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("kefu.test")
    with caplog.at_level(logging.INFO):
        log.warning("link: https://kefu.example/reset-password?token=%s", SECRETS[1])
        log.info("headers {'authorization': 'Bearer %s'}", SECRETS[0])
        log.info("Authorization: Bearer abc.def.ghi")
        try:
            raise ValueError(f"bad token {SECRETS[0]}")
        except ValueError:
            log.exception("failed")
    out = _output(caplog)
    assert SECRETS[0] not in out and SECRETS[1] not in out and "abc.def.ghi" not in out
    assert "[redacted]" in out


def test_placeholders_survive() -> None:
    assert redact("token=%s") == "token=%s"
    assert redact("GET /x?token=%s&view=%s") == "GET /x?token=%s&view=%s"
    assert redact("/surveys/AbCdEf0123456789AbCdEf0123") == "/surveys/[redacted]"


def test_reset_without_mailer_logs_no_link(client: Any, make: Any, caplog: pytest.LogCaptureFixture) -> None:
    agent = make.agent()
    with caplog.at_level(logging.DEBUG):
        assert client.post("/api/v1/auth/password-reset", json={"email": agent.email}).status_code == 202
    out = _output(caplog)
    assert "kefu_reset_" not in out.replace("kefu_reset_[redacted]", "") and "token=" not in out
