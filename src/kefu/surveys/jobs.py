"""Survey jobs: send due CSAT surveys (periodic) and campaign invitations (in batches).

`surveys.send_csat` is a `@periodic` job (every 15 minutes).
"""

from __future__ import annotations

from typing import Any

from kefu.core.db import get_database
from kefu.core.jobs import job
from kefu.core.scheduler import periodic
from kefu.surveys import service
from kefu.surveys.models import SurveyCampaign


@periodic("surveys.send_csat", every=900)
def send_csat(payload: dict[str, Any]) -> None:
    """Send CSAT surveys for tickets resolved in the last 48 h, batch by batch."""
    batch = int(payload.get("batch_size", 200))
    while True:
        with get_database().session() as session:
            n = service.send_due_csat(session, limit=batch)
        if n < batch:
            return


@job("surveys.campaign_send")
def campaign_send(payload: dict[str, Any]) -> None:
    """Message a launched campaign's recipients, one committed batch at a time."""
    batch = int(payload.get("batch_size", 200))
    while True:
        with get_database().session() as session:
            campaign = session.get(SurveyCampaign, int(payload["campaign_id"]))
            if campaign is None or campaign.status != "running":
                return
            n = service.send_campaign_batch(session, campaign, batch)
        if n < batch:
            return
