"""Page/step reports from the web-chat widget: stored rate-limited, then checked at once for the stuck-in-flow rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.brands.models import Brand, Inbox
from kefu.care import service
from kefu.care.models import CareFlowEvent, CareOpportunity
from kefu.core.db import utcnow
from kefu.core.ratelimit import Budget, WindowLimit
from kefu.customers.models import CustomerIdentity

# The widget reports about once a minute; this leaves room for a few tabs and navigation, and stops floods.
FLOW_EVENTS_PER_MINUTE = 20
_FLOW_LIMIT = WindowLimit(CareFlowEvent.created_at, timedelta(minutes=1))


def record_flow_event(
    session: Session, inbox: Inbox, visitor_id: str, path: str, step: str, now: datetime | None = None
) -> CareOpportunity | None:
    """Store one page/step report of a widget visitor (rate-limited) and check the stuck-in-flow rule at once."""
    now = now or utcnow()
    _FLOW_LIMIT.enforce(
        session,
        [
            Budget(
                (CareFlowEvent.inbox_id == inbox.id) & (CareFlowEvent.visitor_id == visitor_id), FLOW_EVENTS_PER_MINUTE
            )
        ],
        "err_care_too_many_reports",
        now=now,
    )
    customer_id = session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.brand_id == inbox.brand_id,
            CustomerIdentity.kind == "web",
            CustomerIdentity.external_id == visitor_id,
        )
    )
    session.add(
        CareFlowEvent(
            brand_id=inbox.brand_id,
            inbox_id=inbox.id,
            customer_id=customer_id,
            visitor_id=visitor_id[:64],
            path=service.clean_path(path),
            step=step.strip()[:100],
            created_at=now,
        )
    )
    session.flush()
    brand = session.get(Brand, inbox.brand_id)
    if customer_id is None or brand is None or not service.rules_of(brand).enabled:
        return None
    return service._check_visitor(session, brand, inbox.id, visitor_id, customer_id, now)
