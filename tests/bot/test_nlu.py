"""Offline NLU engine: normalization, language detection, intents with OOS, FAQ retrieval, CLI, real benchmarks."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from kefu.bot.cli import nlu_app
from kefu.bot.nlu import (
    FaqEntry,
    FaqRetriever,
    IntentModel,
    Prediction,
    detect_language,
    evaluate,
    evaluate_retrieval_texts,
    evaluate_texts,
    normalize,
    read_labeled_csv,
    to_simplified,
    to_traditional,
)
from kefu.bot.nlu.calibration import expected_calibration_error, fit_temperature, softmax
from kefu.bot.nlu.features import FeatureConfig, Featurizer, analyze, stem, tokenize
from kefu.bot.nlu.model import DENSE_FEATURES
from kefu.bot.nlu.text import HAN_RE, normalize_many
from kefu.core.chinese import convert

ROOT = Path(__file__).resolve().parents[2]

# Twelve customer-service intents, each in Simplified, Traditional and English.
INTENTS: dict[str, list[str]] = {
    "refund": [
        "我想申请退款",
        "退款什么时候到账",
        "怎么退钱给我",
        "我要退款，东西不想要了",
        "我想申請退款",
        "退款什麼時候到帳",
        "I want a refund",
        "how do I get my money back",
        "please refund my order",
    ],
    "shipping": [
        "我的包裹什么时候发货",
        "快递到哪里了",
        "物流信息怎么查",
        "订单还没发货吗",
        "我的包裹什麼時候發貨",
        "快遞到哪裡了",
        "where is my package",
        "when will my order ship",
        "track my delivery",
    ],
    "password": [
        "忘记密码了怎么办",
        "怎么修改登录密码",
        "密码重置链接收不到",
        "账号密码错误登录不了",
        "忘記密碼了怎麼辦",
        "怎麼修改登入密碼",
        "I forgot my password",
        "how to reset my password",
        "change my login password",
    ],
    "invoice": [
        "怎么开发票",
        "可以开电子发票吗",
        "发票抬头写错了",
        "我需要增值税发票",
        "怎麼開發票",
        "可以開電子發票嗎",
        "can I get an invoice",
        "I need a receipt for my purchase",
        "send me the invoice",
    ],
    "hours": [
        "客服几点上班",
        "你们周末营业吗",
        "营业时间是什么",
        "晚上有人值班吗",
        "客服幾點上班",
        "你們週末營業嗎",
        "what are your opening hours",
        "are you open on weekends",
        "when does support start working",
    ],
    "cancel": [
        "我要取消订单",
        "订单能取消吗",
        "刚下的单不想要了取消",
        "怎么撤销订单",
        "我要取消訂單",
        "訂單能取消嗎",
        "cancel my order",
        "I want to cancel the purchase",
        "how can I cancel an order",
    ],
    "coupon": [
        "优惠券怎么用",
        "折扣码无效",
        "有没有优惠活动",
        "领的优惠券不见了",
        "優惠券怎麼用",
        "折扣碼無效",
        "how do I use a coupon",
        "my discount code does not work",
        "any promo codes available",
    ],
    "address": [
        "怎么修改收货地址",
        "地址填错了能改吗",
        "更换配送地址",
        "收件人电话写错了",
        "怎麼修改收貨地址",
        "地址填錯了能改嗎",
        "change my delivery address",
        "I entered the wrong shipping address",
        "update the address on my order",
    ],
    "payment": [
        "付款失败怎么办",
        "信用卡支付不了",
        "支持哪些付款方式",
        "扣款了但订单显示未付款",
        "付款失敗怎麼辦",
        "信用卡支付不了怎麼辦",
        "my payment failed",
        "which payment methods do you accept",
        "my credit card was declined",
    ],
    "warranty": [
        "产品保修多久",
        "坏了可以保修吗",
        "保修期过了怎么办",
        "维修要多少钱",
        "產品保固多久",
        "壞了可以保修嗎",
        "how long is the warranty",
        "my device broke, is it covered",
        "repair under warranty",
    ],
    "account_delete": [
        "怎么注销账号",
        "我要删除我的账户",
        "永久删除个人资料",
        "不想用了注销会员",
        "怎麼註銷帳號",
        "我要刪除我的帳戶",
        "delete my account",
        "how do I close my account permanently",
        "remove all my personal data",
    ],
    "human": [
        "转人工客服",
        "我要找真人",
        "人工服务在哪里",
        "让客服人员跟我说话",
        "轉人工客服",
        "我要找真人客服",
        "talk to a human",
        "connect me to an agent",
        "I want to speak with a real person",
    ],
}

# Unseen paraphrases: (text, intent).
HELD_OUT = [
    ("退款多久能收到", "refund"),
    ("退款多久能收到", "refund"),
    ("refund please", "refund"),
    ("包裹到哪裡了", "shipping"),
    ("where is my order", "shipping"),
    ("密碼忘記了", "password"),
    ("reset password", "password"),
    ("需要開發票", "invoice"),
    ("invoice please", "invoice"),
    ("週末有客服嗎", "hours"),
    ("取消我的订单", "cancel"),
    ("cancel order", "cancel"),
    ("優惠券不能用", "coupon"),
    ("收貨地址寫錯了", "address"),
    ("信用卡付款失败", "payment"),
    ("保修多长时间", "warranty"),
    ("注销我的账号", "account_delete"),
    ("找人工", "human"),
    ("speak to an agent", "human"),
]

# Unrelated to every intent. (With nine examples per intent, shared function words such as 是什么 or
# 多少 can still pull an unrelated question into an intent; that is a data-size limit, not tested here.)
OUT_OF_SCOPE = [
    "股市行情",
    "pizza recipe ideas",
    "capital of australia",
    "月亮詩歌",
    "basketball scores tonight",
    "天氣預報",
    "翻译成日语",
]


def _training_data(langs: Sequence[str] = ("hans", "hant", "en")) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for label, examples in INTENTS.items():
        picked = []
        if "hans" in langs:
            picked += examples[:4]
        if "hant" in langs:
            picked += examples[4:6]
        if "en" in langs:
            picked += examples[6:]
        texts += picked
        labels += [label] * len(picked)
    return texts, labels


@pytest.fixture(scope="module")
def model() -> IntentModel:
    return IntentModel().fit(*_training_data())


# ---------------------------------------------------------------------- text


def test_normalize_folds_width_case_and_script() -> None:
    assert normalize("ＨＥＬＬＯ　Ｗｏｒｌｄ１２３！") == "hello world123!"
    assert normalize("  我想查詢   帳單  ") == normalize("我想查询 账单") == normalize("我想查询 帐单")
    assert normalize("  我想查詢   帳單  ").endswith(" 账单")  # single spaces, 帐/账 one variant
    assert normalize("軟體資訊") == normalize("软件信息") == "软体资讯"  # one (Taiwan-phrased) form for both regions
    assert normalize("請問這裡可以退貨嗎？") == normalize("请问这里可以退货吗?")
    assert normalize("abc\u200bdef") == "abcdef"
    assert normalize("") == ""


def test_normalize_folds_regional_vocabulary_and_variants_symmetrically() -> None:
    # A mainland question and its Taiwan rewrite (OpenCC s2twp) must give the ranker the same text.
    pairs = [
        ("帮我发短信", "幫我發簡訊"),
        ("搜索附近的银行", "搜尋附近的銀行"),
        ("手机软件打不开", "手機軟體打不開"),
        ("臺北分行", "台北分行"),
        ("这裡", "這裏"),
        ("看着", "看著"),
    ]
    for hans, hant in pairs:
        assert normalize(hans) == normalize(hant), (hans, hant)
    # Every Traditional rewrite of a Simplified text normalises like the text itself (idempotent on its output).
    for text in ("我想查询信用卡账单", "网银密码忘了怎么办", "打开个性闹钟", "发信息给老妈", "搜索一下天气"):
        assert normalize(to_traditional(text)) == normalize(text) == normalize(convert(text, "s2twp"))
        assert normalize(normalize(text)) == normalize(text)
    # And a Taiwan question meets its mainland-phrased Simplified rewrite (OpenCC tw2sp), which s2twp does not undo.
    for hant in ("如何申請數位帳戶?", "使用行動銀行時能否只開啟指紋登入?", "需要什麼文件?", "哪裡可以找到更多資訊？"):
        assert normalize(convert(hant, "tw2sp")) == normalize(hant) == normalize(convert(hant, "t2s")), hant
        assert normalize(normalize(hant)) == normalize(hant)
    # Ticket search keeps character-only folding (its stored tokens must not depend on phrase segmentation).
    assert normalize("打開短信", regional=False) == "打开短信"


def test_english_bank_terms_in_a_chinese_message_are_read_as_the_chinese_term() -> None:
    assert normalize("我的credit card被lock住了") == normalize("我的信用卡被鎖住了")
    assert normalize("網銀Password忘了, 帳戶 LOCKED") == normalize("網銀密碼忘了, 帳戶 鎖")
    assert normalize("收不到OTP簡訊") == normalize("收不到驗證碼簡訊")
    # English messages stay English; words inside other words and names a KB uses are left alone.
    assert normalize("my credit card is locked") == "my credit card is locked"
    assert normalize("iphone綁定ATM和LINE Pay") == normalize("iphone綁定atm和line pay")
    assert "iphone" in normalize("iphone綁定ATM和LINE Pay")


def test_script_conversion_round_trip() -> None:
    assert to_simplified("臺灣的軟體") == "台湾的软体"
    assert to_traditional("这里可以退货吗") == "這裏可以退貨嗎"
    assert to_simplified("no chinese here") == "no chinese here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("請問這裡可以退貨嗎", "zh-Hant"),
        ("我在台北工作，發票怎麼開", "zh-Hant"),
        ("台灣的天氣", "zh-Hant"),
        ("请问这里可以退货吗", "zh-Hans"),
        ("你们的客服电话是多少", "zh-Hans"),
        ("How do I reset my password?", "en"),
        ("ＨＥＬＬＯ", "en"),
        ("我的iPhone充不了電", "zh-Hant"),
        (
            "my 帳戶 is locked",
            "zh-Hant",
        ),  # any Chinese makes a message Chinese (mixed messages come from Chinese users)
        ("LINE X ATM功能", "zh-Hans"),  # no script-specific character: the ambiguous default (zh-Hans)
        ("パスワードを忘れました", "other"),
        ("注文をキャンセルしたい", "other"),
        ("비밀번호를 잊어버렸어요", "other"),
        ("Где мой заказ?", "other"),
        ("12345", "other"),
        ("", "other"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_language_ambiguous_chinese_uses_hint() -> None:
    assert detect_language("你好") == "zh-Hans"
    assert detect_language("你好", ambiguous_zh="zh-Hant") == "zh-Hant"


# ---------------------------------------------------------------------- features


def test_tokenize_and_stem() -> None:
    assert tokenize(normalize("Cards arrived?")) == ["card", "arriv", "?"]
    assert stem("doesn't") == "not"
    assert stem("stopped") == "stop"
    assert stem("card") == "card"
    zh = tokenize(normalize("我想打开QQ浏览器"))
    assert "qq" in zh and "浏览器" in zh


def test_jieba_is_quiet() -> None:
    code = "from kefu.bot.nlu.features import tokenize; print(tokenize('我想申请退款'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "退款" in proc.stdout
    assert proc.stderr == ""


def test_featurizer_rows_are_normalized_and_script_invariant() -> None:
    texts = [normalize(t) for t in _training_data()[0]]
    feat = Featurizer()
    x = feat.fit_transform(texts)
    assert x.shape == (len(texts), feat.n_features)
    a = feat.transform([normalize("退款什麼時候到帳")]).toarray()
    b = feat.transform([normalize("退款什么时候到账")]).toarray()
    assert np.allclose(a, b) and a.any()
    assert feat.transform([normalize("zzzz qqqq")]).shape == (1, feat.n_features)


def test_featurizer_han_and_other_char_blocks() -> None:
    """Han and other-script char n-grams are separate blocks with their own weight and idf switch."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [normalize(t) for t in ["打开qq浏览器", "我想打开微信", "open the qq app", "退款到账了吗 refund"]]
    words, han, other, _, pinyin = analyze(texts[0])
    assert pinyin == []  # the pinyin block is off unless pinyin_weight > 0 (the FAQ ranker turns it on)
    assert "开启" in words and {"开", "开启", "浏览"} <= set(han) and " qq " in other
    assert not any(HAN_RE.search(g) for g in other) and all(HAN_RE.search(g) or g == " " for g in han)
    assert analyze(texts[2])[1] == []  # no Han text, no Han grams

    def block_cols(feat: Featurizer, i: int) -> slice:
        block = feat._blocks[i]
        assert block is not None
        return slice(block.offset, block.offset + len(block.vocabulary))

    cfg = FeatureConfig(han_char_weight=2.0, han_char_idf=False, char_weight=0.5, char_idf=True)
    feat = Featurizer(cfg)
    x = feat.fit_transform(texts).toarray()
    assert np.allclose(feat.transform(texts).toarray(), x)  # the hand-rolled transform matches fitting
    han_block = feat._blocks[1]
    assert han_block is not None and np.all(han_block.idf == 1.0)  # idf off: all ones
    for i, weight, use_idf in [(1, 2.0, False), (2, 0.5, True)]:
        analyzed = [analyze(t, cfg)[i] for t in texts]
        ref = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, use_idf=use_idf).fit_transform(analyzed)
        got = x[:, block_cols(feat, i)]
        assert np.allclose(got, weight * ref.toarray(), atol=1e-5)  # per-block L2 norm times the block weight
    # Latin-only texts: the Han settings change nothing.
    latin = [normalize(t) for t in ["where is my card", "card not arrived", "exchange rate for euro"]]
    a = Featurizer(FeatureConfig()).fit_transform(latin).toarray()
    b = Featurizer(FeatureConfig(han_char_weight=3.0, han_char_idf=False)).fit_transform(latin).toarray()
    assert np.array_equal(a, b)
    # split_han_chars=False puts Han grams back into the single (version 1) char block.
    merged = Featurizer(FeatureConfig(split_han_chars=False))
    merged.fit_transform(texts)
    assert merged._blocks[1] is None and merged._blocks[2] is not None and "开启" in merged._blocks[2].vocabulary


