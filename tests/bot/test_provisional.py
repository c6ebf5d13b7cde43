"""The provisional index (issue #14: index lifecycle at bank scale): a brand without a usable index gets a quick,
conservative index at once, served while the full ranker fits, then swapped out; it never answers a guess."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kefu.bot import smalltalk
from kefu.bot.nlu.provisional import ProvisionalRanker
from tests.bot.test_index_refresh import _seed
from tests.bot.test_ranker import _Counting, _tiny_groups

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick() -> ProvisionalRanker:
    return ProvisionalRanker(strict_prefix=smalltalk.PREFIX).fit(_tiny_groups())


@pytest.mark.parametrize(
    ("text", "key", "confidence"),
    [
        ("請問信用卡帳單分期怎麼申請", "card_installment", 1.0),  # exact KB question
        ("请问信用卡账单分期怎么申请？", "card_installment", 1.0),  # other script, punctuation
        ("信用卡帳單分期怎麼申請", "card_installment", 0.95),  # near-exact: one word dropped
        ("信貸的利率多少", "personal_loan_rate", 0.95),
        ("你好", "smalltalk:greeting", 1.0),
        ("謝謝你", "smalltalk:thanks", 1.0),
    ],
)
def test_exact_and_near_exact_questions_are_answered(
    quick: ProvisionalRanker, text: str, key: str, confidence: float
) -> None:
    hit = quick.search(text, 3)[0]
    assert (hit.key, hit.confidence) == (key, confidence)
    assert hit.confidence >= quick.answer_threshold_


def test_anything_else_is_offered_never_answered(quick: ProvisionalRanker) -> None:
    # 外幣 vs 臺幣 accounts share most characters: neither is near-exact with a clear lead, so both are offered.
    hits = quick.search("我要開外幣帳戶", 3)
    assert hits[0].key == "fx_account" and "twd_account" in [h.key for h in hits]
    assert quick.clarify_threshold_ <= hits[0].confidence < quick.answer_threshold_
    # A question the KB does not cover gets options at most, never an answer or small talk.
    top = quick.search("收不到驗證碼", 3)[0]
    assert top.confidence < quick.answer_threshold_ and not top.key.startswith(smalltalk.PREFIX)


def test_provisional_features_skip_word_segmentation() -> None:
    from kefu.bot.nlu.features import analyze
    from kefu.bot.nlu.provisional import PROVISIONAL_FEATURES

    words, han, _, pairs, pinyin = analyze("信用卡帳單分期", PROVISIONAL_FEATURES)
    assert words == [] and pairs == [] and pinyin == [] and "帳單" in han


class _Gated(_Counting):
    """The full factory waits for ``release`` (a long fit), recording that the provisional index served meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = threading.Event()

    def factory(self, docs: Any) -> Any:
        self.started.set()
        assert self.release.wait(60)
        return super().factory(docs)


def test_first_question_gets_the_provisional_index_while_the_full_one_fits_then_the_swap(
    db: Any, make: Any, session_factory: Any, tmp_path: Path
) -> None:
    from kefu.bot.engine import IndexRegistry, provisional_factory

    brand = make.brand()
    _seed(db, brand, n=8)
    gated = _Gated()
    reg = IndexRegistry(
        factory=gated.factory, provisional=provisional_factory, store_dir=tmp_path, background=True, check_interval=0.0
    )
    reader = gated.reader(session_factory)
    started = time.monotonic()
    index = reg.ensure(brand.id, reader)  # the first customer question of a new brand
    waited = time.monotonic() - started
    assert index.provisional and waited < 10, waited  # did not wait for the (blocked) full fit
    assert gated.started.wait(10) and gated.calls == 0
    top = index.search("請問信用卡帳單分期怎麼申請", 1)[0]
    assert top.faq is not None and top.faq.external_id == "card_installment" and top.score == 1.0
    assert index.answer_threshold == 0.9 and not list(tmp_path.glob("*.joblib"))  # a provisional index is not saved
    # A second question during the fit is served by the same provisional index, without a second fit.
    assert reg.ensure(brand.id, reader) is index
    gated.release.set()
    deadline = time.monotonic() + 120
    while brand.id in reg._building and time.monotonic() < deadline:  # swapped, then saved
        time.sleep(0.05)
    full = reg._indexes[brand.id]
    assert not full.provisional and full.fingerprint == index.fingerprint and gated.calls == 1
    assert gated.open_during_fit == [False] and list(tmp_path.glob("*.joblib"))
    assert reg.ensure(brand.id, reader) is full


