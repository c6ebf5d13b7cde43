"""What a team is called on a page: seeded teams (the demo's, catalog ``seedteam_<slug>``) in the reader's locale."""

from __future__ import annotations

from typing import Protocol

from kefu.core.seedtext import seed_text


class _Named(Protocol):
    slug: str
    name: str


def team_name(team: _Named | None, locale: str) -> str:
    """A team's name for a reader: a seeded team's in `locale` while unchanged, an admin's own as typed."""
    if team is None:
        return ""
    return seed_text(f"seedteam_{team.slug}", team.name, locale)
