"""Tickets: the public service API, re-exported from focused modules.

taxonomy (categories, custom fields) · creation (numbering, classify → route → SLA → assign) · lifecycle (status,
updates, comments, auto-close) · links (link, merge, split) · lookup (API listing, search, feedback).
"""

from __future__ import annotations

from kefu.tickets.creation import (
    DEFAULT_MIN_CONFIDENCE,
    classification_text,
    create_ticket,
    get_ticket,
    get_ticket_by_number,
    next_number,
)
from kefu.tickets.lifecycle import (
    DEFAULT_AUTO_CLOSE_DAYS,
    TRANSITIONS,
    add_comment,
    assign_ticket,
    auto_close_resolved,
    change_status,
    change_ticket_status,
    confirm_resolution,
    list_activities,
    status_hooks,
    update_ticket,
)
from kefu.tickets.links import (
    link_tickets,
    links_of,
    merge_tickets,
    split_ticket,
    unlink,
)
from kefu.tickets.lookup import (
    SORTS,
    list_feedback,
    list_tickets,
    matching_ticket_ids,
    search_condition,
)
from kefu.tickets.taxonomy import (
    RESERVED_FIELDS,
    active_category_keys,
    category_label,
    category_labels,
    create_category,
    create_field_definition,
    get_category,
    get_field_definition,
    install_default_categories,
    list_categories,
    list_field_definitions,
    update_category,
    update_field_definition,
    validate_custom_fields,
)

__all__ = [
    "DEFAULT_AUTO_CLOSE_DAYS",
    "DEFAULT_MIN_CONFIDENCE",
    "RESERVED_FIELDS",
    "SORTS",
    "TRANSITIONS",
    "active_category_keys",
    "add_comment",
    "assign_ticket",
    "auto_close_resolved",
    "category_label",
    "category_labels",
    "change_status",
    "change_ticket_status",
    "classification_text",
    "confirm_resolution",
    "create_category",
    "create_field_definition",
    "create_ticket",
    "get_category",
    "get_field_definition",
    "get_ticket",
    "get_ticket_by_number",
    "install_default_categories",
    "link_tickets",
    "links_of",
    "list_activities",
    "list_categories",
    "list_feedback",
    "list_field_definitions",
    "list_tickets",
    "matching_ticket_ids",
    "merge_tickets",
    "next_number",
    "search_condition",
    "split_ticket",
    "status_hooks",
    "unlink",
    "update_category",
    "update_field_definition",
    "update_ticket",
    "validate_custom_fields",
]
