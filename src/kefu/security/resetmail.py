"""The password-reset mail: written in the agent's locale and sent through the system's outgoing mail.

Relay, first that applies: the system relay (KEFU_MAIL_SMTP_HOST, from KEFU_MAIL_FROM); else the first active
email inbox with an SMTP relay among the agent's brands (an admin's: every brand), from that inbox's address; else
nothing is sent and `log_sender` says so. The relay is chosen after the request's commit; the SMTP exchange runs on
a background pool with a short timeout. A failure is logged without the link (a credential) and never reaches the
requester, who gets the same answer for any address (and no SMTP round trip in the response time).
"""

from __future__ import annotations

import email.utils
import html
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from kefu.core import catalog, runtime
from kefu.core.config import Settings

if TYPE_CHECKING:
    from kefu.channels.email.smtp import SmtpRelay

log = logging.getLogger("kefu.security.reset")
PRODUCT = "kefu"  # the name a mail carries when the agent belongs to no brand


@dataclass(frozen=True, slots=True)
class Route:
    """Where a reset mail goes out: the relay, the From address and name, and the brand it speaks for."""

    relay: SmtpRelay
    from_addr: str
    from_name: str
    brand: str
    via: str  # "system" or "inbox <id>", for the log


def _brands_of(agent_id: int) -> Select[int, str]:
    """The agent's brands (id, name) by id: every brand for an admin, else the assigned ones (as brand_ids_of)."""
    from kefu.auth.models import Agent, AgentBrand
    from kefu.brands.models import Brand

    # The admin rule in SQL, so the look-up needs neither the agent's row nor a query of its own.
    admin = select(Agent.id).where(Agent.id == agent_id, Agent.role == "admin").exists()
    assigned = select(AgentBrand.brand_id).where(AgentBrand.agent_id == agent_id)
    return select(Brand.id, Brand.name).where(or_(admin, Brand.id.in_(assigned))).order_by(Brand.id)


def _inboxes(session: Session, agent_id: int) -> list[tuple[int, str, dict[str, Any]]]:
    """The active email inboxes' (id, brand name, config) of the agent's brands, by brand id, then inbox id."""
    from kefu.brands.models import Inbox

    rows = list(session.execute(_brands_of(agent_id)))
    inboxes = session.scalars(
        select(Inbox)
        .where(Inbox.brand_id.in_([r.id for r in rows]), Inbox.kind == "email", Inbox.is_active.is_(True))
        .order_by(Inbox.id)
    )
    order = {r.id: (i, r.name) for i, r in enumerate(rows)}
    found = sorted(((order[i.brand_id], i.id, dict(i.config or {})) for i in inboxes), key=lambda t: (t[0][0], t[1]))
    return [(inbox_id, brand[1], cfg) for brand, inbox_id, cfg in found]


def route_for(settings: Settings, session: Session, agent_id: int) -> Route | None:
    """How a reset mail to agent `agent_id` is sent (None: no relay is configured anywhere)."""
    from kefu.brands.models import Brand
    from kefu.channels.email.adapter import inbox_address
    from kefu.channels.email.smtp import SmtpRelay

    if settings.mail_smtp_host:
        ssl_on, starttls = settings.mail_smtp_ssl, settings.mail_smtp_starttls
        relay = SmtpRelay(
            host=settings.mail_smtp_host,
            port=settings.mail_smtp_port or (465 if ssl_on else 587 if starttls else 25),
            user=settings.mail_smtp_user or None,
            password=settings.mail_smtp_password.get_secret_value() if settings.mail_smtp_password else None,
            starttls=starttls,
            ssl=ssl_on,
            timeout=settings.mail_timeout_seconds,
        )
        # Only the first brand's name is needed: one query, no inboxes.
        brand = session.scalar(_brands_of(agent_id).with_only_columns(Brand.name).limit(1)) or PRODUCT
        return Route(relay, str(settings.mail_from), settings.mail_from_name or brand, brand, "system")
    for inbox_id, brand, cfg in _inboxes(session, agent_id):
        if cfg.get("smtp_host") and inbox_address(cfg):
            relay = SmtpRelay.from_inbox(cfg, timeout=settings.mail_timeout_seconds)
            return Route(relay, inbox_address(cfg), str(cfg.get("from_name") or brand), brand, f"inbox {inbox_id}")
    return None


