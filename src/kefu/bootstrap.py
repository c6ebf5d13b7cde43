"""The wiring root: `wire(settings)` builds the components one kefu process runs with and installs them.

Every process entry point goes through here — `kefu serve` (kefu.web.main), `kefu worker`, `kefu scheduler`,
`kefu smtp`, `kefu jobs run` and `kefu bot eval` — so what a process is made of is decided in one place, and
importing a module never changes it (tests/test_wiring.py checks both). Tests wire their own components
(a test database, an in-memory bus and queue) or override one slot with `kefu.core.runtime.override`.
"""

from __future__ import annotations

from kefu.bot.engine import INDEX_REGISTRY, IndexRegistry
from kefu.core import runtime
from kefu.core.config import Settings
from kefu.core.db import DATABASE, Database, database_for
from kefu.core.events import BUS, Bus, make_bus
from kefu.core.jobs import QUEUE, JobQueue, make_queue
from kefu.core.runtime import Runtime
from kefu.security.reset import RESET_SENDER, ResetSender
from kefu.security.resetmail import ResetMailer
from kefu.tickets.classify import CLASSIFIER, ClassifierFactory


def wire(
    settings: Settings,
    *,
    database: Database | None = None,
    bus: Bus | None = None,
    queue: JobQueue | None = None,
    index_registry: IndexRegistry | None = None,
    classifier: ClassifierFactory | None = None,
    reset_sender: ResetSender | None = None,
    install: bool = True,
) -> Runtime:
    """Build this process's runtime from `settings` (any component may be passed in instead) and install it."""
    from kefu import registry
    from kefu.bot.classifier import classifier_factory
    from kefu.core.textrules import install_text_rule
    from kefu.privacy.logmask import install_log_masking
    from kefu.security.logredact import install_log_redaction

    install_log_masking()  # personal data never reaches log files
    install_log_redaction()  # nor do credentials (tokens, reset links, session ids)
    install_text_rule()  # no NUL or other C0 control reaches either database (kefu.core.textrules)
    registry.load_jobs()  # every job handler and periodic job, whichever process ends up running them
    wired = Runtime(settings)
    wired.provide(DATABASE, database or database_for(settings))
    wired.provide(BUS, bus or make_bus(settings))
    wired.provide(QUEUE, queue or make_queue(settings))
    wired.provide(INDEX_REGISTRY, index_registry or INDEX_REGISTRY.default(settings))  # one place builds it
    # New tickets are classified by the bot's NLU (trained on the KB and on agents' corrections).
    wired.provide(CLASSIFIER, classifier or classifier_factory)
    # Reset links go out through the system relay (KEFU_MAIL_SMTP_*), else a brand's email inbox relay, else the
    # log sender says nothing was sent (kefu.security.resetmail; the link itself is never logged).
    wired.provide(RESET_SENDER, reset_sender or ResetMailer(settings))
    if install:
        runtime.install(wired)
    return wired
