"""Uvicorn import target: `kefu.web.main:app`."""

from kefu.web.app import create_app

app = create_app()