def compose(*, route: Route, to: str, name: str, link: str, locale: str, minutes: int) -> EmailMessage:
    """The reset mail in `locale`: plain text and escaped HTML, auto-generated, with its own Message-ID and Date."""
    from kefu.channels.email.mime import build_reply

    loc = locale if locale in catalog.LOCALES else catalog.DEFAULT_LOCALE
    t = catalog.section(loc, "reset_mail_")
    fields = {"brand": route.brand, "name": name, "minutes": minutes}
    lines = [t[k].format(**fields) for k in ("greeting", "intro")]
    after = [t[k].format(**fields) for k in ("valid", "ignore")]
    text = "\n\n".join([*lines, link, *after, "-- ", t["auto"].format(**fields)]) + "\n"
    esc = {k: html.escape(v.format(**fields)) for k, v in t.items()}
    href = html.escape(link, quote=True)
    body = (
        f'<!doctype html><html lang="{loc}"><body style="font-family:sans-serif;line-height:1.5">'
        f"<p>{esc['greeting']}</p><p>{esc['intro']}</p>"
        f'<p><a href="{href}" style="display:inline-block;padding:8px 16px;background:#1f6feb;color:#fff;'
        f'text-decoration:none;border-radius:4px">{esc["button"]}</a></p>'
        f'<p style="word-break:break-all;font-size:90%">{href}</p>'
        f"<p>{esc['valid']}</p><p>{esc['ignore']}</p>"
        f'<p style="color:#666;font-size:85%">{esc["auto"]}</p></body></html>'
    )
    domain = route.from_addr.rsplit("@", 1)[1] if "@" in route.from_addr else "kefu.local"
    return build_reply(
        from_addr=email.utils.formataddr((route.from_name, route.from_addr)),
        to=email.utils.formataddr((name, to)),
        text=text,
        html=body,
        subject=t["subject"].format(**fields),
        message_id_domain=domain,
        automatic=True,  # Auto-Submitted: auto-generated, and no out-of-office answers
        standalone=True,  # a new message, not "Re:" anything
    )


class ResetMailer:
    """The RESET_SENDER kefu.bootstrap.wire installs: finds a relay, then sends on a background thread.

    The relay is looked up in the caller's thread (a quick read after the request committed); the SMTP exchange runs
    on a small pool, so a slow or hanging relay never holds the request, and the SMTP round trip (tens of ms on a
    good relay) does not tell a known address from an unknown one. A mail lost with the process is asked for again.
    """

    def __init__(self, settings: Settings, workers: int = 2) -> None:
        self.settings = settings
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()

    def __call__(self, agent_id: int, to: str, name: str, link: str, locale: str) -> None:
        """Queue one reset mail to agent `agent_id`; every failure is logged (without the link) and swallowed."""
        from kefu.core.db import DATABASE
        from kefu.security.reset import log_sender

        try:
            # A read-only look-up in a session of its own: the request's transaction has already committed.
            with runtime.get(DATABASE).sessionmaker() as session:
                route = route_for(self.settings, session, agent_id)
        except Exception:
            log.exception("password reset mail: could not look up the outgoing mail relay; nothing was sent")
            return
        if route is None:
            log_sender(agent_id, to, name, link, locale)
            return
        with self._lock:
            if self._pool is None:  # threads only in a process that ever sends one
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="kefu-reset-mail")
            future = self._pool.submit(self.send, route, to, name, link, locale)
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the queued mails are sent or given up (tests, and a process shutting down)."""
        with self._lock:
            pending = set(self._pending)
        wait(pending, timeout=timeout)

    def send(self, route: Route, to: str, name: str, link: str, locale: str) -> None:
        """Compose and hand over one reset mail now (blocks for at most about the relay's timeout per step)."""
        from kefu.channels.email.smtp import deliver
        from kefu.security.reset import TOKEN_TTL

        try:
            msg = compose(route=route, to=to, name=name, link=link, locale=locale, minutes=TOKEN_TTL.seconds // 60)
            refused = deliver(route.relay, msg, envelope_from=route.from_addr, to_addrs=[to])
        except Exception as exc:  # on a pool thread nobody else would see it
            # Only the class and SMTP code: an error text might quote the message, and the link is a credential.
            code = getattr(exc, "smtp_code", None)
            log.warning(
                "password reset mail not sent via %s (%s:%s): %s%s; the user may ask again",
                route.via,
                route.relay.host,
                route.relay.port,
                type(exc).__name__,
                f" {code}" if code else "",
            )
            return
        if refused:
            log.warning("password reset mail refused by the relay via %s; nothing was delivered", route.via)
            return
        log.info("password reset mail sent via %s (%s:%s)", route.via, route.relay.host, route.relay.port)