def test_a_small_change_keeps_the_full_index_a_large_one_serves_a_provisional(
    db: Any, make: Any, session_factory: Any
) -> None:
    from kefu.bot.engine import IndexRegistry, large_change, load_docs
    from kefu.knowledge.commands import CreateFaq
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _seed(db, brand, n=8)
    reg = IndexRegistry(background=False, check_interval=0.0)
    live = reg.build(brand.id, _Counting().reader(session_factory))
    assert not live.provisional
    create_faq(
        db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id="x0", questions=["新問題"], answer="x")
    )
    db.commit()
    assert not large_change(live, load_docs(db, brand.id))  # one FAQ: the full index keeps serving its refit
    for i in range(1, 12):
        create_faq(
            db,
            None,
            CreateFaq(brand_id=brand.id, locale="zh-TW", external_id=f"x{i}", questions=[f"新問題{i}"], answer="x"),
        )
    db.commit()
    assert large_change(live, load_docs(db, brand.id))  # an import of a dozen FAQs: the live index does not know them
    assert large_change(None, [])


def test_a_brand_override_does_not_lower_a_provisional_threshold() -> None:
    from kefu.bot.policy import BotSettings, thresholds

    settings = BotSettings(answer_threshold=0.4, clarify_threshold=0.1)
    assert thresholds(settings, 0.9, 0.2, stand_in=True) == (0.9, 0.2)
    # A stricter override still applies to a stand-in (provisional or patched) index.
    assert thresholds(BotSettings(answer_threshold=0.97), 0.9, 0.2, stand_in=True) == (0.97, 0.2)
    assert thresholds(settings, 0.9, 0.2) == (0.4, 0.1)


def test_refresh_requests_during_a_fit_refit_once_more_after_it(
    db: Any, make: Any, session_factory: Any, tmp_path: Path
) -> None:
    from kefu.bot.engine import IndexRegistry, fingerprint
    from kefu.knowledge.commands import CreateFaq
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _seed(db, brand)
    gated = _Gated()
    reg = IndexRegistry(factory=gated.factory, store_dir=None, background=True, check_interval=3600.0)
    reader = gated.reader(session_factory)
    reg.refresh(brand.id, reader)
    assert gated.started.wait(10)
    create_faq(  # an FAQ written during the fit: its kb.changed refresh is coalesced, not lost
        db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id="new", questions=["新問題"], answer="x")
    )
    db.commit()
    reg.refresh(brand.id, reader)
    gated.release.set()
    deadline = time.monotonic() + 120
    while brand.id in reg._building and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gated.calls == 2 and reg._indexes[brand.id].fingerprint == fingerprint(db, brand.id)


@pytest.mark.slow
def test_provisional_stage_answers_few_wrong_on_development_splits() -> None:
    """SMP2017 train → dev and HWU64 train → valid (``bot_ranker.py --provisional``): the provisional stage answers
    ≤ 3 % wrong and keeps the right FAQ reachable (answered or offered) as often as the full ranker does."""
    import sys

    root = next(
        (
            Path(c)
            for c in (os.environ.get("KEFU_DATASETS"), ROOT.parent / "shared" / "datasets", "/work/shared/datasets")
            if c and (Path(c) / "smp2017_ecdt_task1" / "dev.csv").is_file() and (Path(c) / "hwu64").is_dir()
        ),
        None,
    )
    if root is None:
        pytest.skip("shared datasets not available")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bot_ranker

    smp = bot_ranker.evaluate(
        *bot_ranker._intents(root, "smp2017_ecdt_task1/train.csv", "smp2017_ecdt_task1/dev.csv"),
        {"provisional": True},
    )
    hwu = bot_ranker.evaluate(*bot_ranker._intents(root, "hwu64/train.csv", "hwu64/valid.csv"), {"provisional": True})
    assert smp["wrong"] <= 3.0 and hwu["wrong"] <= 3.0  # measured 0.26 / 0.46
    assert smp["reachable"] >= 94.0 and hwu["reachable"] >= 94.0  # measured 96.75 / 95.63


