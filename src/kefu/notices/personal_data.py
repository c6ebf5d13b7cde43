"""Personal data in notices: the text sent may name the customer or quote their case."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.notices.models import CustomerNotice
from kefu.privacy.contract import PersonalData


def _notices(ids: list[int]) -> Select[Any]:
    return select(CustomerNotice).where(CustomerNotice.customer_id.in_(ids))


DECLARATIONS = [PersonalData(CustomerNotice, {"body": "text", "recipient": "contact"}, owned_by=_notices)]
