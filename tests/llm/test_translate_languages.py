"""Live translation for agents (#17, seed 003 「文字實時翻譯系統」): any message, into 30 languages."""

from __future__ import annotations

import re
from typing import Any

from kefu.bot.engine import IndexRegistry
from tests.llm.server import ChatServer, Reply
from tests.llm.test_assist_api import _world


def test_agents_translate_any_message_and_drafts_into_thirty_languages(
    llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.conversations.service import add_message
    from kefu.llm.prompts import TARGETS, language
    from tests.web.test_admin_pages import _login

    assert len(TARGETS) == 30 and len(set(TARGETS)) == 30 and language("vi") == "Vietnamese"
    w = _world(db, make)
    older = w["msg"].id
    add_message(db, w["conv"], sender_type="customer", body="謝謝")
    db.commit()
    h = make.token(w["agent"])
    base = f"/api/v1/conversations/{w['conv'].id}/llm/translate"
    llm_on.script = lambda r: Reply("Cảm ơn, hoàn tiền mất 7 ngày.")
    r = client.post(base, json={"text": "退款約 7 個工作天。", "target_locale": "vi"}, headers=h)
    assert r.status_code == 200 and r.json()["locale"] == "vi", r.text
    assert "Vietnamese" in llm_on.received[-1].body["messages"][0]["content"]
    assert client.post(base, json={"text": "hi", "target_locale": "xx"}, headers=h).status_code == 422
    # Not only the latest message: an earlier one is translated by its id.
    llm_on.script = lambda r: Reply("How long does a refund take?")
    assert client.post(base, json={"message_id": older}, headers=h).json()["text"].startswith("How long")
    # The console panel offers the per-message button label and the 30 targets.
    _login(client, w["agent"])
    panel = client.get(f"/console/conversations/{w['conv'].id}/llm?lang=en")
    assert panel.status_code == 200 and 'data-translate-msg="Translate"' in panel.text
    assert len(re.findall(r'<option value="[a-zA-Z-]+">', panel.text)) == 30
