"""A case's history: each audit entry's details as (label, value) lines in the reader's language.

Audit details are stored as the change was made (keys such as `assignee_id`, enum values such as `on_hold`, ids,
`str()` of lists); this module names every key a ticket's entries carry and writes every value for a reader, in
the brand's time zone. tests/web/test_ui_locale_pages.py lists one sample of each action here (KNOWN_ACTIONS).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.models import AuditLog
from kefu.auth import labels as team_labels
from kefu.auth.models import Agent, Team
from kefu.core.catalog import gettext
from kefu.core.l10n import cldr_locale, format_datetime
from kefu.core.seedtext import own_text
from kefu.tickets.models import Ticket
from kefu.tickets.tags import tag_label
from kefu.tickets.taxonomy import category_label

# Every action recorded with target_type="ticket" (a new one needs its keys below and a sample in the test).
KNOWN_ACTIONS = (
    "ticket.create",
    "ticket.update",
    "ticket.assign",
    "ticket.comment",
    "ticket.link",
    "ticket.unlink",
    "ticket.merge",
    "macro.apply",
    "survey.csat_sent",
    "survey.csat_answered",
    "security_step.record",
    "security_freeze.request",
)
# Internal ids the line beside them already names (the macro by name, the comment by its visibility).
HIDDEN = frozenset({"macro_id", "survey_id", "activity_id", "link"})
ASSIGN_REASONS = frozenset({"round_robin", "least_loaded", "skills", "manual"})  # st_<strategy>
# Custom-field keys other packages set (kefu.tickets.taxonomy.RESERVED_FIELDS) -> catalog key of their name.
RESERVED_LABELS = {
    "complaint_level": "af_cond_complaint_level",
    "tier": "af_cond_service_tier",
    "regulator_case": "cs_regulator",
}
# Stored key -> catalog label (uix_h_<label>); a ticket.update diff uses the ticket's field names.
LABELS = {
    "status": "status",
    "priority": "priority",
    "assignee_id": "assignee",
    "team_id": "team",
    "category": "category",
    "tags": "tags",
    "subject": "subject",
    "custom_fields": "custom_fields",
    "language": "language",
    "number": "number",
    "from": "from",
    "to": "to",
    "reason": "reason",
    "macro": "macro",
    "changed": "changed",
    "reply": "reply",
    "channel": "channel",
    "rating": "rating",
    "public": "visibility",
    "target": "target",
    "kind": "kind",
    "sources": "sources",
    "step": "step",
    "at": "at",
    "source": "source",
    "request_id": "request",
}


@dataclass(frozen=True)
class Names:
    """What ids and keys in a case's history are called: agents, teams, linked tickets, the brand's categories."""

    agents: Mapping[int, str] = field(default_factory=dict)
    teams: Mapping[int, Any] = field(default_factory=dict)  # id -> Team (seeded names per locale) or a name
    tickets: Mapping[int, str] = field(default_factory=dict)  # id -> number
    categories: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # key -> (label_zh, label_en)
    fields: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # custom field key -> (label_zh, label_en)
    tz: ZoneInfo | str = "Asia/Taipei"


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _parsed(value: object) -> object:
    """A diff side stored as str(): back to the list or dict it was ("['a']"), else as stored."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    return value


def _empty(value: object) -> bool:
    return value is None or value in ("None", "", "[]", "{}") or value == [] or value == {}


