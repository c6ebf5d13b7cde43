"""Agent assist over HTTP against a real chat-completions server: drafts, translation, permissions, console panel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kefu.bot.engine import IndexRegistry
from kefu.conversations.commands import CreateConversation
from kefu.knowledge.commands import CreateFaq
from tests.llm.server import ChatServer, Received, Reply

REFUND = "退款約 7 個工作天。"


def _world(db: Any, make: Any, customer_locale: str = "zh-TW") -> dict[str, Any]:
    from kefu.conversations.service import add_message, create_conversation
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    faq = create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            questions=["退款多久到帳"],
            answer=REFUND,
            category="refund",
            intent="refund",
            is_published=True,
        ),
    )
    cust = make.customer(brand, name="王小明", locale=customer_locale)
    conv = create_conversation(
        db, CreateConversation(brand_id=brand.id, customer_id=cust.id, channel="web_chat", status="open"), actor=None
    )
    msg, _ = add_message(db, conv, sender_type="customer", body="退款多久到帳？我的手機 0912345678")
    agent = make.agent("agent", [brand])
    db.commit()
    return {"brand": brand, "faq": faq, "conv": conv, "msg": msg, "agent": agent}


def _audit(db: Any, action: str) -> list[Any]:
    from kefu.audit.models import AuditLog

    return list(db.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_draft_is_grounded_in_the_knowledge_base(
    llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    llm_on.script = lambda r: Reply("王先生您好，退款約 7 個工作天會入帳，請您再稍候。")
    w = _world(db, make)
    r = client.post(
        f"/api/v1/conversations/{w['conv'].id}/llm/draft",
        json={"instructions": "語氣要道歉"},
        headers=make.token(w["agent"]),
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["source"] == "llm" and out["outcome"] == "ok" and out["flags"] == []
    assert out["faq_ids"] == [w["faq"].id] and out["locale"] == "zh-TW"
    sent = llm_on.received[0].raw
    assert REFUND in sent and "語氣要道歉" in sent
    assert "0912345678" not in sent and "0912***678" in sent
    (entry,) = _audit(db, "llm.draft_reply")
    assert entry.actor_id == w["agent"].id and entry.details["outcome"] == "ok"
    assert "0912" not in str(entry.details)


def test_draft_flags_unsupported_numbers_and_falls_back_to_kb(
    llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    w = _world(db, make)
    h = make.token(w["agent"])
    url = f"/api/v1/conversations/{w['conv'].id}/llm/draft"
    llm_on.script = lambda r: Reply("退款約 3 天就會到帳。")
    out = client.post(url, json={}, headers=h).json()
    assert out["source"] == "llm" and out["flags"] == ["number"]  # the agent is told to check it
    llm_on.script = lambda r: Reply(status=502)
    out = client.post(url, json={}, headers=h).json()
    assert out == {
        "text": REFUND,
        "source": "kb",
        "locale": "zh-TW",
        "outcome": "error",
        "flags": [],
        "faq_ids": [w["faq"].id],
    }


def test_translate_customer_message_into_the_agents_language(
    llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    seen: list[Received] = []

    def script(r: Received) -> Reply:
        seen.append(r)
        return Reply("How long does a refund take? My mobile is 0912***678")

    llm_on.script = script
    w = _world(db, make)
    w["agent"].locale = "en"
    db.commit()
    r = client.post(
        f"/api/v1/conversations/{w['conv'].id}/llm/translate",
        json={"message_id": w["msg"].id},
        headers=make.token(w["agent"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["text"].startswith("How long") and r.json()["locale"] == "en" and r.json()["flags"] == []
    assert "English" in seen[0].body["messages"][0]["content"]
    assert "0912345678" not in seen[0].raw


def test_translate_draft_into_the_customers_language(
    llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    from kefu.conversations.service import add_message

    w = _world(db, make, customer_locale="zh-CN")
    add_message(db, w["conv"], sender_type="customer", body="退款什么时候到账？")  # the customer writes Simplified
    db.commit()
    llm_on.script = lambda r: Reply("退款約 7 個工作天。")  # Traditional output is converted for a zh-CN customer
    r = client.post(
        f"/api/v1/conversations/{w['conv'].id}/llm/translate",
        json={"text": "Refunds take about seven working days."},
        headers=make.token(w["agent"]),
    )
    out = r.json()
    assert out["locale"] == "zh-CN" and out["text"] == "退款约 7 个工作天。" and out["flags"] == []
    assert "Simplified Chinese" in llm_on.received[0].body["messages"][0]["content"]


def test_permissions_brand_access_and_validation(
    llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    w = _world(db, make)
    base = f"/api/v1/conversations/{w['conv'].id}/llm"
    other = make.agent("agent", [make.brand()])
    assert client.post(f"{base}/draft", json={}, headers=make.token(other)).status_code == 404
    auditor = make.agent("auditor", [w["brand"]])
    assert client.post(f"{base}/draft", json={}, headers=make.token(auditor)).status_code == 403
    read_only = make.token(w["agent"], scopes=["conversations:read"])
    assert client.post(f"{base}/draft", json={}, headers=read_only).status_code == 403
    assert client.post(f"{base}/translate", json={"message_id": w["msg"].id}, headers=read_only).status_code == 200
    h = make.token(w["agent"])
    both = client.post(f"{base}/translate", json={"message_id": w["msg"].id, "text": "hi"}, headers=h)
    assert both.status_code == 422 and both.headers["content-type"].startswith("application/problem+json")
    foreign = _world(db, make)
    missing = client.post(f"{base}/translate", json={"message_id": foreign["msg"].id}, headers=h)
    assert missing.status_code == 404
    assert client.post(f"{base}/draft", json={}).status_code == 401


def test_off_by_default_api_refuses_and_console_hides_the_panel(
    chat_server: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry
) -> None:
    w = _world(db, make)
    h = make.token(w["agent"])
    assert client.get("/api/v1/llm/status", headers=h).json() == {"enabled": False, "model": None}
    r = client.post(f"/api/v1/conversations/{w['conv'].id}/llm/draft", json={}, headers=h)
    assert r.status_code == 409 and "KEFU_LLM_BASE_URL" in r.json()["detail"]
    login = client.post("/api/v1/auth/login", json={"email": w["agent"].email, "password": "correct horse 1"})
    assert login.status_code == 200
    panel = client.get(f"/console/conversations/{w['conv'].id}/llm")
    assert panel.status_code == 200 and panel.text == ""
    assert chat_server.received == []


def test_console_panel_and_script(llm_on: ChatServer, client: Any, db: Any, make: Any, registry: IndexRegistry) -> None:
    w = _world(db, make)
    login = client.post("/api/v1/auth/login", json={"email": w["agent"].email, "password": "correct horse 1"})
    csrf = login.json()["csrf_token"]
    page = client.get(f"/console/conversations/{w['conv'].id}?lang=en")
    assert page.status_code == 200
    assert 'src="/static/llm.js" defer></script>' in page.text
    panel = client.get(f"/console/conversations/{w['conv'].id}/llm?lang=en")
    assert 'data-llm="draft"' in panel.text and "Draft a reply" in panel.text and "<script" not in panel.text
    zh = client.get(f"/console/conversations/{w['conv'].id}/llm?lang=zh-CN")
    assert "AI 起草回复" in zh.text
    js = client.get("/static/llm.js")
    assert js.status_code == 200 and "X-CSRF-Token" in js.text and "innerHTML" not in js.text
    # The button's request: the session cookie plus the CSRF header, as llm.js sends it.
    llm_on.script = lambda r: Reply(REFUND)
    r = client.post(f"/api/v1/conversations/{w['conv'].id}/llm/draft", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["text"] == REFUND
    assert client.post(f"/api/v1/conversations/{w['conv'].id}/llm/draft", json={}).status_code == 403
