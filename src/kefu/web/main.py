"""Uvicorn import target: `kefu.web.main:app`, wired from the environment's settings."""

from kefu.bootstrap import wire
from kefu.core.config import get_settings
from kefu.web.app import create_app

app = create_app(runtime=wire(get_settings()))