class _Writer:
    """Writes one entry's values for one reader."""

    def __init__(self, locale: str, names: Names) -> None:
        self.locale = locale
        self.names = names

    def t(self, key: str) -> str:
        return gettext(key, self.locale)

    def keyed(self, prefix: str, value: object) -> str:
        text = gettext(f"{prefix}{value}", self.locale)
        return text if text != f"{prefix}{value}" else str(value)

    def agent(self, value: object) -> str:
        agent_id = _int(value)
        if agent_id is None:
            return self.t("uix_h_nobody")
        return self.names.agents.get(agent_id) or f"#{agent_id}"

    def team(self, value: object) -> str:
        team_id = _int(value)
        if team_id is None:
            return self.t("uix_h_noteam")
        team = self.names.teams.get(team_id)
        if team is None:
            return f"#{team_id}"
        return team if isinstance(team, str) else team_labels.team_name(team, self.locale)

    def ticket(self, value: object) -> str:
        ticket_id = _int(value)
        return self.names.tickets.get(ticket_id, f"#{ticket_id}") if ticket_id is not None else str(value)

    def category(self, value: object) -> str:
        key = str(value)
        zh, en = self.names.categories.get(key, (key, key))
        return category_label(key, zh, en, self.locale)

    def language(self, value: object) -> str:
        try:
            return str(Locale.parse(str(value), sep="-").get_display_name(cldr_locale(self.locale)))
        except (ValueError, UnknownLocaleError):
            return str(value)

    def time(self, value: object) -> str:
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return format_datetime(at, self.locale, self.names.tz, "short")

    def listing(self, value: object, each: Callable[[object], str]) -> str:
        items = _parsed(value)
        if isinstance(items, (list, tuple, set)):
            return "、".join(each(i) for i in items) if self.locale != "en" else ", ".join(each(i) for i in items)
        return str(items)

    def fields(self, value: object) -> str:
        data = _parsed(value)
        if not isinstance(data, dict):
            return str(data)
        return "; ".join(f"{self.field_label(str(k))}: {self.field_value(str(k), v)}" for k, v in data.items())

    def field_label(self, key: str) -> str:
        if key in RESERVED_LABELS and key not in self.names.fields:
            return self.t(RESERVED_LABELS[key])
        zh, en = self.names.fields.get(key, (key, key))
        return own_text(en if self.locale == "en" and en else zh, self.locale)

    def field_value(self, key: str, value: object) -> str:
        """A custom field's value; the reserved complaint level by its name, booleans as yes/no."""
        if key == "complaint_level" and key not in self.names.fields:
            return self.keyed("lvl_", value)
        if isinstance(value, bool):
            return self.t("uix_h_yes" if value else "uix_h_no")
        return str(value)

    def value(self, key: str, value: object) -> str:
        """One stored value (one side of a diff) for the reader."""
        if key == "status":
            return self.keyed("t_", value)
        if key == "priority":
            return self.keyed("p_", value)
        if key in ("assignee_id", "from", "to"):
            return self.agent(value)
        if key == "team_id":
            return self.team(value)
        if _empty(value):
            return self.t("uix_h_empty")
        if key == "category":
            return self.category(value)
        if key == "tags":
            return self.listing(value, lambda tag: tag_label(str(tag), self.locale))
        if key == "custom_fields":
            return self.fields(value)
        if key == "language":
            return self.language(value)
        if key == "reason":
            return self.keyed("st_", value) if value in ASSIGN_REASONS else self.keyed("uix_h_reason_", value)
        if key == "changed":
            return self.listing(value, lambda k: self.label(str(k)))
        if key == "reply":
            return self.t("uix_h_yes" if value is True or value == "True" else "uix_h_no")
        if key == "public":
            return self.t("uix_h_public" if value is True or value == "True" else "uix_h_internal")
        if key == "channel":
            return self.keyed("ch_", value)
        if key == "rating":
            return f"{'★' * (_int(value) or 0)} ({value}/5)"
        if key == "target":
            return self.ticket(value)
        if key == "sources":
            return self.listing(value, self.ticket)
        if key == "kind":
            return self.keyed("link_", value)
        if key == "step":
            return self.keyed("sla_ms_", value)
        if key == "at":
            return self.time(value)
        if key == "source":
            return self.keyed("uix_h_src_", value)
        if key == "request_id":
            return f"#{value}"
        if isinstance(value, bool):
            return self.t("uix_h_yes" if value else "uix_h_no")
        return str(value)

    def label(self, key: str) -> str:
        return self.t(f"uix_h_{LABELS[key]}") if key in LABELS else self.t("au_details")


def describe(action: str, details: Mapping[str, Any] | None, locale: str, names: Names) -> list[tuple[str, str]]:
    """An audit entry's details as (label, value) lines for a reader; a ticket.update diff reads "before → after"."""
    writer = _Writer(locale, names)
    lines: list[tuple[str, str]] = []
    for key, value in (details or {}).items():
        if key in HIDDEN:
            continue
        if action == "ticket.update" and isinstance(value, (list, tuple)) and len(value) == 2:
            lines.append((writer.label(key), f"{writer.value(key, value[0])} → {writer.value(key, value[1])}"))
        else:
            lines.append((writer.label(key), writer.value(key, value)))
    return lines


def history_names(
    session: Session,
    entries: list[AuditLog],
    *,
    agents: Mapping[int, str],
    teams: Mapping[int, Any],
    tickets: Mapping[int, str],
    categories: Mapping[str, tuple[str, str]],
    fields: Mapping[str, tuple[str, str]],
    tz: ZoneInfo | str,
) -> Names:
    """Names for a case's history: the case page's own, plus the few ids it has not loaded (a deactivated agent)."""
    agent_ids: set[int] = set()
    team_ids: set[int] = set()
    ticket_ids: set[int] = set()
    for entry in entries:
        if entry.actor_type == "agent" and entry.actor_id is not None:
            agent_ids.add(entry.actor_id)
        for key, value in (entry.details or {}).items():
            sides = value if isinstance(value, list) else [value]
            ids = {i for i in (_int(v) for v in sides) if i is not None}
            if key in ("assignee_id", "from", "to"):
                agent_ids |= ids
            elif key == "team_id":
                team_ids |= ids
            elif key in ("target", "sources"):
                ticket_ids |= ids
    agent_ids -= set(agents)
    team_ids -= set(teams)
    ticket_ids -= set(tickets)
    more_agents = (
        dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids)))) if agent_ids else {}
    )
    more_teams = {t.id: t for t in session.scalars(select(Team).where(Team.id.in_(team_ids)))} if team_ids else {}
    more_tickets = (
        dict(session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids)))) if ticket_ids else {}
    )
    return Names(
        agents={**agents, **more_agents},
        teams={**teams, **more_teams},
        tickets={**tickets, **more_tickets},
        categories=categories,
        fields=fields,
        tz=tz,
    )