def test_a_provisional_index_follows_every_change_before_the_next_full_fit(
    db: Any, make: Any, session_factory: Any
) -> None:
    from kefu.bot.engine import IndexRegistry, default_factory, fingerprint, load_docs, provisional_factory

    brand = make.brand()
    _seed(db, brand, n=8)
    docs = load_docs(db, brand.id)
    served: list[Any] = []

    def full(docs: Any) -> Any:
        served.append(reg._indexes[brand.id])  # what customers get while this fit runs
        return default_factory(docs)

    reg = IndexRegistry(factory=full, provisional=provisional_factory, background=True, check_interval=3600.0)
    reg._provisional(brand.id, "earlier", docs[:7])  # FAQs created one call at a time: one more since this one
    reg.build(brand.id, _Counting().reader(session_factory))
    assert served[0].provisional and served[0].fingerprint == fingerprint(db, brand.id)
    assert len(served[0].docs) == len(docs)  # refitted for a single new FAQ: a provisional fit is cheap
    assert not reg._indexes[brand.id].provisional


class _Asker:
    """A brand with the tiny bank KB behind an API-channel inbox (bot on): customer questions as webhooks."""

    def __init__(self, client: Any, make: Any, db: Any, jobs: Any) -> None:
        from kefu.brands.service import create_inbox

        self.client, self.db, self.jobs = client, db, jobs
        self.brand = make.brand()
        secret = f"s3cret-{self.brand.id}"
        self.inbox = create_inbox(
            db, self.brand, kind="api", name="app", config={"secret": secret, "initial_status": "bot"}, actor=None
        )
        _seed(db, self.brand, n=8)
        self.auth = {"Authorization": f"Bearer {secret}"}
        self.n = 0

    def ask(self, text: str) -> tuple[Any, float]:
        """The bot's reply to one question and the seconds from the webhook to the reply."""
        from sqlalchemy import select

        from kefu.conversations.models import Message

        self.n += 1
        msg = {"id": f"q-{self.n}", "user": {"id": f"u-{self.n}"}, "text": text, "thread_id": f"t-{self.n}"}
        started = time.monotonic()
        r = self.client.post(
            f"/api/v1/channels/api/{self.inbox.id}/messages", json={"messages": [msg]}, headers=self.auth
        )
        assert r.status_code == 202, r.text
        self.jobs.drain()
        took = time.monotonic() - started
        self.db.expire_all()
        reply = self.db.scalars(
            select(Message)
            .where(Message.sender_type == "bot", Message.brand_id == self.brand.id)
            .order_by(Message.id.desc())
            .limit(1)
        ).one()
        return reply, took


@pytest.mark.parametrize("release_after", [0.5, None])
def test_a_question_the_provisional_index_can_only_offer_waits_a_bounded_time_for_the_full_fit(
    client: Any, make: Any, db: Any, jobs: Any, session_factory: Any, release_after: float | None
) -> None:
    """Right after an import the provisional index serves; "我要開外幣帳戶" gets only options from it (外幣 vs 臺幣)
    but an answer from the full ranker. The bot turn waits for the full fit (no session open) up to
    ``bot_fit_wait_seconds``: the customer gets the answer when the fit ends in time, else the options, late by at
    most the wait; an exact KB question is answered by the provisional index at once."""
    from kefu.bot.engine import INDEX_REGISTRY, IndexRegistry, provisional_factory
    from kefu.core import runtime

    gated = _Gated()
    wait = 6.0 if release_after is None else 60.0  # the "no wait" bound is wait / 2: loaded CI took 1.4 s
    reg = IndexRegistry(
        factory=gated.factory, provisional=provisional_factory, store_dir=None, background=True, fit_wait=wait
    )
    asker = _Asker(client, make, db, jobs)  # seeded first: the KB's own refit would read beside the test's requests
    with runtime.override(INDEX_REGISTRY, reg):
        reply, took = asker.ask("請問信用卡帳單分期怎麼申請")  # exact: the provisional index answers, no wait
        assert reply.meta.get("faq_id") is not None and took < wait / 2 and gated.calls == 0, (reply.meta, took)
        assert gated.started.wait(10)
        if release_after is not None:
            threading.Timer(release_after, gated.release.set).start()
        reply, took = asker.ask("我要開外幣帳戶")
        if release_after is None:  # the fit outlasts the wait: options from the provisional index, bounded delay
            assert reply.meta.get("clarify") and "faq_id" not in reply.meta, reply.meta
            assert wait <= took < wait + 10, took
            gated.release.set()
        else:  # the fit ends within the wait: the full index answers
            assert not reply.meta.get("clarify") and reply.meta.get("faq_id") is not None, reply.meta
            assert release_after <= took < wait, took
            assert gated.calls == 1
        deadline = time.monotonic() + 60
        while asker.brand.id in reg._building and time.monotonic() < deadline:
            time.sleep(0.05)


