"""Offline NLU engine: normalization, language detection, intents with OOS detection, FAQ retrieval.

Pure library (no database, no network, no model downloads). Typical use::

    from kefu.bot.nlu import IntentModel, FaqRetriever

    model = IntentModel().fit(texts, labels)
    model.predict("我的卡還沒寄到")  # Prediction(label=..., confidence=..., alternatives=[...], is_oos=...)

jieba and OpenCC are loaded on first use; jieba's dictionary only when Chinese text shows up.
"""

from __future__ import annotations

from kefu.bot.nlu.encoders import Encoder, SentenceTransformerEncoder
from kefu.bot.nlu.evaluate import evaluate, evaluate_retrieval_texts, evaluate_texts, read_labeled_csv
from kefu.bot.nlu.features import FeatureConfig
from kefu.bot.nlu.model import OOS_LABEL, IntentModel, Prediction
from kefu.bot.nlu.retriever import FaqEntry, FaqRetriever, Hit
from kefu.bot.nlu.text import LANGUAGES, detect_language, normalize, to_simplified, to_traditional

__all__ = [
    "LANGUAGES",
    "OOS_LABEL",
    "Encoder",
    "FaqEntry",
    "FaqRetriever",
    "FeatureConfig",
    "Hit",
    "IntentModel",
    "Prediction",
    "SentenceTransformerEncoder",
    "detect_language",
    "evaluate",
    "evaluate_retrieval_texts",
    "evaluate_texts",
    "normalize",
    "read_labeled_csv",
    "to_simplified",
    "to_traditional",
]
