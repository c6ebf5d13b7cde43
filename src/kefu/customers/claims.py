"""Identity claims: a visitor who types an email stays a separate, unverified customer until they prove it.

The widget's pre-chat form used to attach the visitor to whichever customer owned the typed address, so anyone
could read that person's ticket status from the bot. Now the claim is only recorded on the visitor's own customer
record; a signed, expiring link mailed to the address (confirm_claim) merges the visitor into that customer.
`verified_owner` is the one check every customer-facing disclosure (bot ticket status, history, portal) uses.
Tokens are kefu.core.signing tokens (the visitor tokens' construction, their own domain; no table needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.conversations.models import Conversation, Message
from kefu.core.errors import InvalidInput
from kefu.core.signing import Signer
from kefu.customers.models import Customer, CustomerIdentity
from kefu.customers.service import add_identity, merge_customers
from kefu.privacy.service import customer_erased

CLAIM_TTL_SECONDS = 24 * 3600
_SIGNER = Signer(b"kefu-claim-v1:")


@dataclass(frozen=True, slots=True)
class Claim:
    """A verified claim: this customer record proved it controls this address."""

    brand_id: int
    customer_id: int
    kind: str
    value: str
    issued_at: int


def record_claim(session: Session, customer: Customer, kind: str, value: str) -> str:
    """Note an unverified claim on the claimant's own record; returns the token that proves it when echoed back."""
    value = value.strip().lower() if kind == "email" else value.strip()
    if not value:
        raise InvalidInput.said("err_customers_empty_claim")
    attrs = dict(customer.attributes or {})
    attrs["claimed_" + kind] = value  # shown to agents as a claim, never used to link records
    customer.attributes = attrs
    session.flush()
    return _SIGNER.sign({"b": customer.brand_id, "c": customer.id, "k": kind, "v": value})


def read_claim(token: str | None, now: float | None = None) -> Claim | None:
    """The claim inside an authentic, unexpired token (None otherwise)."""

    def read(d: dict[str, Any]) -> Claim:
        return Claim(int(d["b"]), int(d["c"]), str(d["k"]), str(d["v"]), int(d["t"]))

    return _SIGNER.unsign(token, CLAIM_TTL_SECONDS, read, now)


def confirm_claim(session: Session, token: str | None) -> Customer:
    """Apply a proven claim: the claimant joins the address's customer (or gains the address as an identity)."""
    claim = read_claim(token)
    if claim is None:
        raise InvalidInput.said("err_customers_verify_link_invalid")
    claimant = session.get(Customer, claim.customer_id)
    # An erased claimant's link is dead: confirming it would write the address back onto the erased record.
    if claimant is None or claimant.brand_id != claim.brand_id or customer_erased(session, claimant.id):
        raise InvalidInput.said("err_customers_verify_link_invalid")
    while claimant.merged_into_id is not None:  # the claimant was merged meanwhile: follow it
        nxt = session.get(Customer, claimant.merged_into_id)
        if nxt is None:
            break
        claimant = nxt
    owner_id = session.scalar(
        select(CustomerIdentity.customer_id).where(
            CustomerIdentity.brand_id == claim.brand_id,
            CustomerIdentity.kind == claim.kind,
            CustomerIdentity.external_id == claim.value,
        )
    )
    if owner_id is None:
        add_identity(session, claimant, claim.kind, claim.value, None)
        if claim.kind == "email" and not claimant.email:
            claimant.email = claim.value
        target = claimant
    elif owner_id != claimant.id:
        owner = session.get(Customer, owner_id)
        assert owner is not None
        target = merge_customers(session, owner, claimant, None)
    else:
        target = claimant
    attrs = dict(target.attributes or {})
    attrs.pop("claimed_" + claim.kind, None)
    target.attributes = attrs
    session.flush()
    record(
        session,
        None,
        "customer.claim_verified",
        target_type="customer",
        target_id=target.id,
        brand_id=target.brand_id,
        details={"kind": claim.kind, "from_customer_id": claim.customer_id},
    )
    return target


def verified_owner(session: Session, conv: Conversation, customer_id: int | None) -> bool:
    """True when the person in `conv` may see data of customer `customer_id` (bot ticket status, history…).

    The conversation must belong to that customer, and none of its customer messages may come from a sender
    whose authentication failed (a forged email From is attached to the address's owner but is not them).
    """
    if customer_id is None or conv.customer_id != customer_id:
        return False
    forged = session.scalar(
        select(Message.id)
        .where(
            Message.conversation_id == conv.id,
            Message.sender_type == "customer",
            Message.meta["unverified_sender"].as_boolean().is_(True),
        )
        .limit(1)
    )
    return forged is None