def test_calibration_helpers() -> None:
    scores = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
    p = softmax(scores, 0.5)
    assert np.allclose(p.sum(axis=1), 1.0) and p[0].argmax() == 0
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    logits = rng.normal(size=(500, 3))
    logits[np.arange(500), y] += 1.0
    t = fit_temperature(logits * 10, y)  # overconfident scores need a large temperature
    assert t > 3.0
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([True, True])) == pytest.approx(0.1)


# ---------------------------------------------------------------------- intent model


def test_intent_model_predicts_held_out_paraphrases(model: IntentModel) -> None:
    preds = model.predict_batch([t for t, _ in HELD_OUT])
    correct = sum(p.alternatives[0][0] == y for p, (_, y) in zip(preds, HELD_OUT, strict=True))
    assert correct / len(HELD_OUT) >= 0.85
    assert set(model.labels) == set(INTENTS)
    assert model.temperature_ > 0 and 0.0 < model.threshold_ < 1.0


def test_prediction_shape_and_probabilities(model: IntentModel) -> None:
    pred = model.predict("我要退款")
    assert isinstance(pred, Prediction)
    assert pred.label == "refund" and not pred.is_oos
    assert len(pred.alternatives) == 3
    scores = [s for _, s in pred.alternatives]
    assert scores == sorted(scores, reverse=True)
    assert pred.confidence == scores[0]
    assert all(0.0 <= s <= 1.0 for s in scores)
    proba = model.predict_proba(["我要退款", "cancel my order"])
    assert proba.shape == (2, len(INTENTS))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert model.predict_batch([]) == []


