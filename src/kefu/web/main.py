"""Uvicorn import target: `kefu.web.main:app`."""

from kefu.web.app import create_app
from kefu.web.routing import warm

app = create_app()
warm(app)  # each served process builds its route tables before it accepts a request, not during the first one
