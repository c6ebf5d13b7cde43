"""Credential redaction for every log record: tokens, reset links, query-string values, bearer headers.

Installed as a LogRecord factory (like kefu.privacy.logmask, which masks personal data), so it covers every logger
and handler, including uvicorn's access log, whose request line arrives as a record argument. Query values are
redacted unless their parameter is on a short allow-list: a new parameter is hidden until someone decides it is safe.
"""

from __future__ import annotations

import logging
import re

from kefu.privacy.logmask import RecordFactoryHook, rewrite_record

REDACTED = "[redacted]"
# Parameters whose values are never secret nor personal (view names, paging, locale, ids).
SAFE_PARAMS = frozenset(
    {
        "view",
        "limit",
        "lang",
        "status",
        "kind",
        "fmt",
        "brand",
        "brand_id",
        "inbox_id",
        "team_id",
        "after_id",
        "before_id",
        "cursor",
        "active",
        "role",
        "tab",
        "locale",
        "level",
        "start",
        "end",
        "since",
        "until",
        "priority",
        "channel",
        "organization_id",
        "period",
    }
)
# A value that is a %-format placeholder stays, so a redacted message template still matches its arguments.
_NOT_PLACEHOLDER = r"(?!%[-#0 +]*\d*(?:\.\d+)?[sdifrx(])"
_TOKEN = re.compile(r"\bkefu_[a-z]+_[A-Za-z0-9_\-]{8,}")
_SECRET_KV = re.compile(
    r"(?i)\b(token|authorization|cookie|set-cookie|password|secret|api[_-]?key|csrf[_-]?token)(\s*[:=]\s*)"
    r"(bearer\s+)?" + _NOT_PLACEHOLDER + r"([^\s,;&]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)" + _NOT_PLACEHOLDER + r"([A-Za-z0-9_\-.~+/=]+)")
_QUERY = re.compile(r"([?&;])([^=&#\s?;\"']+)=" + _NOT_PLACEHOLDER + r"([^&#\s\"';]*)")
# Long random path segments are capability tokens (CSAT survey links `<id>.<mac>`, media links `<body>.<mac>`). The
# whole segment goes, dots included: matching up to the first dot kept a survey link's MAC (its id is short) and a
# media link's MAC (its body is guessable: an attachment id and a time).
_PATH_SECRET = re.compile(r"(?<=/)(?=[A-Za-z0-9_\-.]*\d)(?=[A-Za-z0-9_\-.]*[A-Za-z])[A-Za-z0-9_\-.]{24,}")


def redact(text: str) -> str:
    """Remove credentials from one string."""
    if not text:
        return text
    text = _TOKEN.sub(lambda m: m.group(0)[: m.group(0).index("_", 5) + 1] + REDACTED, text)
    text = _QUERY.sub(
        lambda m: m.group(0) if m.group(2).lower() in SAFE_PARAMS else f"{m.group(1)}{m.group(2)}={REDACTED}", text
    )
    text = _SECRET_KV.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PATH_SECRET.sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact the record's template, arguments and formatted exception in place."""
    return rewrite_record(record, redact, "kefu_redacted")


class RedactingFilter(logging.Filter):
    """The same redaction as a logging.Filter, for handlers built outside this process's record factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact and keep the record."""
        redact_record(record)
        return True


_hook = RecordFactoryHook(redact_record)


def install_log_redaction() -> None:
    """Redact every record created from now on, whichever logger or handler it goes to (idempotent)."""
    _hook.install()


def uninstall_log_redaction() -> None:
    """Stop redacting new records (PII masking, if installed, keeps running)."""
    _hook.uninstall()
