"""Erasure reaches every declared place: after erasing a customer no table holds their data, their files are gone."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.security.test_pii_routes import CARD, EMAIL, LINE_ID, PHONE, SECRETS, TEXT, TW_ID, _world

SRC = Path(__file__).resolve().parents[2] / "src" / "kefu"
# Column names that suggest personal data; every such column must be declared (or its table listed below).
PERSONAL_HINTS = (
    "name", "email", "phone", "contact", "body", "text", "payload", "description", "summary",
    "comment", "subject", "recipient", "filename", "external", "address", "remedy", "outcome",
)  # fmt: skip
NOT_PERSONAL = {
    # Agents, teams, brands, catalogue and configuration: staff and business data, not customers'.
    "agents", "teams", "brands", "inboxes", "kb_faqs", "kb_articles", "canned_responses", "qa_scorecards",
    "sla_calendars", "sla_policies", "sla_escalation_contacts", "ticket_categories", "ticket_field_definitions",
    "routing_rules", "survey_campaigns", "security_incidents", "password_reset_requests", "analytics_alerts",
    "audit_log", "privacy_requests", "deletion_ledger", "consent_events", "retention_policies", "qa_reviews",
    "ticket_sla", "classification_feedback", "api_tokens", "imap_cursors", "login_attempts", "periodic_runs",
    "scheduler_leases", "organizations",
    # Rollup bookkeeping: the rollup's name and how far it is complete.
    "analytics_rollup_state",
    # Durable job rows carry ids only (see every enqueue call) and are deleted when the job succeeds.
    "jobs",
    # Agents' saved console views: a view name and a filter set, staff data.
    "saved_ticket_views",
    # Follow-up rules are configuration; deadline warnings and progress lapses carry ids and times only.
    "follow_up_rules", "deadline_warnings", "progress_lapses",
    # An outage notice is the operator's text to many customers and a count; each delivery (customer_notices) is
    # declared in kefu.notices.personal_data.
    "notice_broadcasts",
    # Macros are staff-written action sets (a name, field changes, reply text with placeholders), like canned replies.
    "ticket_macros",
    # An organisation's report contacts: business addresses an admin enters for the B2B client (like
    # sla_escalation_contacts), tied to no customer record; the reports themselves hold counts and rates only.
    "org_report_settings", "org_reports",
    # A brand's mailed weekly / monthly reports: recipients are agent ids (staff), the reports counts and rates only.
    "brand_reports",
}  # fmt: skip


def test_every_personal_looking_column_is_declared() -> None:
    import kefu.registry
    from kefu.core.db import Base
    from kefu.privacy.contract import declarations

    kefu.registry.load_models()
    declared = {(d.model.__tablename__, f) for d in declarations() for f in d.fields}
    missing = []
    for table in Base.metadata.sorted_tables:
        if table.name in NOT_PERSONAL:
            continue
        for col in table.columns:
            if col.name.endswith("_id") or (table.name, col.name) in declared:
                continue
            if any(h in col.name for h in PERSONAL_HINTS):
                missing.append(f"{table.name}.{col.name}")
    assert missing == [], (
        f"declare these in the package's personal_data.py (or list the table as not personal): {missing}"
    )


def test_erasure_leaves_no_trace_in_any_table(client: Any, make: Any, db: Any, tmp_path: Path) -> None:
    from kefu.channels.models import ChannelAttachment
    from kefu.channels.storage import path_of, store
    from kefu.core.db import Base
    from kefu.privacy.service import erase_customer

    w = _world(db, make)
    row = store(db, brand_id=w["brand"].id, conversation_id=w["conversation"].id, filename=f"{TW_ID}.png",
                content_type="image/png", data=TEXT.encode())  # fmt: skip
    db.commit()
    file_path = path_of(row)
    assert file_path.exists()

    erase_customer(db, w["customer"].id, None, reason="GDPR art. 17")
    db.commit()
    db.expire_all()
    assert not file_path.exists()
    assert db.scalars(select(ChannelAttachment).where(ChannelAttachment.id == row.id)).first() is None
    skip = {"audit_log", "deletion_ledger", "privacy_requests"}  # hashes and counts only (checked below)
    found: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        for rec in db.execute(select(table)).all():
            text = repr(tuple(rec))
            hits = [s for s in (*SECRETS, "林美華") if s in text]
            if hits:
                found.setdefault(table.name, []).extend(hits)
    leftover = {k: v for k, v in found.items() if k not in skip}
    assert leftover == {}, f"personal data survived erasure: {leftover}"
    audit_hits = {h for h in found.get("audit_log", []) if h in (EMAIL, PHONE, TW_ID, CARD, LINE_ID)}
    assert not audit_hits, "the audit log must not hold customer data"


def test_declarations_live_in_their_packages() -> None:
    from kefu.privacy.contract import declarations

    for d in declarations():
        package = d.model.__module__.rsplit(".", 1)[0]
        assert (SRC.parent / Path(*package.split("."))).joinpath("personal_data.py").exists(), package
    tree = ast.parse((SRC / "privacy" / "contract.py").read_text(encoding="utf-8"))
    assert not any(isinstance(n, ast.ClassDef) and n.name != "PersonalData" for n in tree.body)
