"""Customer, identity and organization bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.customers.commands import UpdateCustomer, UpdateOrganization

IDENTITY_KINDS_PATTERN = "^(email|phone|line|messenger|web|api|board)$"


class IdentityIn(BaseModel):
    """A channel identity to attach."""

    kind: str = Field(pattern=IDENTITY_KINDS_PATTERN)
    external_id: str = Field(min_length=1, max_length=320)
    display_name: str | None = Field(default=None, max_length=200)


class IdentityOut(IdentityIn):
    """An attached identity."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime


class CustomerCreate(BaseModel):
    """New customer."""

    brand_id: int
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    locale: str | None = Field(default=None, pattern=r"^(zh-TW|zh-CN|en)$")
    organization_id: int | None = None
    vip: bool = False
    cumulative_spend: Decimal = Field(default=Decimal("0"), ge=0, max_digits=14, decimal_places=2)
    attributes: dict[str, Any] = Field(default_factory=dict)
    identities: list[IdentityIn] = Field(default_factory=list)


class CustomerUpdate(UpdateCustomer):
    """Partial customer change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class PurchaseIn(BaseModel):
    """A purchase that adds to cumulative spend (drives the membership tier)."""

    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    reference: str | None = Field(default=None, max_length=200)


class CustomerOut(BaseModel):
    """A customer."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    organization_id: int | None
    name: str
    email: str | None
    phone: str | None
    locale: str | None
    cumulative_spend: Decimal
    tier: int
    vip: bool
    attributes: dict[str, Any]
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime


class CustomerDetail(CustomerOut):
    """A customer with identities."""

    identities: list[IdentityOut]


class MergeIn(BaseModel):
    """Merge `source_id` into the customer in the path."""

    source_id: int


class OrganizationCreate(BaseModel):
    """New B2B organization."""

    brand_id: int
    name: str = Field(min_length=1, max_length=200)
    domain: str | None = Field(default=None, max_length=200)
    dedicated_team_id: int | None = None
    notes: str = Field(default="", max_length=2000)


class OrganizationUpdate(UpdateOrganization):
    """Partial organization change."""

    model_config = ConfigDict(extra="ignore")  # the API keeps ignoring unknown fields


class OrganizationOut(BaseModel):
    """An organization."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    brand_id: int
    name: str
    domain: str | None
    dedicated_team_id: int | None
    notes: str
    created_at: datetime