def test_traditional_and_simplified_get_the_same_prediction() -> None:
    m = IntentModel().fit(*_training_data(("hans",)))
    for text in ["退款什么时候到账", "忘记密码了怎么办", "可以开电子发票吗", "你们周末营业吗"]:
        hans, hant = m.predict(text), m.predict(to_traditional(text))
        assert hans.label == hant.label
        assert hans.confidence == pytest.approx(hant.confidence)


def test_oos_without_oos_training_examples(model: IntentModel) -> None:
    oos = model.predict_batch(OUT_OF_SCOPE)
    assert sum(p.is_oos for p in oos) >= len(OUT_OF_SCOPE) - 1
    held_out = model.predict_batch([t for t, _ in HELD_OUT])
    assert max(p.confidence for p in oos) < np.median([p.confidence for p in held_out])
    assert all(p.label == "oos" for p in oos if p.is_oos)
    assert all(p.alternatives for p in oos)  # suggestions survive rejection
    in_scope = model.predict_batch(["我要取消訂單", "delete my account", "转人工客服"])
    assert not any(p.is_oos for p in in_scope)


def test_oos_with_oos_training_examples() -> None:
    texts, labels = _training_data()
    extra = [
        "今天天气怎么样",
        "讲个笑话",
        "what's the weather like",
        "tell me a joke",
        "明天會下雨嗎",
        "who is the president",
        "播放一首歌",
        "play some music",
        "1加1等于几",
    ]
    m = IntentModel().fit(texts + extra, labels + ["oos"] * len(extra))
    assert "oos" in m.classes_ and "oos" not in m.labels
    assert m.predict("tell me another joke").is_oos
    assert m.predict("今天的天氣如何").is_oos
    assert m.predict("I want a refund").label == "refund"


