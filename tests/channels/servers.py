"""Real mail servers on loopback: an aiosmtpd upstream that captures our outbound mail, and Debian dovecot."""

from __future__ import annotations

import email
import email.policy
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE, free_port


class Captured:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def wait(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until n messages arrived."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return [m for _, _, m in self.messages]


@pytest.fixture
def upstream() -> Iterator[tuple[Captured, int]]:
    """A fake upstream SMTP relay (real aiosmtpd server) capturing what kefu sends."""
    from aiosmtpd.controller import Controller

    handler = Captured()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)


@pytest.fixture
def dovecot() -> Iterator[dict[str, Any]]:
    """A throwaway dovecot IMAP server (plaintext on a loopback port) with one user."""
    if DOVECOT is None:
        if REQUIRE:
            pytest.fail("dovecot is required in CI (apt-get install -y dovecot-imapd)", pytrace=False)
        pytest.skip("dovecot not installed (apt-get install -y dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="kefu-dovecot-"))
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        # Dovecot refuses mail access as root; the mail store belongs to an unprivileged system user.
        user = pwd.getpwnam("dovecot")
        internal, login = "dovecot", "dovenull"
    else:
        user = pwd.getpwuid(os.geteuid())
        internal = login = user.pw_name
    uid, gid = user.pw_uid, user.pw_gid
    mail = root / "mail"
    mail.mkdir()
    os.chown(mail, uid, gid)
    port = free_port()
    (root / "passwd").write_text("support:{PLAIN}imap-pass-1\n")
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    import socket

    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(100).startswith(b"* OK"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
            proc.kill()
            raise RuntimeError(f"dovecot did not start: {out}\n{log}")
        time.sleep(0.1)
    yield {"host": "127.0.0.1", "port": port, "user": "support", "password": "imap-pass-1"}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(root, ignore_errors=True)
