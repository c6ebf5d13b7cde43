"""Correctly signed webhooks (LINE, Messenger, the API channel, PBX events) with bodies no column can hold: a 4xx, and
no inbound event, conversation or message half-stored. (Unsigned junk is refused at the signature: tests per
protocol; unparseable JSON: tests/channels/test_line_protocol.py and friends.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.channels.conftest import hub_sign, line_sign

# A text no database, file or provider can encode (a lone UTF-16 surrogate), and JSON's non-numbers.
JUNK = {
    "surrogate": '"a\\ud800b"',
    "nan": "NaN",
    "infinity": "-Infinity",
}


def _rows(db: Any) -> tuple[int, int, int]:
    from kefu.channels.models import InboundEvent
    from kefu.conversations.models import Conversation, Message

    db.expire_all()
    return tuple(  # type: ignore[return-value]
        db.scalar(select(func.count()).select_from(m)) for m in (InboundEvent, Conversation, Message)
    )


@pytest.mark.parametrize("junk", sorted(JUNK))
def test_signed_webhooks_with_unstorable_values_are_refused_whole(
    client: Any, make: Any, db: Any, inbox: Any, jobs: Any, junk: str
) -> None:
    """Each channel's webhook, signed with its own secret: 4xx, nothing stored, nothing left for a job to choke on."""
    brand = make.brand()
    value = JUNK[junk]
    line = inbox(brand, "line", {"channel_secret": "ls", "channel_access_token": "t"})
    mess = inbox(brand, "messenger", {"app_secret": "ms", "verify_token": "v", "page_access_token": "p"})
    api = inbox(brand, "api", {"secret": "api-secret-1"})
    line_body = (
        '{"destination":"U0","events":[{"type":"message","timestamp":1,"webhookEventId":"E1",'
        '"source":{"type":"user","userId":"U1"},"replyToken":"r",'
        f'"message":{{"id":"1","type":"text","text":{value}}}}}]}}'
    ).encode()
    mess_body = (
        '{"object":"page","entry":[{"id":"P","time":1,"messaging":[{"sender":{"id":"S1"},"recipient":{"id":"P"},'
        f'"timestamp":1,"message":{{"mid":"m1","text":{value}}}}}]}}]}}'
    ).encode()
    api_body = f'{{"id":"a1","user":{{"id":"u1","name":"n"}},"text":{value}}}'.encode()
    before = _rows(db)
    answers = [
        client.post(
            f"/api/v1/channels/line/{line.id}/webhook",
            content=line_body,
            headers={"X-Line-Signature": line_sign("ls", line_body), "Content-Type": "application/json"},
        ),
        client.post(
            f"/api/v1/channels/messenger/{mess.id}/webhook",
            content=mess_body,
            headers={"X-Hub-Signature-256": hub_sign("ms", mess_body), "Content-Type": "application/json"},
        ),
        client.post(
            f"/api/v1/channels/api/{api.id}/messages",
            content=api_body,
            headers={"Authorization": "Bearer api-secret-1", "Content-Type": "application/json"},
        ),
    ]
    for r in answers:
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    jobs.drain()
    assert _rows(db) == before


@pytest.mark.parametrize("junk", sorted(JUNK))
def test_a_pbx_event_with_unstorable_values_is_a_422(junk: str) -> None:
    """The PBX event parser (what the signed route calls after the signature) refuses such a body in words."""
    from kefu.channels.phone.telephony import parse
    from kefu.core.errors import InvalidInput

    body = f'{{"call_id":"c1","event":"ringing","caller":"0912345678","caller_name":{JUNK[junk]}}}'.encode()
    with pytest.raises(InvalidInput):
        parse(body)
