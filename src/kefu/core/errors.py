"""Domain errors: each carries the HTTP status and title of the RFC 7807 problem it becomes.

No web framework here: services, jobs and the CLI raise these; the web layer (kefu.web.problems) turns them into
application/problem+json responses.
"""

from __future__ import annotations

import errno
from typing import Any, Self

from kefu.core.catalog import gettext


class Term(str):
    """A value shown by its catalog label (a ticket status): the raw value in `detail`, the label in `detail_in`."""

    label_key: str

    def __new__(cls, value: str, label_key: str) -> Self:
        term = super().__new__(cls, value)
        term.label_key = label_key
        return term


class ProblemError(Exception):
    """A domain error that becomes an RFC 7807 response."""

    status: int = 400
    type_: str = "about:blank"
    title: str = "Bad request"

    # Set by `said`: a catalog key (and its fields) the web layer writes the detail from, in the reader's language.
    key: str | None = None
    params: dict[str, Any]
    locale: str | None = None

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.extra = extra
        self.params = {}

    @classmethod
    def said(cls, key: str, /, *, locale: str | None = None, **params: Any) -> Self:
        """An error told to a person: catalog `key` in the request's language (else `locale`, e.g. a brand's)."""
        # `detail` holds the English text for logs and callers outside a request (jobs, the CLI).
        exc = cls(gettext(key, "en").format(**params))
        exc.key, exc.params, exc.locale = key, params, locale
        return exc

    def also(self, *, status: int | None = None, title: str | None = None, **extra: Any) -> Self:
        """The same problem with a status, title and extra members: `raise X.said(key).also(code="x")`."""
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.extra.update(extra)
        return self

    def detail_in(self, locale: str | None) -> str:
        """The detail in `locale` when the error was raised with a catalog key, else as raised."""
        if self.key is None:
            return self.detail
        locale = locale or self.locale or "en"
        params = {k: gettext(v.label_key, locale) if isinstance(v, Term) else v for k, v in self.params.items()}
        return gettext(self.key, locale).format(**params)


class NotFound(ProblemError):
    """Resource does not exist (or is not visible to the caller)."""

    status = 404
    title = "Not found"


class Conflict(ProblemError):
    """State conflict, e.g. a duplicate unique value."""

    status = 409
    title = "Conflict"


class Forbidden(ProblemError):
    """Authenticated but not allowed."""

    status = 403
    title = "Forbidden"


class Unauthorized(ProblemError):
    """No or invalid credentials."""

    status = 401
    title = "Unauthorized"


class TooManyRequests(ProblemError):
    """Rate limit hit."""

    status = 429
    title = "Too many requests"


class InvalidInput(ProblemError):
    """Semantically invalid input."""

    status = 422
    title = "Invalid input"


# The disk cannot take (or give back) a file now: full, over quota, read-only, past a size limit, failing, or the
# data dir's permissions changed under us. An operator frees space or remounts; the client retries the same request.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO, errno.EACCES})


def is_storage_error(exc: BaseException) -> bool:
    """True when exc itself (not what it wraps) is the file store failing (see STORAGE_ERRNOS)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_error(exc: BaseException | None) -> OSError | None:
    """The file-store failure exc is or wraps (see STORAGE_ERRNOS), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if is_storage_error(exc):
            assert isinstance(exc, OSError)
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def storage_unavailable(exc: BaseException | None) -> bool:
    """True when exc (or what it wraps) is the file store failing (see STORAGE_ERRNOS): 503 + Retry-After, not 500."""
    return storage_error(exc) is not None


# What an operator does about each: a permission error is a configuration mistake (a volume mounted with another
# owner, a restore as root), not an outage that passes by itself; requests still answer 503 (retrying is harmless).
_STORAGE_ADVICE = {
    errno.EACCES: "permission denied: a configuration mistake, not an outage: give the kefu user (uid {uid}) read "
    "and write access to it",
    errno.EROFS: "read-only file system: remount it read-write",
    errno.ENOSPC: "no space left on the device: free space or grow the volume",
    errno.EDQUOT: "disk quota exceeded: free space or raise the quota",
    errno.EFBIG: "file size limit reached: raise the limit (ulimit -f) of the kefu process",
    errno.EIO: "I/O error: the disk or network volume is failing",
}


def storage_problem(exc: BaseException | None) -> str | None:
    """One line for operators naming the path and what to do, when exc is (or wraps) a file-store outage."""
    import os

    failed = storage_error(exc)
    if failed is None or failed.errno is None:
        return None
    advice = _STORAGE_ADVICE[failed.errno].format(uid=os.geteuid())
    where = failed.filename if failed.filename is not None else "the data dir (KEFU_DATA_DIR)"
    return f"file store {where}: {errno.errorcode[failed.errno]}, {advice}"
