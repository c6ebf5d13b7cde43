"""Outreach consent: the one gate for contacting a customer about anything but the service they asked for.

Satisfaction campaigns (and any future outreach) call ``outreach_block`` before messaging a customer. Rules:

* The purpose is ``secondary_use`` (kefu.privacy consent purposes). Seed 000 describes an opt-out model — personal
  data is used for such purposes "until the person applies to stop" (直至該自然人主動申請停用) — so a customer who
  never answered may be contacted and one whose latest decision is a withdrawal may not. A brand that needs opt-in
  sets ``settings.outreach_consent = "opt_in"``: then only an explicit grant allows contact.
* Only channels that reach the customer count: email, LINE, Messenger, web chat (shown in the widget) and the API
  channel. Message-board posts and phone logs have no outbound path, so they are never "sent" to.
* A CSAT survey after a resolved case is feedback on the service the customer asked for, not outreach.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kefu.brands.models import Brand
from kefu.conversations.models import Conversation

OUTREACH_PURPOSE = "secondary_use"
DELIVERABLE_CHANNELS = frozenset({"email", "line", "messenger", "web_chat", "api"})


def consents_to_outreach(session: Session, customer_id: int, brand: Brand) -> bool:
    """True when the customer may be contacted for outreach under the brand's consent model."""
    from kefu.privacy.service import current_consents  # the consent history is the privacy package's record

    latest = current_consents(session, customer_id).get(OUTREACH_PURPOSE)
    if (brand.settings or {}).get("outreach_consent") == "opt_in":
        return bool(latest and latest.granted)
    return latest is None or bool(latest.granted)


def outreach_block(session: Session, customer_id: int, brand: Brand, conv: Conversation | None) -> str | None:
    """Why an outreach message must not go out ("no_consent", "unreachable"), or None when it may."""
    if not consents_to_outreach(session, customer_id, brand):
        return "no_consent"
    if conv is None or conv.channel not in DELIVERABLE_CHANNELS:
        return "unreachable"
    return None
