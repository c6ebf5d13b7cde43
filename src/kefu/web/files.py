"""Stored files as responses, opened before the status line is sent."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from kefu.core.errors import NotFound


class StoredFile(FileResponse):
    """A FileResponse whose file is opened in the handler: a missing file is a 404, an unreadable one a 503.

    Starlette's FileResponse stats the path when the response is sent (a file erased in between: RuntimeError, a
    bare 500) and opens it only after sending "200" (permission denied or an I/O error: a 200 cut short, which a
    client may keep as the whole file). Opened here, an error is raised where the problem handlers answer it, and a
    file erased or renamed later is still sent whole (the open descriptor keeps it).
    """

    def __init__(self, path: Path, **kwargs: Any) -> None:
        try:
            self._fh = path.open("rb")
        except FileNotFoundError:
            raise NotFound.said("err_channels_attachment_file_missing") from None
        try:
            stat = os.fstat(self._fh.fileno())
        except BaseException:
            self._fh.close()
            raise
        super().__init__(path, stat_result=stat, **kwargs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._fh.close()  # also when nothing was read (HEAD, 304, a client gone)

    @asynccontextmanager
    async def _open_file(self) -> AsyncIterator[anyio.AsyncFile[bytes]]:
        # The one hook every way of sending the body goes through (whole file, one range, several ranges).
        self._fh.seek(0)
        yield anyio.AsyncFile(self._fh)
