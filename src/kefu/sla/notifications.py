"""Persisted agent notifications, pushed live on topic `agent:<id>` after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from kefu.auth.models import Agent
from kefu.auth.permissions import Principal
from kefu.auth.service import in_brand
from kefu.core.access import scope_to_brands
from kefu.core.catalog import DEFAULT_LOCALE, LOCALES, gettext
from kefu.core.db import utcnow
from kefu.core.errors import NotFound
from kefu.core.events import publish
from kefu.core.pagination import keyset_page
from kefu.sla.models import Notification

# A title per locale: a plain string is the same for everyone; a callable is asked with each recipient's locale.
Title = str | Callable[[str], str]


# Where a catalog-titled notification keeps its key and fields, so a list can title it in the reader's page locale.
TITLE_KEY = "title_key"
TITLE_PARAMS = "title_params"


class Localized:
    """A title from the catalogs (`notif_*` keys): stored in the recipient's locale, re-titled for any other."""

    def __init__(self, key: str, fields: dict[str, object]) -> None:
        self.key = key
        # Stored as JSON: numbers and text stay as they are, anything else as its text.
        self.fields = {k: v if isinstance(v, (int, float, str)) else str(v) for k, v in fields.items()}

    def __call__(self, locale: str) -> str:
        """The title in `locale`."""
        return gettext(self.key, locale).format(**self.fields)


def localized(key: str, **fields: object) -> Localized:
    """A title from the catalogs (`notif_*` keys), written in each recipient agent's own locale."""
    return Localized(key, fields)


def title_in(n: Notification, locale: str) -> str:
    """A notification's title for a reader of `locale`: catalog-titled ones in that locale, others as stored."""
    data = n.data or {}
    key, params = data.get(TITLE_KEY), data.get(TITLE_PARAMS)
    if not isinstance(key, str) or not isinstance(params, dict):
        return n.title
    try:
        return gettext(key, locale).format(**params)
    except (KeyError, IndexError, ValueError):  # a catalog text changed its fields since: the stored title holds
        return n.title


def _agent_locales(session: Session, agent_ids: list[int]) -> dict[int, str]:
    # Kept on the session: a sweep notifying many tickets asks once per agent, not once per notification.
    known: dict[int, str] = session.info.setdefault("kefu_agent_locales", {})
    missing = [a for a in agent_ids if a not in known]
    if missing:
        rows = session.execute(select(Agent.id, Agent.locale).where(Agent.id.in_(missing)))
        known.update({agent_id: locale or DEFAULT_LOCALE for agent_id, locale in rows})
    return {a: known[a] for a in agent_ids if a in known}


def _readers(session: Session, agent_ids: list[int], brand_id: int | None) -> tuple[list[int], dict[int, str]]:
    """The recipients who may read `brand_id` (everyone, for a notice of no brand) and their locales.

    One query for the whole batch, asked afresh each time: membership is what decides, and an agent taken off a brand
    an instant ago must not get its next subject as a toast.
    """
    if brand_id is None or not agent_ids:
        return agent_ids, {}
    rows = session.execute(select(Agent.id, Agent.locale).where(Agent.id.in_(agent_ids), in_brand(brand_id)))
    locales = {agent_id: locale or DEFAULT_LOCALE for agent_id, locale in rows}
    session.info.setdefault("kefu_agent_locales", {}).update(locales)
    return [a for a in agent_ids if a in locales], locales


def notify(
    session: Session,
    agent_ids: Iterable[int],
    kind: str,
    title: Title,
    *,
    brand_id: int | None,
    body: str = "",
    ticket_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> list[Notification]:
    """Store one notification per distinct agent and publish `notification.created` to each agent's topic."""
    out = build(session, agent_ids, kind, title, brand_id=brand_id, body=body, ticket_id=ticket_id, data=data)
    if out:
        session.flush()
    announce(session, out)
    return out


def build(
    session: Session,
    agent_ids: Iterable[int],
    kind: str,
    title: Title,
    *,
    brand_id: int | None,
    body: str = "",
    ticket_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> list[Notification]:
    """Add notifications to the session without flushing (batch writers flush once, then `announce`).

    The one place a notification is made: recipients who may not read `brand_id` (taken off the brand, or of another
    one) are dropped here, so no caller can store or toast a brand's subjects to them.
    """
    out: list[Notification] = []
    ids, locales = _readers(session, list(dict.fromkeys(agent_ids)), brand_id)
    if callable(title) and ids and brand_id is None:
        locales = _agent_locales(session, ids)
    if isinstance(title, Localized):
        data = {**(data or {}), TITLE_KEY: title.key, TITLE_PARAMS: title.fields}
    for agent_id in ids:
        n = Notification(
            brand_id=brand_id,
            agent_id=agent_id,
            kind=kind,
            title=title(locales.get(agent_id, DEFAULT_LOCALE)) if callable(title) else title,
            body=body,
            ticket_id=ticket_id,
            data=data or {},
            created_at=utcnow(),
        )
        session.add(n)
        out.append(n)
    return out


def announce(session: Session, rows: Iterable[Notification]) -> None:
    """Publish flushed notifications to their agents' topics (after commit)."""
    for n in rows:
        publish(session, "notification.created", notification_event(n), (f"agent:{n.agent_id}",))


def notification_event(n: Notification) -> dict[str, Any]:
    """Realtime payload of a notification (`titles`: per locale, for a console page in another language)."""
    titled = isinstance((n.data or {}).get(TITLE_KEY), str)
    return {
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "titles": {loc: title_in(n, loc) for loc in LOCALES} if titled else {},
        "body": n.body,
        "ticket_id": n.ticket_id,
        "brand_id": n.brand_id,
        "data": n.data,
        "created_at": n.created_at.isoformat(),
    }


# A brand's notifications are about its cases (tickets, conversations, customers): reading them takes one of these.
CASE_READS = ("tickets:read", "conversations:read", "customers:read")


def mine(principal: Principal) -> Select[Any]:
    """The principal's own notifications in brands it may still see (and those of no brand): the one read rule.

    Rows are kept per agent, so an agent taken off a brand would otherwise go on reading that brand's case subjects
    and mentions in the list, the badge and the API.
    """
    own = select(Notification).where(Notification.agent_id == principal.agent_id)
    if not any(principal.can(p) for p in CASE_READS):
        # A token scoped to other work (kb:read, reports:read) reads its own account's notices, not case subjects.
        return own.where(Notification.brand_id.is_(None))
    return scope_to_brands(own, Notification.brand_id, principal, unbranded=True)


def list_notifications(
    session: Session, principal: Principal, *, unread: bool, limit: int, cursor: str | None
) -> tuple[list[Notification], str | None]:
    """The principal's notifications, newest first."""
    stmt = mine(principal)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return keyset_page(session, stmt, Notification.id, Notification.id, limit=limit, cursor=cursor)


def mark_read(session: Session, principal: Principal, notification_id: int | None = None) -> int:
    """Mark one (or every) unread notification the principal sees as read; returns how many changed."""
    ids = mine(principal).with_only_columns(Notification.id).where(Notification.read_at.is_(None))
    if notification_id is not None:
        if session.scalar(mine(principal).where(Notification.id == notification_id)) is None:
            raise NotFound.said("err_sla_notification_not_found")
        ids = ids.where(Notification.id == notification_id)
    stmt = update(Notification).where(Notification.id.in_(ids))
    count: int = session.execute(stmt.values(read_at=utcnow())).rowcount  # type: ignore[attr-defined]
    return count
