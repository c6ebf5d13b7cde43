"""Collaboration in the console: @mentions of colleagues in internal notes, who are then notified.

A mention is ``@`` followed by an agent's display name (王小明, "Amy Lin") or the local part of their email
(``@amy``). Names are matched as written rather than by word boundaries, since Chinese has none; longer names are
tried first so ``@王小明`` never also mentions an agent called 王小. Only agents who may work in the conversation's
brand can be mentioned (the same list as the assignee picker), and the author is never notified of their own note.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.auth import service as auth_service
from kefu.auth.models import Agent
from kefu.conversations.models import Conversation, Message
from kefu.privacy.pii import mask_text
from kefu.sla.notifications import notify

MAX_MENTIONS = 20


def handles(agent: Agent) -> list[str]:
    """The ways an agent can be mentioned (name and email local part), longest first."""
    out = [agent.name.strip()] if agent.name and agent.name.strip() else []
    local = (agent.email or "").split("@", 1)[0]
    if local:
        out.append(local)
    return sorted(set(out), key=len, reverse=True)


def mentioned(candidates: list[Agent], body: str) -> list[Agent]:
    """Agents mentioned in a text, in candidate order."""
    if "@" not in body:
        return []
    pairs = sorted(((h, a) for a in candidates for h in handles(a)), key=lambda p: len(p[0]), reverse=True)
    text = body.casefold()
    found: dict[int, Agent] = {}
    for handle, agent in pairs:
        needle = "@" + handle.casefold()
        at = text.find(needle)
        if at < 0:
            continue
        end = at + len(needle)
        if end < len(text) and handle.isascii() and (text[end].isalnum() or text[end] in "._-"):
            continue  # "@amy" inside "@amyl" is another handle
        found.setdefault(agent.id, agent)
        text = text.replace(needle, " " * len(needle))  # a longer handle claims its text first
        if len(found) >= MAX_MENTIONS:
            break
    return [a for a in candidates if a.id in found]


def notify_mentions(session: Session, conv: Conversation, note: Message, author: Agent) -> list[Agent]:
    """Notify the agents mentioned in an internal note (live on their agent topic, and kept in their list)."""
    if not note.is_note:
        return []
    agents = [
        a
        for a in mentioned(auth_service.assignable_agents(session, conv.brand_id), note.body or "")
        if a.id != author.id
    ]
    if agents:
        notify(
            session,
            [a.id for a in agents],
            "mention",
            f"{author.name} @ #{conv.id}",
            brand_id=conv.brand_id,
            body=mask_text(note.body or "")[:300],  # notifications of ticketless conversations outlive erasure
            ticket_id=conv.ticket_id,
            data={"conversation_id": conv.id, "message_id": note.id, "by": author.id},
        )
    return agents
