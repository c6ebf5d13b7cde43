"""The `Idempotency-Key` header of API creates: one dependency and one `run` that every idempotent route uses.

A route opts in by taking `idem: Idem` and returning `idem.run(db, work, again)` from inside its unit of work;
without the header `run` is just `work()` (no statement added). With it, the key row is the create's last
statement: same key and body again → the original status and the created resource re-read, with
`Idempotent-Replayed: true`; same key, other request → 422; the same key still being handled here → 409.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.auth.permissions import Principal
from kefu.core.errors import Conflict, InvalidInput, ProblemError, Unauthorized
from kefu.idempotency import service

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
RETRY_AFTER = 1  # seconds: a create in flight finishes well within it


class Created(Protocol):
    """A create's response model: it names the created row."""

    @property
    def id(self) -> int: ...


M = TypeVar("M", bound=Created)


class Idempotency:
    """The request's key (None when the header was not sent), its scope, route and fingerprint."""

    def __init__(
        self, key: str | None, scope: str = "", route: str = "", fingerprint: str = "", request: Request | None = None
    ) -> None:
        self.key, self.scope, self.route, self.fingerprint = key, scope, route, fingerprint
        self.request = request  # the scope is read from its principal in run(), once authentication has run

    def run(self, db: Session, work: Callable[[], M], again: Callable[[int], M], status: int = 201) -> M | JSONResponse:
        """`work()` plus its key row in the same transaction, or the replay of the create recorded under the key.

        Sync: call it inside the route's thread-pool hop (commit_in_one_hop) or a sync handler, before the commit.
        """
        if self.key is None:
            return work()
        if not self.scope:
            self.scope = _scope(self.request)
        token = (self.scope, self.route, self.key)
        if not service.IN_FLIGHT.claim(token):
            raise Conflict.said("err_idempotency_in_flight", header=HEADER).also(retry_after=RETRY_AFTER)
        try:
            return self._run(self.key, db, work, again, status)
        finally:
            service.IN_FLIGHT.release(token)

    def _run(
        self, key: str, db: Session, work: Callable[[], M], again: Callable[[int], M], status: int
    ) -> M | JSONResponse:
        try:
            result = work()
            service.record(
                db,
                scope=self.scope,
                route=self.route,
                key=key,
                fingerprint=self.fingerprint,
                status_code=status,
                resource_id=result.id,
            )
            return result
        except (IntegrityError, ProblemError):
            db.rollback()  # this attempt is void either way; is it a retry of a committed create?
            earlier = service.find(db, scope=self.scope, route=self.route, key=key)
            if earlier is None:
                raise
        if earlier.fingerprint != self.fingerprint:
            raise InvalidInput.said("err_idempotency_key_reused", header=HEADER)
        return JSONResponse(
            jsonable_encoder(again(earlier.resource_id)), status_code=earlier.status_code, headers={REPLAYED: "true"}
        )


NO_KEY = Idempotency(None)


def _scope(request: Request | None) -> str:
    """Whose keys these are: the bearer token's, else the console agent's (the route authenticated the request)."""
    principal: Principal | None = getattr(request.state, "principal", None) if request is not None else None
    if principal is None:  # every idempotent route requires a principal; never share keys between callers
        raise Unauthorized.said("err_auth_auth_required")
    return f"token:{principal.credential_id}" if principal.via == "token" else f"agent:{principal.agent_id}"


async def idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Optional client-chosen unique key (up to 255 printable ASCII characters, e.g. a UUID). "
            "A retry with the same key and body within 24 hours replays the original response (header "
            "`Idempotent-Replayed: true`) instead of creating again; the same key with another body is 422; "
            "while the first request is still being handled, 409 with Retry-After.",
        ),
    ] = None,
) -> Idempotency:
    """The request's Idempotency (async, no yield: no thread-pool hop and no exit stack on the create path).

    It takes no principal dependency: FastAPI solves a cached dependency's whole sub-tree again for every
    dependant that declares it (four levels for the principal), so the scope is read in `run` from the principal
    the route's own permission dependency stored on the request.
    """
    if key is None:
        return NO_KEY
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    if request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        # The raw body differs on every retry (a fresh multipart boundary): fingerprint the fields and file bytes.
        fingerprint = service.form_fingerprint(request.method, request.url.path, await _form_parts(request))
    else:
        body = await request.body()  # read and cached by FastAPI before the dependencies ran: no I/O here
        fingerprint = service.fingerprint(request.method, request.url.path, body)
    return Idempotency(key, "", f"{request.method} {template}", fingerprint, request)


async def _form_parts(request: Request) -> list[tuple[str, str | list[str]]]:
    """The parsed form (cached by FastAPI) as (name, value) pairs; a file as [filename, content type, sha256]."""
    out: list[tuple[str, str | list[str]]] = []
    for name, value in (await request.form()).multi_items():
        if isinstance(value, str):
            out.append((name, value))
            continue
        digest = hashlib.sha256()
        while chunk := await value.read(1 << 20):
            digest.update(chunk)
        await value.seek(0)  # the route reads the file again
        out.append((name, [value.filename or "", value.content_type or "", digest.hexdigest()]))
    return out


Idem = Annotated[Idempotency, Depends(idempotency)]
