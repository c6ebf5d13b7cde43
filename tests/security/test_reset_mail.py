"""Password-reset mail through a real SMTP server: system relay, a brand inbox's relay, or only a log line."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.channels.servers import Captured, upstream  # noqa: F401 - SMTP fixture
from tests.conftest import free_port

ORIGIN = {"Origin": "http://testserver"}
SUBJECTS = {"zh-TW": "：重設密碼", "zh-CN": "：重置密码", "en": ": reset your password"}


@pytest.fixture
def settings(db_url: str, upstream: tuple[Captured, int]) -> Any:  # noqa: F811 - the module's app sends real mail
    """Test settings with the system relay pointing at the capturing SMTP server."""
    from kefu.core.config import Settings

    return Settings(
        env="test",
        database_url=db_url,
        redis_url=None,
        scheduler=False,
        mail_smtp_host="127.0.0.1",
        mail_smtp_port=upstream[1],
        mail_from="kefu@help.example",
        mail_timeout_seconds=3,
    )


def _mailer(settings: Any, **changes: Any) -> Any:
    """The wired sender, with some settings changed (e.g. no system relay)."""
    from kefu.core import runtime
    from kefu.security.reset import RESET_SENDER
    from kefu.security.resetmail import ResetMailer

    return runtime.override(RESET_SENDER, ResetMailer(settings.model_copy(update=changes)))


def _link(msg: Any) -> str:
    text = msg.get_body(preferencelist=("plain",)).get_content()
    found = re.findall(r"https?://\S+/reset-password\?\S+", text)
    assert len(found) == 1, text
    return str(found[0])


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def _same_page(html: str) -> str:
    """A page without its per-response nonces (what differs between any two answers)."""
    return re.sub(r'(nonce|value)="[^"]*"', "", html)


def test_api_reset_mail_arrives_and_its_link_sets_a_new_password(
    client: Any,
    make: Any,
    upstream: tuple[Captured, int],  # noqa: F811
) -> None:
    brand = make.brand(name="好客商店")
    agent = make.agent(brands=[brand])
    r = client.post("/api/v1/auth/password-reset", json={"email": agent.email})
    assert r.status_code == 202
    [msg] = upstream[0].wait(1)
    mail_from, rcpt, _ = upstream[0].messages[0]
    assert mail_from == "kefu@help.example" and rcpt == [agent.email]
    assert msg["Subject"] == "好客商店：重設密碼"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Message-ID"].endswith("@help.example>")
    assert msg["Date"] and agent.email in msg["To"] and "kefu@help.example" in msg["From"]
    link = _link(msg)
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert link.replace("&", "&amp;") in html and "30 分鐘" in html
    parts = urlsplit(link)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    done = client.post(
        "/reset-password",
        data={"token": _token(link), "password": "a brand new pass", "password2": "a brand new pass"},
        headers=ORIGIN,
    )
    assert done.status_code == 200, done.text
    login = client.post("/api/v1/auth/login", json={"email": agent.email, "password": "a brand new pass"})
    assert login.status_code == 200


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_page_request_mails_in_the_agents_locale(
    client: Any,
    make: Any,
    db: Any,
    upstream: tuple[Captured, int],  # noqa: F811
    locale: str,
) -> None:
    brand = make.brand(name="Acme <b>")
    agent = make.agent(brands=[brand])
    agent.locale = locale
    db.commit()
    r = client.post("/reset-password/request", data={"email": agent.email}, headers=ORIGIN)
    assert r.status_code == 202
    [msg] = upstream[0].wait(1)
    assert msg["Subject"] == "Acme <b>" + SUBJECTS[locale]
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "Acme &lt;b&gt;" in html and "Acme <b>" not in html  # the brand name is escaped in HTML
    assert f'lang="{locale}"' in html
    assert f"lang={locale}" in _link(msg)


def test_unknown_email_no_mail_same_answer(
    client: Any,
    make: Any,
    upstream: tuple[Captured, int],  # noqa: F811
) -> None:
    agent = make.agent()
    known = client.post("/api/v1/auth/password-reset", json={"email": agent.email})
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    page_known = client.post("/reset-password/request", data={"email": agent.email}, headers=ORIGIN)
    page_unknown = client.post("/reset-password/request", data={"email": "nobody@example.com"}, headers=ORIGIN)
    assert page_known.status_code == page_unknown.status_code == 202
    assert _same_page(page_known.text) == _same_page(page_unknown.text)
    upstream[0].wait(2)
    assert [rcpt for _, rcpt, _ in upstream[0].messages] == [[agent.email], [agent.email]]


def test_smtp_down_same_answer_and_a_log_line_without_the_link(
    client: Any, make: Any, settings: Any, caplog: Any
) -> None:
    from kefu.core import runtime
    from kefu.security.reset import RESET_SENDER

    agent = make.agent()
    with _mailer(settings, mail_smtp_port=free_port()), caplog.at_level(logging.INFO, "kefu.security.reset"):
        api = client.post("/api/v1/auth/password-reset", json={"email": agent.email})
        page = client.post("/reset-password/request", data={"email": agent.email}, headers=ORIGIN)
        runtime.get(RESET_SENDER).drain()
    assert (
        api.status_code == 202
        and api.json() == client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"}).json()
    )
    assert page.status_code == 202
    lines = [r.getMessage() for r in caplog.records if r.name == "kefu.security.reset"]
    failed = [line for line in lines if "not sent via system" in line]
    assert len(failed) == 2, lines
    assert not any("kefu_reset_" in line and "[redacted]" not in line for line in lines)
    assert not any("token=" in line for line in lines)


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_with_the_system_relay_the_mail_costs_one_query_and_names_the_first_brand(
    client: Any,
    make: Any,
    count_queries: Any,
    upstream: tuple[Captured, int],  # noqa: F811
    role: str,
) -> None:
    """The agent is not looked up again and no inbox is read: only the first brand's name (an admin's: any brand)."""
    from kefu.core import runtime
    from kefu.security.reset import RESET_SENDER

    make.brand(name="First")  # an admin's first brand; the agent has only the second
    second = make.brand(name="Second")
    agent = make.agent(role, brands=[second])
    body = {"email": agent.email}
    with runtime.override(RESET_SENDER, lambda *args: None), count_queries() as bare:
        assert client.post("/api/v1/auth/password-reset", json=body).status_code == 202
    with count_queries() as mailed:
        assert client.post("/api/v1/auth/password-reset", json=body).status_code == 202
    [msg] = upstream[0].wait(1)
    assert msg["Subject"] == ("First" if role == "admin" else "Second") + SUBJECTS["zh-TW"]
    assert mailed.count == bare.count + 1, f"{bare}\n--\n{mailed}"
    assert not any("inboxes" in s for s in mailed.statements), str(mailed)
    assert sum("agents.email =" in s for s in mailed.statements) == 1, str(mailed)  # request_reset's own


def test_without_system_relay_a_brand_inbox_relay_sends_it(
    client: Any,
    make: Any,
    db: Any,
    settings: Any,
    upstream: tuple[Captured, int],  # noqa: F811
) -> None:
    from kefu.brands.service import create_inbox

    other = make.brand(name="Other")
    brand = make.brand(name="Brand B")
    create_inbox(db, other, kind="email", name="other mail", config={"address": "x@other.example"}, actor=None)
    create_inbox(db, brand, kind="email", name="no relay", config={"address": "norelay@b.example"}, actor=None)
    relay = {"address": "support@b.example", "from_name": "B 客服", "smtp_host": "127.0.0.1", "smtp_port": upstream[1]}
    create_inbox(db, brand, kind="email", name="support", config=relay, actor=None)
    db.commit()
    agent = make.agent(brands=[other, brand])
    with _mailer(settings, mail_smtp_host=None):
        assert client.post("/api/v1/auth/password-reset", json={"email": agent.email}).status_code == 202
    [msg] = upstream[0].wait(1)
    assert upstream[0].messages[0][0] == "support@b.example"
    assert "support@b.example" in msg["From"] and msg["Subject"] == "Brand B：重設密碼"
    assert msg["Message-ID"].endswith("@b.example>")
    assert _token(_link(msg)).startswith("kefu_reset_")


def test_without_any_relay_the_log_sender_says_nothing_was_sent(
    client: Any,
    make: Any,
    settings: Any,
    caplog: Any,
    upstream: tuple[Captured, int],  # noqa: F811
) -> None:
    agent = make.agent(brands=[make.brand()])
    with _mailer(settings, mail_smtp_host=None), caplog.at_level(logging.INFO, "kefu.security.reset"):
        assert client.post("/api/v1/auth/password-reset", json={"email": agent.email}).status_code == 202
    lines = [r.getMessage() for r in caplog.records if r.name == "kefu.security.reset"]
    assert any("nothing was sent" in line for line in lines), lines
    assert not any("token" in line for line in lines)
    assert upstream[0].wait(1, timeout=0.5) == []


def test_a_hanging_relay_does_not_hold_the_request(client: Any, make: Any, settings: Any, caplog: Any) -> None:
    """A relay that accepts the connection and never answers: the requester still gets the answer at once."""
    import socket
    import time

    from kefu.core import runtime
    from kefu.security.reset import RESET_SENDER

    tarpit = socket.socket()
    tarpit.bind(("127.0.0.1", 0))
    tarpit.listen(8)  # connections complete in the backlog; no greeting ever comes
    agent = make.agent()
    try:
        with (
            _mailer(settings, mail_smtp_port=tarpit.getsockname()[1], mail_timeout_seconds=2),
            caplog.at_level(logging.INFO, "kefu.security.reset"),
        ):
            start = time.monotonic()
            r = client.post("/api/v1/auth/password-reset", json={"email": agent.email})
            took = time.monotonic() - start
            runtime.get(RESET_SENDER).drain(timeout=10)
    finally:
        tarpit.close()
    assert r.status_code == 202 and took < 1.0, took
    lines = [r.getMessage() for r in caplog.records if r.name == "kefu.security.reset"]
    assert any("not sent via system" in line for line in lines), lines  # smtplib: timed out → disconnected


def test_system_relay_settings_are_checked_at_start() -> None:
    """A relay without a From address, or with both TLS modes, fails at start-up naming the variable."""
    from pydantic import ValidationError

    from kefu.core.config import Settings

    with pytest.raises(ValidationError, match="KEFU_MAIL_FROM"):
        Settings(mail_smtp_host="smtp.example.com")
    with pytest.raises(ValidationError, match="KEFU_MAIL_SMTP_SSL"):
        Settings(mail_smtp_host="smtp.example.com", mail_from="a@b.example", mail_smtp_ssl=True, mail_smtp_starttls=1)
    ok = Settings(mail_smtp_host="smtp.example.com", mail_from="a@b.example", mail_smtp_starttls=True)
    assert ok.mail_smtp_port is None and ok.mail_timeout_seconds == 8.0
