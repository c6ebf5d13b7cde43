"""A small KB change takes effect at the next bot turn (issue #14, item 4): the live index is patched (an overlay of
the changed FAQs) while its refit is held, a withdrawn FAQ is never answered nor offered, and the refit replaces the
patch; through the API channel, as customers reach the bot."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kefu.bot.engine import IndexRegistry, Reader
from tests.bot.test_index_refresh import _seed
from tests.bot.test_ranker import _Counting


class _Held(IndexRegistry):
    """A background registry whose refits are held (recorded, not run) until ``release``: the window in which the
    old full index would otherwise serve a changed KB."""

    def __init__(self) -> None:
        self.counting = _Counting()
        super().__init__(factory=self.counting.factory, store_dir=None, background=True, check_interval=3600.0)
        self.held: list[int] = []

    def rebuild_in_background(self, brand_id: int, reader: Reader) -> None:
        self.held.append(brand_id)

    def release(self, brand_id: int, reader: Reader) -> None:
        """Run the held refit (here, on the test's thread: the test connection is not shared with a thread)."""
        self.held = [b for b in self.held if b != brand_id]
        IndexRegistry.build(self, brand_id, reader)


@pytest.fixture
def held() -> Iterator[_Held]:
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime

    reg = _Held()
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


class _Bank:
    """A brand with the tiny bank KB, an API-channel inbox with the bot on, and a supervisor's token."""

    def __init__(self, client: Any, make: Any, db: Any, jobs: Any, reg: _Held, session_factory: Any) -> None:
        from kefu.brands.service import create_inbox

        self.client, self.db, self.jobs, self.reg, self.reader = client, db, jobs, reg, session_factory
        self.brand = make.brand()
        secret = f"s3cret-{self.brand.id}"
        self.inbox = create_inbox(
            db, self.brand, kind="api", name="app", config={"secret": secret, "initial_status": "bot"}, actor=None
        )
        _seed(db, self.brand, n=8)
        self.auth = {"Authorization": f"Bearer {secret}"}
        self.h = make.token(make.agent("supervisor", [self.brand]))
        reg.release(self.brand.id, session_factory)  # the full index of the seeded KB is live
        self.full = reg._indexes[self.brand.id]
        assert not self.full.stand_in
        self.n = 0

    def faq_id(self, external_id: str) -> int:
        from sqlalchemy import select

        from kefu.knowledge.models import FaqEntry

        return int(
            self.db.scalar(
                select(FaqEntry.id).where(FaqEntry.brand_id == self.brand.id, FaqEntry.external_id == external_id)
            )
        )

    def ask(self, text: str) -> Any:
        """One customer question through the API channel webhook; the bot's reply message."""
        from sqlalchemy import select

        from kefu.conversations.models import Message

        self.n += 1
        msg = {"id": f"q-{self.n}", "user": {"id": f"u-{self.n}"}, "text": text, "thread_id": f"t-{self.n}"}
        url = f"/api/v1/channels/api/{self.inbox.id}/messages"
        assert self.client.post(url, json={"messages": [msg]}, headers=self.auth).status_code == 202
        self.jobs.drain()
        self.db.expire_all()
        return self.db.scalars(
            select(Message)
            .where(Message.sender_type == "bot", Message.brand_id == self.brand.id)
            .order_by(Message.id.desc())
            .limit(1)
        ).one()

    def faq(self, method: str, path: str = "", **body: Any) -> Any:
        r = self.client.request(method, f"/api/v1/kb/faqs{path}", json=body or None, headers=self.h)
        assert r.status_code in (200, 201, 204), r.text
        return r


def _offered(reply: Any) -> list[int]:
    return [int(i) for i in (reply.meta or {}).get("clarify", [])] + [
        int(i) for i in [(reply.meta or {}).get("faq_id")] if i is not None
    ]


@pytest.fixture
def bank(client: Any, make: Any, db: Any, jobs: Any, held: _Held, session_factory: Any) -> _Bank:
    return _Bank(client, make, db, jobs, held, session_factory)


def test_a_withdrawn_faq_is_gone_at_the_next_turn_while_the_refit_is_held(bank: _Bank) -> None:
    card, ebank = bank.faq_id("card_installment"), bank.faq_id("ebank_password")
    assert bank.ask("請問信用卡帳單分期怎麼申請").meta["faq_id"] == card  # served by the full index
    bank.faq("PATCH", f"/{card}", is_published=False)
    bank.faq("DELETE", f"/{ebank}")
    assert bank.reg.held  # the refit is queued, not run: the full index of the old KB is what is fitted
    for text, gone in [
        ("請問信用卡帳單分期怎麼申請", card),
        ("信用卡帳單可以分期嗎", card),
        ("網銀密碼忘記了怎麼辦", ebank),
        ("忘記網銀的登入密碼", ebank),
    ]:
        reply = bank.ask(text)
        assert gone not in _offered(reply), (text, reply.body, reply.meta)
        assert "faq_id" not in reply.meta  # nor another FAQ answered in its place: the runners-up are offered
        assert reply.body not in ("card_installment", "ebank_password")
    live = bank.reg._indexes[bank.brand.id]
    assert live.base is bank.full and live.stand_in  # an overlay of the full index, not a refit
    assert bank.reg.counting.calls == 1


def test_a_new_faq_a_new_phrasing_and_an_edited_answer_work_at_once(bank: _Bank) -> None:
    r = bank.faq(
        "POST",
        brand_id=bank.brand.id,
        locale="zh-TW",
        external_id="fx_remit_fee",
        questions=["外幣匯款的手續費是多少"],
        answer="外幣匯出每筆手續費 300 元。",
    )
    new_id = int(r.json()["id"])
    loan = bank.faq_id("personal_loan_rate")
    bank.faq("PATCH", f"/{loan}", questions=["信貸利率是多少", "個人信用貸款的利息怎麼算", "信貸可以提前清償嗎"])
    mortgage = bank.faq_id("mortgage_rate")
    bank.faq("PATCH", f"/{mortgage}", answer="房屋貸款年利率 2.1% 起。")
    assert bank.reg.held and bank.reg.counting.calls == 1  # no refit ran

    reply = bank.ask("外幣匯款的手續費是多少？")
    assert (reply.meta["faq_id"], reply.body) == (new_id, "外幣匯出每筆手續費 300 元。")
    assert bank.ask("請問信貸可以提前清償嗎").meta["faq_id"] == loan
    assert bank.ask("信貸利率是多少").meta["faq_id"] == loan  # its kept phrasings still answer
    reply = bank.ask("房貸利率是多少")
    assert (reply.meta["faq_id"], reply.body) == (mortgage, "房屋貸款年利率 2.1% 起。")
    # An FAQ the change did not touch is answered by the full index as before.
    assert bank.ask("信用卡遺失要怎麼辦").meta["faq_id"] == bank.faq_id("card_lost")
    # A question close to the new FAQ but not near-exact is not answered with it.
    reply = bank.ask("匯款")
    assert reply.meta.get("faq_id") != new_id

    # After the refit: the full index of the new KB, same answers.
    bank.reg.release(bank.brand.id, bank.reader)
    live = bank.reg._indexes[bank.brand.id]
    assert not live.stand_in and live.base is None and bank.reg.counting.calls == 2
    assert bank.ask("外幣匯款的手續費是多少").meta["faq_id"] == new_id
    assert bank.ask("信貸可以提前清償嗎").meta["faq_id"] == loan
    assert bank.ask("房貸利率是多少").body == "房屋貸款年利率 2.1% 起。"


def test_after_the_refit_a_withdrawn_faq_stays_gone_and_nothing_is_saved_meanwhile(bank: _Bank, tmp_path: Any) -> None:
    bank.reg.store_dir = tmp_path
    card = bank.faq_id("card_installment")
    bank.faq("PATCH", f"/{card}", is_published=False)
    assert card not in _offered(bank.ask("請問信用卡帳單分期怎麼申請"))
    assert not list(tmp_path.glob("*.joblib"))  # the overlay is never saved as the brand's index
    bank.reg.release(bank.brand.id, bank.reader)
    assert list(tmp_path.glob("*.joblib")) and not bank.reg._indexes[bank.brand.id].stand_in
    assert card not in _offered(bank.ask("請問信用卡帳單分期怎麼申請"))


def test_a_change_in_one_brand_never_touches_another(
    client: Any, make: Any, db: Any, jobs: Any, held: _Held, session_factory: Any
) -> None:
    a = _Bank(client, make, db, jobs, held, session_factory)
    b = _Bank(client, make, db, jobs, held, session_factory)
    b_card = b.faq_id("card_installment")
    b.faq("PATCH", f"/{b_card}", is_published=False)
    b.faq("POST", brand_id=b.brand.id, locale="zh-TW", external_id="b_only", questions=["B 專屬的問題"], answer="B")
    assert b_card not in _offered(b.ask("請問信用卡帳單分期怎麼申請"))
    assert b.reg._indexes[b.brand.id].stand_in
    reply = a.ask("請問信用卡帳單分期怎麼申請")
    assert reply.meta["faq_id"] == a.faq_id("card_installment")
    assert a.reg._indexes[a.brand.id] is a.full
    assert a.ask("B 專屬的問題").meta.get("faq_id") is None


class _Gate(_Counting):
    """The full factory waits for a permit per fit (a long refit on its real background thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.permits = threading.Semaphore(0)
        self.started = threading.Semaphore(0)

    def factory(self, docs: Any) -> Any:
        self.started.release()
        assert self.permits.acquire(timeout=60)
        return super().factory(docs)


class _SteppingBack:
    """The engine's ``time`` module with a wall clock that steps an hour back at every reading (NTP, a VM restore)."""

    def __init__(self) -> None:
        self.wall = time.time()

    def time(self) -> float:
        self.wall -= 3600.0
        return self.wall

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.mark.parametrize("wall_clock", ["steady", "stepping_back"])
def test_a_refit_finishing_after_another_change_keeps_that_change(
    db: Any, make: Any, session_factory: Any, monkeypatch: pytest.MonkeyPatch, wall_clock: str
) -> None:
    """Refit 1 reads the KB, a second change comes during its fit (coalesced by ``_dirty``): when refit 1 swaps in,
    the second change stays patched on top of it until refit 2 swaps in — also when the wall clock steps back
    between the two reads (their order is the process's monotonic clock)."""
    if wall_clock == "stepping_back":
        monkeypatch.setattr("kefu.bot.engine.time", _SteppingBack())
    from kefu.bot.engine import fingerprint
    from kefu.knowledge.commands import UpdateFaq
    from kefu.knowledge.models import FaqEntry
    from kefu.knowledge.service import update_faq

    brand = make.brand()
    _seed(db, brand, n=8)
    gate = _Gate()
    reg = IndexRegistry(factory=gate.factory, store_dir=None, background=True, check_interval=3600.0)
    reader = gate.reader(session_factory)
    gate.permits.release()
    full = reg.build(brand.id, reader)
    assert not full.stand_in and gate.started.acquire(timeout=1)

    def withdraw(ext: str) -> int:
        from sqlalchemy import select

        faq = db.scalar(select(FaqEntry).where(FaqEntry.brand_id == brand.id, FaqEntry.external_id == ext))
        update_faq(db, faq, None, UpdateFaq(is_published=False))
        db.commit()
        return int(faq.id)

    def answered(text: str) -> int | None:
        top = reg.ensure(brand.id, reader).search(text, 1)
        return top[0].faq.id if top and top[0].faq is not None and top[0].score >= 0.9 else None

    card = withdraw("card_installment")
    reg.refresh(brand.id, reader)  # the kb.changed job: patch now, refit 1 on its thread
    assert gate.started.acquire(timeout=30)  # refit 1 has read the KB and is fitting
    assert answered("請問信用卡帳單分期怎麼申請") is None
    ebank = withdraw("ebank_password")
    assert answered("網銀密碼忘記了怎麼辦") is None  # the bot turn itself finds and patches the change
    assert reg._indexes[brand.id].base is full
    gate.permits.release()  # refit 1 swaps in; refit 2 (the coalesced request) starts
    assert gate.started.acquire(timeout=60)
    live = reg._indexes[brand.id]
    assert live.base is not None and live.base is not full and not live.base.stand_in  # patched on refit 1
    assert {card, ebank}.isdisjoint(live.docs)
    gate.permits.release()
    deadline = time.monotonic() + 120
    while brand.id in reg._building and time.monotonic() < deadline:
        time.sleep(0.05)
    live = reg._indexes[brand.id]
    assert not live.stand_in and live.fingerprint == fingerprint(db, brand.id) and gate.calls == 3
    assert {answered("網銀密碼忘記了怎麼辦"), answered("請問信用卡帳單分期怎麼申請")}.isdisjoint({card, ebank})


def test_a_large_withdrawal_is_hidden_at_once_until_the_provisional_index(
    db: Any, make: Any, session_factory: Any
) -> None:
    from sqlalchemy import select, update

    from kefu.bot.engine import large_change, load_docs
    from kefu.knowledge.commands import CreateFaq
    from kefu.knowledge.models import FaqEntry
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _seed(db, brand, n=8)
    for i in range(12):
        create_faq(
            db,
            None,
            CreateFaq(
                brand_id=brand.id, locale="zh-TW", external_id=f"p{i}", questions=[f"產品{i}號的年費"], answer="x"
            ),
        )
    db.commit()
    reg = _Held()
    full = reg.build(brand.id, session_factory)
    # A bulk unpublish of eleven FAQs (more than the small-change limit): hidden without a patch fit.
    db.execute(
        update(FaqEntry)
        .where(
            FaqEntry.brand_id == brand.id, FaqEntry.external_id.in_(["card_installment", *[f"p{i}" for i in range(10)]])
        )
        .values(is_published=False)
    )
    db.commit()
    assert large_change(full, load_docs(db, brand.id))
    live = reg.ensure(brand.id, session_factory)
    assert live.base is full and reg.held == [brand.id]
    card = db.scalar(
        select(FaqEntry.id).where(FaqEntry.brand_id == brand.id, FaqEntry.external_id == "card_installment")
    )
    assert card not in {c.faq.id for c in live.search("請問信用卡帳單分期怎麼申請", 5) if c.faq is not None}
    assert all(c.score < live.answer_threshold for c in live.search("產品3號的年費", 5) if c.faq is not None)


def test_the_patch_reads_with_the_turns_own_session_on_a_committed_sqlite_file(tmp_path: Any) -> None:
    """On SQLite a second session of the bot turn's thread would wait for the write lock its first one holds: the
    patch reads with the caller's session (``ensure``), and a reader inside a transaction leaves it to the thread."""
    from sqlalchemy import select

    from kefu.core.db import Database
    from kefu.knowledge.commands import UpdateFaq
    from kefu.knowledge.models import FaqEntry
    from kefu.knowledge.service import update_faq
    from tests.conftest import Factory, migrated_sqlite

    url = migrated_sqlite(tmp_path / "bot.db")
    database = Database(url)
    try:
        with database.session() as s:
            brand_id = Factory(s).brand().id
            _seed(s, type("B", (), {"id": brand_id})(), n=8)
        reg = _Held()
        full = reg.build(brand_id, database.sessionmaker)
        with database.session() as s:
            faq = s.scalar(select(FaqEntry).where(FaqEntry.brand_id == brand_id, FaqEntry.external_id == "card_lost"))
            update_faq(s, faq, None, UpdateFaq(is_published=False))
            card_lost = faq.id
            s.commit()
        reg.check_interval = 0.0
        with database.session() as s:  # a reader inside a write transaction (agent assist, a bot turn's plan)
            assert reg.get(s, brand_id, check=False) is full and reg.held
        started = time.monotonic()
        live = reg.ensure(brand_id, database.sessionmaker)  # the bot turn, before its write transaction
        assert time.monotonic() - started < 10 and live.base is full and card_lost not in live.docs
    finally:
        database.dispose()


def test_only_install_swaps_a_live_index() -> None:
    """Structural: every swap goes through ``IndexRegistry._install``, which keeps a newer overlay (a refit or a
    saved index read before a small change must not bring the changed FAQ back)."""
    import ast
    import inspect

    from kefu.bot import engine

    tree = ast.parse(inspect.getsource(engine))
    offenders = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef) or fn.name == "_install":
            continue
        for node in ast.walk(fn):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Subscript) and "_indexes" in ast.unparse(t.value):
                    offenders.append(f"{fn.name}: {ast.unparse(node)}")
    assert not offenders, offenders
