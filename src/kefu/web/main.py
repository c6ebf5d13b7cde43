"""Uvicorn import target: `kefu.web.main:app`, wired from the environment's settings."""

from kefu.bootstrap import wire
from kefu.core.chinese import preload
from kefu.core.config import get_settings
from kefu.core.process import settle
from kefu.web.app import create_app
from kefu.web.routing import warm
from kefu.web.threads import prestart

app = create_app(runtime=wire(get_settings()))
warm(app)  # each served process builds its route tables before it accepts a request, not during the first one
preload()  # and its OpenCC converters, whose build holds the GIL (the event loop stopped 80-130 ms, issue #21)
prestart(app)  # and its worker threads, whose start the event loop would wait for (kefu.web.threads)
settle()  # after start-up's allocations: later full collections skip them; shorter GIL hand-over (kefu.core.process)
