"""An FAQ change starts the bot's refit at once (issue #14: the index builds outside any request or write
transaction, the old one serving until the new one swaps in), one fit per KB state, other processes load it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kefu.knowledge.commands import CreateFaq
from tests.bot.test_ranker import _Counting, _tiny_groups


def _seed(db: Any, brand: Any, n: int = 4) -> None:
    from kefu.knowledge.service import create_faq

    for ext, qs in _tiny_groups()[:n]:
        create_faq(db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id=ext, questions=qs, answer=ext))
    db.commit()


def test_faq_writes_and_imports_schedule_the_refit(client: Any, make: Any, db: Any, jobs: Any) -> None:
    brand = make.brand()
    h = make.token(make.agent("supervisor", [brand]))
    r = client.post(
        "/api/v1/kb/faqs",
        json={"brand_id": brand.id, "locale": "zh-TW", "questions": ["信用卡遺失怎麼辦"], "answer": "掛失"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert jobs.ran.count("bot.rebuild_index") == 1
    body = "id,locale,question,answer\r\nfee,zh-TW,年費多少,首年免年費\r\n".encode()
    r = client.post(
        "/api/v1/kb/import",
        params={"brand_id": brand.id},
        content=body,
        headers={**h, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert jobs.ran.count("bot.rebuild_index") == 2
    # An unchanged re-import changes nothing, so nothing is refitted.
    client.post(
        "/api/v1/kb/import", params={"brand_id": brand.id}, content=body, headers={**h, "Content-Type": "text/csv"}
    )
    assert jobs.ran.count("bot.rebuild_index") == 2


def test_refresh_fits_in_the_background_once_and_the_first_question_does_not_fit_again(
    db: Any, make: Any, session_factory: Any, tmp_path: Path
) -> None:
    from kefu.bot.engine import IndexRegistry

    brand = make.brand()
    _seed(db, brand)
    counting = _Counting()
    reg = IndexRegistry(factory=counting.factory, store_dir=tmp_path, background=True, check_interval=0.0)
    reader = counting.reader(session_factory)
    reg.refresh(brand.id, reader)  # what the kb.changed job does: returns at once, fits on a thread
    deadline = time.monotonic() + 120
    while brand.id in reg._building and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counting.calls == 1 and counting.open_during_fit == [False]
    # The first customer message finds the fitted index: no second fit of the same KB.
    index = reg.ensure(brand.id, reader)
    assert counting.calls == 1 and index.search("信貸利率", 1)[0].faq is not None
    assert reg.build(brand.id, reader) is index and counting.calls == 1


def test_another_process_loads_the_saved_refit_instead_of_fitting_again(
    db: Any, make: Any, session_factory: Any, tmp_path: Path
) -> None:
    from kefu.bot.engine import IndexRegistry
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _seed(db, brand)
    worker, web = _Counting(), _Counting()
    reg_worker = IndexRegistry(factory=worker.factory, store_dir=tmp_path, background=False, check_interval=0.0)
    reg_web = IndexRegistry(factory=web.factory, store_dir=tmp_path, background=False, check_interval=0.0)
    old = reg_worker.ensure(brand.id, worker.reader(session_factory))
    assert reg_web.get(db, brand.id).fingerprint == old.fingerprint and web.calls == 0  # loaded from disk
    create_faq(
        db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id="new", questions=["新問題"], answer="x")
    )
    db.commit()
    new = reg_worker.build(brand.id, worker.reader(session_factory))  # the worker's kb.changed refit
    assert worker.calls == 2 and new.fingerprint != old.fingerprint
    served = reg_web.get(db, brand.id)  # the web process notices the change and loads the worker's result
    assert served.fingerprint == new.fingerprint and web.calls == 0


def test_preview_never_fits_in_the_request_503_while_the_first_index_builds(
    client: Any, make: Any, db: Any, bot_registry: Any, monkeypatch: Any
) -> None:
    brand = make.brand()
    _seed(db, brand)
    h = make.token(make.agent("supervisor", [brand]))
    started: list[int] = []
    bot_registry.background = True  # as in production: the first fit runs on a thread (recorded here, not run)
    monkeypatch.setattr(bot_registry, "rebuild_in_background", lambda brand_id, reader: started.append(brand_id))
    r = client.post("/api/v1/bot/preview", json={"brand_id": brand.id, "text": "信貸利率多少"}, headers=h)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5", r.text
    assert r.headers["content-type"].startswith("application/problem+json") and started == [brand.id]
    bot_registry.background = False
    r = client.post("/api/v1/bot/preview", json={"brand_id": brand.id, "text": "信貸利率多少"}, headers=h)
    assert r.status_code == 200 and r.json()["candidates"], r.text


def test_first_question_waits_for_the_fit_under_way_and_does_not_fit_again(
    db: Any, make: Any, session_factory: Any, tmp_path: Path
) -> None:
    import threading

    from kefu.bot.engine import IndexRegistry
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _seed(db, brand)
    counting = _Counting()
    reg = IndexRegistry(factory=counting.factory, store_dir=None, background=True, check_interval=0.0)
    fitted = IndexRegistry(background=False).build(brand.id, counting.reader(session_factory))
    counting.calls = 0
    create_faq(  # the KB moves on while the kb.changed refit is under way
        db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id="new", questions=["新問題"], answer="x")
    )
    db.commit()
    later: list[int] = []
    reg.rebuild_in_background = lambda brand_id, reader: later.append(brand_id)  # type: ignore[method-assign]
    lock = reg._build_locks.setdefault(brand.id, threading.Lock())
    lock.acquire()  # a fit of this brand is under way on another thread

    def finish() -> None:
        time.sleep(0.3)
        reg._indexes[brand.id] = fitted
        lock.release()

    threading.Thread(target=finish).start()
    got = reg.ensure(brand.id, counting.reader(session_factory))
    # The question is answered with the index just fitted (no second fit while the customer waits), the newer KB's
    # one new FAQ patched on top of it; the newer KB is refitted in the background.
    assert got.base is fitted and "new" in {d.external_id for d in got.docs.values()}
    assert counting.calls == 0 and later == [brand.id]
