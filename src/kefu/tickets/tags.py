"""What a ticket tag is called on a page: the tags kefu itself sets, in the reader's locale; free tags as typed."""

from __future__ import annotations

from kefu.core.catalog import gettext

# Every tag the product sets on a ticket (bot hand-off and its reasons, complaints, care, follow-ups) -> catalog key.
# Tags customers and agents type are not here and are shown as typed; the stored value never changes.
SYSTEM_TAGS: dict[str, str] = {
    "bot-handoff": "tag_bot_handoff",
    "requested": "tag_requested",
    "anger": "tag_anger",
    "unresolved": "tag_unresolved",
    "vip": "tag_vip",
    "complaint": "tag_complaint",
    "complaint:normal": "tag_complaint_normal",
    "complaint:dispute": "tag_complaint_dispute",
    "complaint:major": "tag_complaint_major",
    "regulator": "tag_regulator",
    "coordination_meeting": "tag_coordination_meeting",
    "care": "tag_care",
    "follow-up": "tag_follow_up",
}


def tag_label(tag: str, locale: str) -> str:
    """A tag as a reader sees it: a system tag's label in `locale`, any other tag exactly as typed."""
    key = SYSTEM_TAGS.get(str(tag))
    return gettext(key, locale) if key else str(tag)