def test_near_exact_floor_answers_a_near_exact_question_only_when_both_rankers_agree() -> None:
    """The full ranker's curve is unsure of a KB question with a character missing; the floor raises its first hit
    to the answer threshold when the provisional ranker finds it near-exact to the same FAQ, and nothing else."""
    from kefu.bot.nlu.provisional import near_exact_floor, near_exact_ranker
    from kefu.bot.nlu.ranker import Ranked

    quick = near_exact_ranker(smalltalk.PREFIX).fit(_tiny_groups())
    text = "信用卡帳單分期怎麼申請"  # the KB question without 請問
    unsure = [Ranked("card_installment", 0.41, 1.2, "請問信用卡帳單分期怎麼申請"), Ranked("card_lost", 0.2, 0.5, "")]
    raised = near_exact_floor(unsure, text, quick, 0.8, smalltalk.PREFIX)
    assert [(h.key, h.confidence) for h in raised] == [("card_installment", 0.8), ("card_lost", 0.2)]
    # The full ranker put another FAQ first: the rankers disagree, nothing is answered.
    other = [Ranked("card_lost", 0.41, 1.2, ""), Ranked("card_installment", 0.3, 1.0, "")]
    assert near_exact_floor(other, text, quick, 0.8, smalltalk.PREFIX) == other
    # Not near-exact (外幣 vs 臺幣 share most characters: no clear lead), small talk, already confident: unchanged.
    fx = [Ranked("fx_account", 0.5, 1.0, "")]
    assert near_exact_floor(fx, "我要開外幣帳戶", quick, 0.8, smalltalk.PREFIX) == fx
    hi = [Ranked("smalltalk:greeting", 0.5, 1.0, "")]
    assert near_exact_floor(hi, "你好", quick, 0.8, smalltalk.PREFIX) == hi
    sure = [Ranked("card_installment", 0.9, 1.0, "")]
    assert near_exact_floor(sure, text, quick, 0.8, smalltalk.PREFIX) == sure
    assert near_exact_floor(unsure, text, None, 0.8, smalltalk.PREFIX) == unsure


def test_the_served_index_has_the_floor_and_an_index_saved_without_it_still_serves() -> None:
    from kefu.bot.engine import FaqDoc, _RankerAdapter, default_factory

    docs = [
        FaqDoc(id=i, locale="zh-TW", questions=tuple(qs), answer=key, intent=None, category=None, external_id=key)
        for i, (key, qs) in enumerate(_tiny_groups()[:8], 1)
    ]
    served = default_factory(docs)
    assert isinstance(served, _RankerAdapter) and served.near is not None
    old = _RankerAdapter.__new__(_RankerAdapter)  # as unpickled from a file saved before the floor existed
    old.__dict__.update({k: v for k, v in served.__dict__.items() if k != "near"})
    assert old.search("請問信用卡帳單分期怎麼申請", 3)[0][1] == 1.0