def test_fixed_threshold_and_validation() -> None:
    texts, labels = _training_data(("en",))
    m = IntentModel(threshold=0.0).fit(texts, labels)
    assert m.threshold_ == 0.0
    assert not m.predict("what is the capital of australia").is_oos
    with pytest.raises(ValueError):
        IntentModel().fit(["a", "b"], ["x", "x"])
    with pytest.raises(ValueError):
        IntentModel().fit(["a"], ["x", "y"])
    with pytest.raises(RuntimeError):
        IntentModel().predict("hello")


def test_tiny_and_binary_training_sets() -> None:
    m = IntentModel().fit(["退款", "refund", "发票"], ["refund", "refund", "invoice"])
    assert m.predict("我要退款").alternatives[0][0] == "refund"
    m2 = IntentModel().fit(
        ["退款", "我要退款", "refund please", "发票", "开发票", "invoice please"], ["r", "r", "r", "i", "i", "i"]
    )
    pred = m2.predict("我要開發票")
    assert pred.alternatives[0][0] == "i" and len(pred.alternatives) == 2


def test_save_and_load_round_trip(model: IntentModel, tmp_path: Path) -> None:
    path = tmp_path / "intent.joblib"
    model.save(path)
    loaded = IntentModel.load(path)
    texts = [t for t, _ in HELD_OUT] + OUT_OF_SCOPE
    assert [p.label for p in loaded.predict_batch(texts)] == [p.label for p in model.predict_batch(texts)]
    assert loaded.threshold_ == model.threshold_
    (tmp_path / "bad.joblib").write_bytes(b"not a model")
    with pytest.raises(ValueError):
        IntentModel.load(tmp_path / "bad.joblib")
    with pytest.raises(ValueError):
        FaqRetriever.load(tmp_path / "intent.joblib")


