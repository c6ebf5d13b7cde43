"""Personal data in the compensation ledger: notes may quote the customer's case; rows go with the customer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.compensation.models import Compensation
from kefu.privacy.contract import PersonalData


def _owned(ids: list[int]) -> Select[Any]:
    return select(Compensation).where(Compensation.customer_id.in_(ids))


DECLARATIONS = [PersonalData(Compensation, {"note": "text", "decision_note": "text"}, owned_by=_owned)]