def test_the_stand_in_check_reads_without_the_sqlite_write_turn(tmp_path: Path) -> None:
    """Deciding whether to wait for the full fit only reads: on SQLite it must not take the write turn (BEGIN
    IMMEDIATE, the WriterGate), or every bot turn of the provisional stage would plan while blocking all writers,
    and fail with "database is locked" while another writer holds the database."""
    import sqlite3

    from kefu.bot.engine import IndexRegistry
    from kefu.bot.service import _stand_in_falls_short
    from kefu.core.db import Database
    from tests.conftest import migrated_sqlite

    url = migrated_sqlite(tmp_path / "bot.db")
    database = Database(url, write_wait=0.3)
    other = sqlite3.connect(str(tmp_path / "bot.db"), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the database
        started = time.monotonic()
        assert _stand_in_falls_short(database.sessionmaker, 1, 1, IndexRegistry(store_dir=None)) is False
        assert time.monotonic() - started < 0.3
    finally:
        other.rollback()
        other.close()
        database.dispose()


def test_folded_floor_forgives_homophone_typos_and_courtesy_words_but_not_a_sibling_faq() -> None:
    """Round 15: the folded near-exact ranker compares pinyin syllables of the question without its courtesy words,
    so "請問網銀密馬忘計了怎麼辦" (馬 for 碼, 計 for 記, a courtesy head) is near-exact to its FAQ, while 外幣 vs
    臺幣 (different readings) still has no clear lead and is not answered by the floor."""
    from kefu.bot.nlu.provisional import near_exact_floor, near_exact_ranker
    from kefu.bot.nlu.ranker import Ranked

    singles = [(k, p[:1]) for k, p in _tiny_groups() if not k.startswith(smalltalk.PREFIX)] + smalltalk.groups()
    quick = near_exact_ranker(smalltalk.PREFIX).fit(singles)
    folded = near_exact_ranker(smalltalk.PREFIX, folded=True).fit(singles)
    text = "請問網銀密馬忘計了怎麼辦"
    assert quick.search(text, 1)[0].confidence < quick.answer_threshold_  # characters alone: not near-exact
    hit = folded.search(text, 1)[0]
    assert (hit.key, hit.confidence >= folded.answer_threshold_) == ("ebank_password", True)
    unsure = [Ranked("ebank_password", 0.3, 1.0, ""), Ranked("card_lost", 0.1, 0.2, "")]
    assert near_exact_floor(unsure, text, quick, 0.8, smalltalk.PREFIX) == unsure
    raised = near_exact_floor(unsure, text, quick, 0.8, smalltalk.PREFIX, folded)
    assert [(h.key, h.confidence) for h in raised] == [("ebank_password", 0.8), ("card_lost", 0.1)]
    # A sibling question: one decisive word differs in sound too, so the lead is not clear.
    fx = [Ranked("fx_account", 0.3, 1.0, "")]
    assert folded.search("如何開立外幣帳戶呢", 1)[0].key == "fx_account"
    assert near_exact_floor(fx, "請問要開立外幣的帳戶", quick, 0.8, smalltalk.PREFIX, folded) == fx
    # A ranker saved before round 15 (no ``folded`` / ``guard`` attributes) ranks as the character ranker did.
    plain = ProvisionalRanker(near=quick.near, margin=quick.margin, strict_prefix=smalltalk.PREFIX).fit(singles)
    old = ProvisionalRanker.__new__(ProvisionalRanker)
    old.__dict__.update({k: v for k, v in plain.__dict__.items() if k not in ("folded", "guard", "_common")})
    assert old.search(text, 1) == plain.search(text, 1)


def test_served_floor_answers_a_typo_and_a_code_switched_question_but_not_an_uncovered_sibling() -> None:
    """Round 15, through the served adapter: with a full ranker that ranks right but is unsure (the single-phrasing
    regime: E.SUN rewrites top-1 99 %, answered 28 %), a homophone-typo question and a code-switched one with a typo
    are answered; a question about 臺幣 accounts, which this KB does not cover, is not answered with its 外幣
    sibling although only one character differs (the floor's reading guard)."""
    from kefu.bot.engine import _RankerAdapter, near_exact_rankers
    from kefu.bot.nlu.ranker import Ranked

    kb = [(k, p[:1]) for k, p in _tiny_groups() if not k.startswith(smalltalk.PREFIX) and k != "twd_account"]
    kb += [("card_points", ["信用卡紅利點數怎麼兌換"]), ("line_atm", ["LINE X ATM功能有哪些"])]
    kb += smalltalk.groups()

    class Unsure:
        """Ranks like the provisional ranker, never sure of anything below an exact question."""

        answer_threshold_ = 0.9
        clarify_threshold_ = 0.2

        def __init__(self) -> None:
            self.inner = ProvisionalRanker(strict_prefix=smalltalk.PREFIX).fit(kb)

        def search(self, text: str, k: int) -> list[Ranked]:
            return [
                Ranked(h.key, h.confidence if h.confidence == 1.0 else 0.5, h.score, h.matched_question)
                for h in self.inner.search(text, k)
            ]

    served = _RankerAdapter(Unsure(), *near_exact_rankers(kb))
    assert served.search("網銀密馬忘計了怎麼辦", 3)[0][:2] == ("ebank_password", 0.9)
    assert served.search("請問LINE X ATM功能有那些", 3)[0][:2] == ("line_atm", 0.9)
    top = served.search("如何開立臺幣帳戶", 3)[0]
    assert top[0] == "fx_account" and top[1] < 0.9