class HashEncoder:
    """A deterministic stand-in for a sentence encoder (bag of hashed characters)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, zlib.crc32(ch.encode()) % 64] += 1.0
        return out


def test_dense_encoder_plumbing(tmp_path: Path) -> None:
    texts, labels = _training_data()
    m = IntentModel(encoder=HashEncoder()).fit(texts, labels)
    assert m.feature_config == DENSE_FEATURES  # the dense blend keeps the features it was tuned on
    assert IntentModel().feature_config.split_han_chars
    assert m.predict("I want a refund").alternatives[0][0] == "refund"
    m.save(tmp_path / "dense.joblib")
    with pytest.raises(ValueError):
        IntentModel.load(tmp_path / "dense.joblib")
    again = IntentModel.load(tmp_path / "dense.joblib", encoder=HashEncoder())
    assert again.predict("I want a refund").label == m.predict("I want a refund").label

    r = FaqRetriever(encoder=HashEncoder()).fit(_faq_entries())
    assert not r.feature_config.split_han_chars and FaqRetriever().feature_config.split_han_chars
    assert r.search("怎麼修改密碼", 1)[0].entry_id == 1


def test_nlu_eval_with_an_encoder_uses_the_dense_settings_chosen_by_cross_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kefu nlu eval` with KEFU_NLU_ENCODER set trains the dense backend with its CV-chosen embedding weight and C
    (4 and 0.5, as benchmarks/nlu_eval.py), not the sparse model's C 1 with the embeddings at weight 1."""
    import importlib

    from kefu.bot.nlu.model import DENSE_C, DENSE_WEIGHT

    seen: list[IntentModel] = []

    def fake_evaluate(train: Any, test: Any, *, model: IntentModel | None = None) -> dict[str, Any]:
        assert model is not None
        seen.append(model)
        return {}

    # (the package kefu.bot.nlu re-exports a function named evaluate, hiding the module of that name)
    monkeypatch.setattr(importlib.import_module("kefu.bot.engine"), "encoder_from_settings", HashEncoder)
    monkeypatch.setattr(importlib.import_module("kefu.bot.nlu.evaluate"), "evaluate", fake_evaluate)
    data = tmp_path / "d.csv"
    data.write_text("text,label\nhi,greet\n", encoding="utf-8")
    r = CliRunner().invoke(nlu_app, ["eval", "--train", str(data), "--test", str(data), "--json"])
    assert r.exit_code == 0, r.output
    assert (seen[0].dense_weight, seen[0].c_grid) == (DENSE_WEIGHT, (DENSE_C,)) == (4.0, (0.5,))
    sparse = IntentModel()
    assert sparse.c_grid == (1.0,) and not sparse.requires_encoder


