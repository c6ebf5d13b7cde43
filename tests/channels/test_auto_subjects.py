"""Automatic subjects and call summaries are written once, in the brand's default language (kefu.brands.texts)."""

from __future__ import annotations

from typing import Any

import pytest

CASES = {
    "zh-TW": ("電話來電", "📞 來電 3:05 · 待追蹤", "預約回電：退款"),
    "zh-CN": ("电话来电", "📞 来电 3:05 · 待跟进", "预约回电：退款"),
    "en": ("Incoming call", "📞 Incoming call 3:05 · follow-up", "Call-back: 退款"),
}


@pytest.mark.parametrize("locale", list(CASES))
def test_call_subject_and_summary_in_the_brand_language(client: Any, make: Any, db: Any, locale: str) -> None:
    from kefu.conversations.models import Conversation
    from kefu.tickets.models import Ticket

    subject, summary, _ = CASES[locale]
    brand = make.brand(default_locale=locale)
    h = make.token(make.agent("agent", [brand]))
    call = {
        "brand_id": brand.id,
        "phone": "+886912345678",
        "direction": "inbound",
        "duration_seconds": 185,
        "outcome": "follow_up",
    }
    r = client.post("/api/v1/channels/phone/calls", json=call, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["message"]["body"] == summary
    conv = db.get(Conversation, r.json()["conversation_id"])
    assert conv.subject == subject
    ticket = db.get(Ticket, conv.ticket_id) if conv.ticket_id else None
    assert ticket is None or ticket.subject == subject
    assert " / " not in subject


@pytest.mark.parametrize("locale", list(CASES))
def test_callback_subject_in_the_brand_language(db: Any, make: Any, locale: str) -> None:
    from kefu.callbacks.service import _subject

    assert _subject(locale, "phone", "退款") == CASES[locale][2]
    assert " / " not in _subject(locale, "video", "")


def test_channel_fallback_subjects_exist_in_every_locale() -> None:
    from kefu.core.catalog import table
    from kefu.tickets.intake import _SUBJECT_CHANNELS

    for locale in ("zh-TW", "zh-CN", "en"):
        for channel in _SUBJECT_CHANNELS:
            assert f"subj_{channel}" in table(locale), (locale, channel)
