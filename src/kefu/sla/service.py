"""SLA service: the public API, re-exported from configuration (calendars, policies, contacts) and runtime.

Runtime holds per-ticket SLA state, pauses, the sweep, warnings and escalation; see kefu.sla.runtime.
"""

from __future__ import annotations

from kefu.sla.configuration import (
    PRIORITY_ALIASES,
    PRIORITY_RANK,
    active_policies,
    calendars_for,
    create_policy,
    delete_calendar,
    delete_policy,
    get_calendar,
    get_policy,
    install_defaults,
    normalize_priority,
    policy_definition,
    save_calendar,
    set_escalation_contacts,
    update_policy,
)
from kefu.sla.runtime import (
    SweepResult,
    at_risk,
    check_tier,
    known_tiers,
    mark_survey_sent,
    on_status_change,
    reach_milestone,
    recipients,
    refresh_ticket_sla,
    service_tier,
    start_ticket_sla,
    sweep,
    ticket_attributes,
    ticket_sla,
)

__all__ = [
    "PRIORITY_ALIASES",
    "PRIORITY_RANK",
    "SweepResult",
    "active_policies",
    "at_risk",
    "calendars_for",
    "check_tier",
    "create_policy",
    "delete_calendar",
    "delete_policy",
    "get_calendar",
    "get_policy",
    "install_defaults",
    "known_tiers",
    "mark_survey_sent",
    "normalize_priority",
    "on_status_change",
    "policy_definition",
    "reach_milestone",
    "recipients",
    "refresh_ticket_sla",
    "save_calendar",
    "service_tier",
    "set_escalation_contacts",
    "start_ticket_sla",
    "sweep",
    "ticket_attributes",
    "ticket_sla",
    "update_policy",
]
