"""Domain errors: each carries the HTTP status and title of the RFC 7807 problem it becomes.

No web framework here: services, jobs and the CLI raise these; the web layer (kefu.web.problems) turns them into
application/problem+json responses.
"""

from __future__ import annotations

from typing import Any


class ProblemError(Exception):
    """A domain error that becomes an RFC 7807 response."""

    status: int = 400
    type_: str = "about:blank"
    title: str = "Bad request"

    def __init__(self, detail: str, *, status: int | None = None, title: str | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.extra = extra


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