# ---------------------------------------------------------------------- retriever


def _faq_entries() -> list[FaqEntry]:
    return [
        FaqEntry(1, ["如何修改密码", "忘记密码怎么办", "怎么重置登录密码"], "到设置页面重置。", "zh-CN"),
        FaqEntry(2, ["怎么申请退款", "退款多久到账", "我想退货退款"], "七天内可退款。", "zh-CN"),
        FaqEntry(3, ["物流信息怎么查", "我的订单什么时候发货", "快递到哪了"], "在订单页查看。", "zh-CN"),
        FaqEntry(4, ["怎麼開發票", "可以開電子發票嗎", "發票抬頭怎麼改"], "在訂單頁申請。", "zh-TW"),
        FaqEntry(5, ["客服工作時間", "你們幾點上班", "週末有客服嗎"], "每天9點到21點。", "zh-TW"),
        FaqEntry(6, ["How do I reset my password?", "I forgot my password"], "Use the reset link.", "en"),
        FaqEntry(7, ["How can I get a refund?", "Refund my order"], "Within 7 days.", "en"),
        FaqEntry(8, ["When will my order ship?", "Where is my package?"], "See the order page.", "en"),
    ]


@pytest.fixture(scope="module")
def retriever() -> FaqRetriever:
    return FaqRetriever().fit(_faq_entries())


