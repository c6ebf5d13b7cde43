"""Issue #14 walk through the API channel with the real ranker: identity questions and "anyone there?" are small
talk (not a hand-off), blank messages get a nudge (no miss, no review item), Taiwan's 了解 is read as zh-TW."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kefu.knowledge.commands import CreateFaq

SECRET = "walk-secret"


def _send(client: Any, jobs: Any, db: Any, ib: Any, user: str, text: str) -> Any:
    from kefu.conversations.models import Conversation, Message
    from kefu.customers.models import CustomerIdentity

    r = client.post(
        f"/api/v1/channels/api/{ib.id}/messages",
        json={"id": f"{user}-{len(text)}-{hash(text)}", "user": {"id": user}, "text": text},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert r.status_code == 202, r.text
    assert jobs.drain()
    db.expire_all()
    conv_id = db.scalar(
        select(Conversation.id)
        .join(CustomerIdentity, CustomerIdentity.customer_id == Conversation.customer_id)
        .where(CustomerIdentity.external_id == user, Conversation.brand_id == ib.brand_id)
    )
    return db.scalars(
        select(Message)
        .where(Message.conversation_id == conv_id, Message.sender_type == "bot")
        .order_by(Message.id.desc())
    ).first()


def _bank(db: Any, brand: Any) -> None:
    from kefu.knowledge.service import create_faq

    for ext, qs, answer in (
        ("pwd", ["網銀密碼忘記了怎麼辦", "網路銀行密碼要怎麼重設"], "請至網銀首頁點選忘記密碼。"),
        ("card", ["信用卡遺失怎麼辦", "卡片不見了怎麼掛失"], "請撥打掛失專線。"),
        ("fee", ["信用卡年費怎麼算", "年費多少錢"], "首年免年費。"),
    ):
        create_faq(
            db,
            None,
            CreateFaq(brand_id=brand.id, locale="zh-TW", external_id=ext, questions=qs, answer=answer, intent=ext),
        )
    db.commit()


def test_identity_questions_and_anyone_there_are_small_talk_not_a_handoff(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    from kefu.tickets.models import Ticket

    brand = make.brand(default_locale="zh-TW")
    ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot"})
    _bank(db, brand)
    cases = {
        "are you a bot?": ("robot", "en"),
        "Are you a robot": ("robot", "en"),
        "are you human?": ("robot", "en"),
        "你是真人嗎？": ("robot", "zh-TW"),
        "你是机器人吗": ("robot", "zh-CN"),
        "有人在嗎": ("greeting", "zh-TW"),
        "有人在吗？": ("greeting", "zh-CN"),
        "good night": ("goodbye", "en"),
        "Take care!": ("goodbye", "en"),
    }
    for i, (text, (kind, lang)) in enumerate(cases.items()):
        reply = _send(client, jobs, db, ib, f"id{i}", text)
        assert reply is not None and (reply.meta or {}).get("smalltalk") == kind, (text, reply and reply.meta)
        assert (reply.meta or {}).get("handoff") is None
        if lang == "en":
            assert reply.body.isascii(), reply.body
        elif lang == "zh-CN":
            assert "机器人" in reply.body or "您好" in reply.body or "小助手" in reply.body, reply.body
    assert [t.subject for t in db.scalars(select(Ticket).where(Ticket.brand_id == brand.id))] == []
    # Asking for a person still hands off, in every language.
    for i, text in enumerate(("真人", "I want to talk to a human", "转人工", "我要留言")):
        reply = _send(client, jobs, db, ib, f"human{i}", text)
        assert reply is not None and (reply.meta or {}).get("handoff") == "requested", (text, reply and reply.meta)


def test_blank_or_punctuation_only_messages_get_a_nudge_not_a_miss(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    from kefu.bot.models import BotReviewItem, BotState

    brand = make.brand(default_locale="zh-TW")
    ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot"})
    _bank(db, brand)
    for text in ("   ", "？？", "...", "\u3000"):
        reply = _send(client, jobs, db, ib, "blank", text)
        assert reply is not None and (reply.meta or {}).get("smalltalk") == "testing", (text, reply and reply.meta)
    # Four blanks in a row are no misses: no hand-off, nothing queued for review.
    state = db.scalars(select(BotState)).all()
    assert all(s.failures == 0 and s.handed_off_at is None for s in state)
    assert db.scalar(select(func.count(BotReviewItem.id)).where(BotReviewItem.brand_id == brand.id)) == 0
    # ... and the conversation still gets answers afterwards.
    reply = _send(client, jobs, db, ib, "blank", "網銀密碼忘記了怎麼辦")
    assert reply.body == "請至網銀首頁點選忘記密碼。"


def test_words_shared_by_both_scripts_follow_the_customer_locale(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    from kefu.bot.service import detect_locale

    # 了解 / 干擾 are standard in Taiwan: they do not make a message Simplified.
    assert detect_locale("了解", "zh-TW") == "zh-TW"
    assert detect_locale("我了解了，謝謝", "zh-CN") == "zh-TW"
    assert detect_locale("了解，谢谢", "zh-TW") == "zh-CN"
    assert detect_locale("干擾", "zh-TW") == "zh-TW"
    brand = make.brand(default_locale="zh-TW")
    ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot"})
    _bank(db, brand)
    reply = _send(client, jobs, db, ib, "tw", "了解")
    assert reply is not None and (reply.meta or {}).get("smalltalk")
    assert reply.body == "收到！請直接輸入您想詢問的問題。"


def test_api_inbox_with_the_bot_opens_a_case_at_handoff_not_per_greeting(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    from kefu.tickets.models import Ticket

    brand = make.brand(default_locale="zh-TW")
    admin = make.token(make.agent("admin", [brand]))
    r = client.post(
        f"/api/v1/brands/{brand.id}/inboxes",
        json={"kind": "api", "name": "bank app", "config": {"secret": SECRET}},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["bot_enabled"] is True, r.text
    ib = db.get(__import__("kefu.brands.models", fromlist=["Inbox"]).Inbox, r.json()["id"])
    client.post("/api/v1/sla/defaults", json={"brand_id": brand.id, "categories": True}, headers=admin)
    _bank(db, brand)

    def tickets() -> list[Any]:
        db.expire_all()
        return list(db.scalars(select(Ticket).where(Ticket.brand_id == brand.id)))

    # Greetings, thanks and answered questions are the bot's: no case is opened for them.
    for text in ("你好", "網銀密碼忘記了怎麼辦", "謝謝"):
        _send(client, jobs, db, ib, "c1", text)
    assert tickets() == []
    # A hand-off opens the case, titled by the real question, never a complaint.
    for text in ("你好", "早安", "我的信用卡帳單地址要怎麼改", "真人"):
        reply = _send(client, jobs, db, ib, "c2", text)
    assert (reply.meta or {}).get("handoff") == "requested"
    (ticket,) = tickets()
    assert ticket.subject == "我的信用卡帳單地址要怎麼改" and ticket.category != "complaint"
    # An inbox set to open a case per contact still does, even with the bot on.
    r = client.patch(f"/api/v1/inboxes/{ib.id}", json={"settings": {"case_policy": "first_message"}}, headers=admin)
    assert r.status_code == 200, r.text
    _send(client, jobs, db, ib, "c3", "你好")
    assert len(tickets()) == 2 and all(t.category != "complaint" for t in tickets())


def test_bot_eval_reads_the_kb_export_format_with_every_phrasing(tmp_path: Any) -> None:
    """`kefu bot eval --kb` takes what `kefu kb export` writes (CSV with alternatives, JSON {"faqs": …}): before,
    the alternatives column was ignored and the JSON export was refused."""
    import csv
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from kefu.bot.evaluation import read_kb
    from kefu.cli import app

    data = Path(__file__).parent.parent / "bot" / "data"
    short = read_kb(data / "tiny_kb.csv")
    by_id: dict[str, list[str]] = {f.id: f.questions for f in short}
    rows = [
        {
            "id": f.id,
            "locale": f.locale,
            "category": "銀行 > 常見問題",
            "question": f.questions[0],
            "alternatives": "\n".join(f.questions[1:]),
            "answer": f"<p>{f.answer}</p>",
            "format": "html",
            "published": "true",
        }
        for f in short
    ]
    rows.append({**rows[0], "id": "draft", "question": "草稿問題", "alternatives": "", "published": "false"})
    exported = tmp_path / "kb.csv"
    with exported.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    as_json = tmp_path / "kb.json"
    as_json.write_text(
        json.dumps({"faqs": [{**r, "alternatives": r["alternatives"].splitlines()} for r in rows]}, ensure_ascii=False),
        encoding="utf-8",
    )
    for path in (exported, as_json):
        got = {f.id: f.questions for f in read_kb(path)}
        assert got == by_id, path  # every phrasing, the unpublished draft left out
    result = CliRunner().invoke(
        app, ["bot", "eval", "--kb", str(as_json), "--test", str(data / "tiny_test.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["n"] == 12 and out["answered_wrong"] == 0 and out["reachable_rate"] == 1.0
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(app, ["bot", "eval", "--kb", str(bad), "--test", str(data / "tiny_test.csv")])
    assert result.exit_code == 2 and "Invalid JSON" in result.output


def test_a_huge_message_is_read_by_its_head(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, monkeypatch: Any
) -> None:
    from kefu.bot.engine import Index
    from kefu.bot.service import MAX_TURN_CHARS

    seen: list[int] = []
    real = Index.search

    def search(self: Index, text: str, k: int = 5) -> Any:
        seen.append(len(text))
        return real(self, text, k)

    monkeypatch.setattr(Index, "search", search)
    brand = make.brand(default_locale="zh-TW")
    ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot"})
    _bank(db, brand)
    text = "網銀密碼忘記了怎麼辦" + "。我真的很需要幫忙" * 16_000  # ~144,000 characters (under the 1 MB body cap)
    reply = _send(client, jobs, db, ib, "long", text)
    # The customer gets a reply; the ranker saw only the head of the message.
    assert reply is not None and seen and max(seen) <= MAX_TURN_CHARS


def test_api_channel_refuses_ids_it_cannot_store_instead_of_losing_the_message(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any
) -> None:
    brand = make.brand()
    ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot"})
    url, auth = f"/api/v1/channels/api/{ib.id}/messages", {"Authorization": f"Bearer {SECRET}"}
    for bad in (
        {"id": "m" * 201, "user": {"id": "u1"}, "text": "hi"},
        {"id": "m1", "user": {"id": "u" * 201}, "text": "hi"},
        {"id": "m1", "user": {"id": "u1"}, "thread_id": "t" * 201, "text": "hi"},
    ):
        r = client.post(url, json=bad, headers=auth)
        assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
    r = client.post(url, json={"id": "m1", "user": {"id": "u1", "name": "名" * 500}, "text": "hi"}, headers=auth)
    assert r.status_code == 202
    assert jobs.drain()
    assert _send(client, jobs, db, ib, "u1", "謝謝") is not None  # the long display name was kept, shortened


def test_a_question_during_the_first_fit_is_served_by_the_provisional_index_then_the_full_one(
    client: Any, make: Any, db: Any, jobs: Any, inbox: Any, bot_registry: Any, session_factory: Any
) -> None:
    import threading
    import time

    from kefu.bot.engine import default_factory, provisional_factory
    from kefu.knowledge.models import FaqEntry

    brand = make.brand(default_locale="zh-TW")
    ib = inbox(brand, "api", {"secret": SECRET, "initial_status": "bot"})
    gate = threading.Event()

    def slow_full_fit(docs: Any) -> Any:
        assert gate.wait(60)  # a bank-scale fit still running
        return default_factory(docs)

    # As in production: background builds with the provisional stage first.
    bot_registry.factory, bot_registry.provisional, bot_registry.background = slow_full_fit, provisional_factory, True
    _bank(db, brand)
    # The kb.changed refit starts; the test waits, no session open, while its thread reads (both use the test's
    # connection, whose savepoints must stay nested).
    started = time.monotonic()
    bot_registry.refresh(brand.id, session_factory)
    while brand.id not in bot_registry._indexes and time.monotonic() - started < 20:
        time.sleep(0.02)
    pwd = db.scalar(select(FaqEntry.id).where(FaqEntry.brand_id == brand.id, FaqEntry.external_id == "pwd"))
    assert bot_registry._indexes[brand.id].provisional  # live within seconds, the full fit still running
    reply = _send(client, jobs, db, ib, "early1", "網銀密碼忘記了怎麼辦？")  # an exact KB question
    assert bot_registry._indexes[brand.id].provisional
    assert reply is not None and (reply.meta or {}).get("faq_id") == pwd, reply and reply.meta
    # A paraphrase is offered, never answered, by the provisional index.
    reply = _send(client, jobs, db, ib, "early2", "密碼忘了")
    assert reply is not None and (reply.meta or {}).get("faq_id") is None, reply.meta
    assert pwd in (reply.meta or {}).get("clarify", []), reply.meta
    gate.set()
    deadline = time.monotonic() + 120
    while brand.id in bot_registry._building and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not bot_registry._indexes[brand.id].provisional
    reply = _send(client, jobs, db, ib, "later", "網銀密碼忘記了怎麼辦？")
    assert reply is not None and (reply.meta or {}).get("faq_id") == pwd
