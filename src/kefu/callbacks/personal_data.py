"""Personal data in call-backs: the number to call and its digits key, the name given, the topic, the agent's note."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from kefu.callbacks.models import Callback
from kefu.privacy.contract import PersonalData


def _callbacks(ids: list[int]) -> Select[Any]:
    return select(Callback).where(Callback.customer_id.in_(ids))


DECLARATIONS = [
    PersonalData(
        Callback,
        {
            "phone": "contact",
            "phone_key": "contact",
            "requester": "identifier",
            "name": "name",
            "topic": "text",
            "note": "text",
        },
        owned_by=_callbacks,
    )
]