def test_retriever_matches_across_scripts(retriever: FaqRetriever) -> None:
    hit = retriever.search("如何修改密碼", 3)[0]  # Traditional query, Simplified variant
    assert hit.entry_id == 1 and hit.matched_question == "如何修改密码"
    hit = retriever.search("可以开电子发票吗", 3)[0]  # Simplified query, Traditional variant
    assert hit.entry_id == 4 and hit.matched_question == "可以開電子發票嗎"
    assert retriever.search("退款多久到帳？", 1)[0].entry_id == 2
    assert retriever.search("I want a REFUND", 1)[0].entry_id == 7


def test_retriever_scores_are_calibrated_and_ranked(retriever: FaqRetriever) -> None:
    assert retriever.calibrated_
    hits = retriever.search("忘记密码怎么办", 5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert hits[0].score > 0.5 > hits[1].score
    for unrelated in ("天气预报", "basketball scores tonight"):
        assert all(h.score < 0.5 for h in retriever.search(unrelated, 3))
    assert retriever.search("zzzz", 3) == []  # nothing in common with any variant
    assert retriever.search("退款", 0) == []


def test_retriever_language_filter_and_mapping_input() -> None:
    r = FaqRetriever().fit(
        [
            {"id": e.id, "questions": list(e.questions), "answer": e.answer, "language": e.language}
            for e in _faq_entries()
        ]
    )
    assert {h.entry_id for h in r.search("password reset", 8, language="en")} <= {6, 7, 8}
    assert all(h.entry_id in (1, 2, 3) for h in r.search("密码", 8, language="zh-CN"))
    assert all(h.entry_id in (1, 2, 3, 4, 5) for h in r.search("密码", 8, language="zh"))
    assert FaqRetriever().fit([]).search("anything") == []
    assert FaqRetriever().fit([{"id": "x", "question": "退款"}]).search("退款", 1)[0].entry_id == "x"


def test_retriever_save_load(retriever: FaqRetriever, tmp_path: Path) -> None:
    retriever.save(tmp_path / "faq.joblib")
    loaded = FaqRetriever.load(tmp_path / "faq.joblib")
    assert loaded.search("如何修改密碼", 2) == retriever.search("如何修改密碼", 2)


# ---------------------------------------------------------------------- evaluate + CLI


def _write_csv(path: Path, rows: Sequence[tuple[str, str]], label_col: str = "label") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", label_col, "extra"])
        for text, label in rows:
            w.writerow([text, label, "ignored"])
    return path


@pytest.fixture()
def csvs(tmp_path: Path) -> tuple[Path, Path, Path]:
    texts, labels = _training_data()
    train = _write_csv(tmp_path / "train.csv", list(zip(texts, labels, strict=True)), "category")
    test = _write_csv(tmp_path / "test.csv", HELD_OUT)
    oos = _write_csv(tmp_path / "oos.csv", [(t, "oos") for t in OUT_OF_SCOPE])
    return train, test, oos


def test_evaluate_metrics(csvs: tuple[Path, Path, Path]) -> None:
    train, test, oos = csvs
    closed = evaluate(train, test)
    assert closed["oos_recall"] is None and closed["oos_precision"] is None
    assert closed["accuracy"] >= 0.85 and closed["in_scope_accuracy"] == closed["accuracy"]
    assert 0.0 < closed["p50_ms"] <= closed["p95_ms"]
    opened = evaluate(train, [test, oos])
    assert opened["oos_recall"] >= 0.8
    assert 0.0 <= opened["oos_precision"] <= 1.0
    assert opened["n_test"] == len(HELD_OUT) + len(OUT_OF_SCOPE)


def test_cli_eval_json(csvs: tuple[Path, Path, Path]) -> None:
    train, test, oos = csvs
    result = CliRunner().invoke(
        nlu_app, ["eval", "--train", str(train), "--test", str(test), "--test", str(oos), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "p50_ms", "p95_ms"):
        assert key in data
    assert data["oos_recall"] is not None


def test_cli_eval_table_and_errors(csvs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    train, test, _ = csvs
    result = CliRunner().invoke(nlu_app, ["eval", "--train", str(train), "--test", str(test)])
    assert result.exit_code == 0, result.output
    assert "Accuracy" in result.stdout and "OOS recall" in result.stdout and "n/a" in result.stdout
    missing = CliRunner().invoke(nlu_app, ["eval", "--train", str(tmp_path / "nope.csv"), "--test", str(test)])
    assert missing.exit_code != 0
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nhello,x\n", encoding="utf-8")
    result = CliRunner().invoke(nlu_app, ["eval", "--train", str(bad), "--test", str(test)])
    assert result.exit_code == 2


# ---------------------------------------------------------------------- real datasets


def _datasets_dir() -> Path | None:
    for candidate in (os.environ.get("KEFU_DATASETS"), ROOT.parent / "shared" / "datasets", "/work/shared/datasets"):
        if candidate and (Path(candidate) / "banking77" / "train.csv").is_file():
            return Path(candidate)
    return None


@pytest.mark.slow
def test_real_benchmarks() -> None:
    """Banking77 and SMP2017 (zh-Hans and zh-Hant) at the measured accuracy minus a small margin."""
    root = _datasets_dir()
    if root is None:
        pytest.skip("shared datasets not available")
    smp = evaluate(root / "smp2017_ecdt_task1/train.csv", root / "smp2017_ecdt_task1/test.csv", max_latency_queries=200)
    assert smp["accuracy"] >= 0.92  # measured 0.930 (0.916 before the separate Han char block)
    train = read_labeled_csv(root / "smp2017_ecdt_task1/train.csv")
    test_texts, test_labels = read_labeled_csv(root / "smp2017_ecdt_task1/test.csv")
    hant = evaluate_texts(*train, [to_traditional(t) for t in test_texts], test_labels, max_latency_queries=50)
    assert abs(smp["accuracy"] - hant["accuracy"]) <= 0.01
    faq = evaluate_retrieval_texts(*train, [to_traditional(t) for t in test_texts], test_labels)
    assert faq["top1_accuracy"] >= 0.79  # measured 0.808: Traditional queries, Simplified variants

    b77 = evaluate(root / "banking77/train.csv", root / "banking77/test.csv", max_latency_queries=300)
    assert b77["accuracy"] >= 0.915  # measured 0.921-0.922 (latency is a benchmark number, not a timed test)


def test_pinyin_block_folds_homophone_typos() -> None:
    """Toneless pinyin syllables: 密馬 and 密碼, 信用咔 and 信用卡 share grams."""
    cfg = FeatureConfig(pinyin_weight=1.0)
    assert analyze(normalize("網銀密馬"), cfg)[4] == analyze(normalize("網銀密碼"), cfg)[4]
    assert set(analyze(normalize("信用咔"), cfg)[4]) == set(analyze(normalize("信用卡"), cfg)[4])


def test_batched_normalisation_equals_one_text_at_a_time() -> None:
    texts = [
        "我想查詢帳單",
        "如何申請數位帳戶?",
        "我的credit card被lock住了",
        "ＡＴＭ轉帳",
        "hello World",
        "",
        "  ",
        "a\nb 中文\n繁體",
        "行\r\n程出發",
        "中文\u2028分行",
        "打开QQ浏览器",
        "x\u200by",
    ]
    assert normalize_many(texts) == [normalize(t) for t in texts]
    assert normalize_many([]) == []
    assert normalize_many(["only latin", "still latin"]) == ["only latin", "still latin"]
