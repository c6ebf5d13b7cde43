"""Identity claims: a visitor who types an email stays a separate, unverified customer until they prove it.

The widget's pre-chat form used to attach the visitor to whichever customer owned the typed address, so anyone
could read that person's ticket status from the bot. Now the claim is only recorded on the visitor's own customer
record; a signed, expiring link mailed to the address (confirm_claim) merges the visitor into that customer.
`verified_owner` is the one check every customer-facing disclosure (bot ticket status, history, portal) uses.
Tokens are HMACs under the install secret (same construction as visitor tokens; no table needed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.conversations.models import Conversation, Message
from kefu.core.config import get_settings
from kefu.core.errors import InvalidInput
from kefu.customers.models import Customer, CustomerIdentity
from kefu.customers.service import add_identity, merge_customers

CLAIM_TTL_SECONDS = 24 * 3600
_DOMAIN = b"kefu-claim-v1:"


@dataclass(frozen=True, slots=True)
class Claim:
    """A verified claim: this customer record proved it controls this address."""

    brand_id: int
    customer_id: int
    kind: str
    value: str
    issued_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _sign(body: str) -> str:
    key = get_settings().secret_key.encode()
    return _b64(hmac.new(key, _DOMAIN + body.encode("ascii"), hashlib.sha256).digest())


def record_claim(session: Session, customer: Customer, kind: str, value: str) -> str:
    """Note an unverified claim on the claimant's own record; returns the token that proves it when echoed back."""
    value = value.strip().lower() if kind == "email" else value.strip()
    if not value:
        raise InvalidInput("Empty identity claim.")
    attrs = dict(customer.attributes or {})
    attrs["claimed_" + kind] = value  # shown to agents as a claim, never used to link records
    customer.attributes = attrs
    session.flush()
    payload = {"b": customer.brand_id, "c": customer.id, "k": kind, "v": value, "t": int(time.time())}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_sign(body)}"


def read_claim(token: str | None, now: float | None = None) -> Claim | None:
    """The claim inside an authentic, unexpired token (None otherwise)."""
    if not token or token.count(".") != 1:
        return None
    body, sig = token.split(".")
    try:
        if not hmac.compare_digest(_sign(body), sig):
            return None
        d: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claim = Claim(int(d["b"]), int(d["c"]), str(d["k"]), str(d["v"]), int(d["t"]))
    except (ValueError, KeyError, TypeError, UnicodeError):
        return None
    if (now or time.time()) - claim.issued_at > CLAIM_TTL_SECONDS:
        return None
    return claim


def confirm_claim(session: Session, token: str | None) -> Customer:
    """Apply a proven claim: the claimant joins the address's customer (or gains the address as an identity)."""
    claim = read_claim(token)
    if claim is None:
        raise InvalidInput("This verification link is invalid or has expired.")
    claimant = session.get(Customer, claim.customer_id)
    if claimant is None or claimant.brand_id != claim.brand_id:
        raise InvalidInput("This verification link is invalid or has expired.")
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
