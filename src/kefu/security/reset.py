"""Self-service password reset: request → emailed single-use token (hashed, 30 minutes) → new password."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.auth import service as auth_service
from kefu.auth.models import Agent
from kefu.core import runtime
from kefu.core.config import Settings
from kefu.core.db import after_commit, utcnow
from kefu.core.errors import InvalidInput
from kefu.core.ratelimit import Budget, WindowLimit
from kefu.core.security import new_token, token_digest
from kefu.security.models import PasswordResetRequest

TOKEN_TTL = timedelta(minutes=30)
WINDOW = timedelta(hours=1)
MAX_PER_EMAIL = 3
MAX_PER_IP = 20
log = logging.getLogger("kefu.security.reset")

# (agent id, email, display name, reset link, locale) -> None; the wiring root (kefu.bootstrap) provides RESET_SENDER.
ResetSender = Callable[[int, str, str, str, str], None]


def log_sender(agent_id: int, email: str, name: str, link: str, locale: str) -> None:
    """Fallback when no outgoing mail relay is configured: says so, never logs the link (it is a credential)."""
    log.warning(
        "password reset requested but no outgoing mail is configured (KEFU_MAIL_SMTP_HOST or a brand email inbox "
        "with an SMTP relay); nothing was sent"
    )


RESET_SENDER: runtime.Slot[ResetSender] = runtime.Slot("password-reset sender", lambda settings: log_sender)


def _rate_limit(session: Session, email: str, ip: str) -> None:
    requests = WindowLimit(PasswordResetRequest.created_at, WINDOW)
    budgets = [
        Budget(PasswordResetRequest.email == email, MAX_PER_EMAIL),
        Budget(PasswordResetRequest.ip == ip, MAX_PER_IP),
    ]
    requests.enforce(session, budgets, "err_security_too_many_resets")


def request_reset(session: Session, settings: Settings, *, email: str, ip: str) -> None:
    """Record the request and, for an active account, send a link after commit; silent for unknown emails."""
    email = email.strip().lower()
    _rate_limit(session, email, ip)
    now = utcnow()
    agent = session.scalar(select(Agent).where(Agent.email == email))
    usable = agent is not None and agent.is_active and agent.password_hash is not None
    raw = new_token("kefu_reset") if usable else None
    session.add(
        PasswordResetRequest(
            agent_id=agent.id if usable and agent else None,
            email=email,
            ip=ip,
            token_hash=token_digest(raw) if raw else None,
            created_at=now,
            expires_at=now + TOKEN_TTL,
        )
    )
    session.flush()
    if agent is None or raw is None:
        return
    record(
        session,
        None,
        "auth.password_reset.request",
        target_type="agent",
        target_id=agent.id,
        details={"ip": ip},
        actor_type="anonymous",
        actor_label=ip,
    )
    agent_id, to, name, locale = agent.id, agent.email, agent.name, agent.locale
    link = f"{settings.base_url.rstrip('/')}/reset-password?{urlencode({'token': raw, 'lang': locale})}"
    after_commit(session, lambda: runtime.get(RESET_SENDER)(agent_id, to, name, link, locale))


def confirm_reset(session: Session, *, token: str, password: str, ip: str) -> Agent:
    """Set a new password with a valid token; revokes the agent's sessions and every other pending token."""
    row = session.scalar(select(PasswordResetRequest).where(PasswordResetRequest.token_hash == token_digest(token)))
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now or row.agent_id is None:
        raise InvalidInput.said("err_security_reset_link_invalid")
    agent = session.get(Agent, row.agent_id)
    if agent is None or not agent.is_active:
        raise InvalidInput.said("err_security_reset_link_invalid")
    principal = auth_service.principal_for(session, agent, "reset", row.id, ip)
    auth_service.update_agent(session, agent, actor=principal, password=password)  # policy check + revocation
    session.execute(
        update(PasswordResetRequest)
        .where(PasswordResetRequest.agent_id == agent.id, PasswordResetRequest.used_at.is_(None))
        .values(used_at=now)
    )
    session.flush()
    record(session, principal, "auth.password_reset.confirm", target_type="agent", target_id=agent.id)
    return agent
