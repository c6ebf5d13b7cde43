"""Ticket auto-classification from the bot's NLU: trained per brand on the knowledge base's categorised questions
plus every agent correction, so corrections feed training; falls back to keywords when unsure."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.bot.smalltalk import strip_smalltalk
from kefu.core import configcache
from kefu.knowledge.models import FaqEntry
from kefu.tickets.classify import Classifier, keyword_classifier_for
from kefu.tickets.models import ClassificationFeedback, TicketCategory

log = logging.getLogger("kefu.bot.classifier")
CORRECTION_WEIGHT = 3  # an agent's correction outweighs one FAQ phrasing
MIN_CONFIDENCE = 0.5


class NluCategoryClassifier:
    """IntentModel over categories; the keyword classifier decides when the model is unsure or out of scope."""

    def __init__(self, model: Any | None, fallback: Classifier, min_confidence: float = MIN_CONFIDENCE) -> None:
        self.model = model
        self.fallback = fallback
        self.min_confidence = min_confidence

    def classify(self, text: str) -> tuple[str | None, float]:
        """Best category and confidence; greetings, thanks and other small talk are not classified at all."""
        text = strip_smalltalk(text[:4000])  # the head says what it is about; a pasted 5 MB text costs seconds
        if not text.strip():
            return None, 0.0  # "你好" alone says nothing about the category (it is certainly not a complaint)
        if self.model is not None:
            pred = self.model.predict(text)
            if not pred.is_oos and pred.confidence >= self.min_confidence:
                return str(pred.label), float(pred.confidence)
        return self.fallback.classify(text)


def category_keys(session: Session, brand_id: int) -> set[str]:
    """Active ticket category keys of a brand (the defaults when it has none)."""
    keys = set(
        session.scalars(
            select(TicketCategory.key).where(TicketCategory.brand_id == brand_id, TicketCategory.is_active.is_(True))
        )
    )
    if not keys:
        from kefu.tickets.classify import DEFAULT_CATEGORIES

        keys = {c.key for c in DEFAULT_CATEGORIES}
    return keys


def training_data(session: Session, brand_id: int) -> tuple[list[str], list[str]]:
    """(texts, labels): published FAQ phrasings of known categories, plus corrections (weighted)."""
    keys = category_keys(session, brand_id)
    texts: list[str] = []
    labels: list[str] = []
    for questions, category in session.execute(
        select(FaqEntry.questions, FaqEntry.category).where(
            FaqEntry.brand_id == brand_id, FaqEntry.is_published.is_(True), FaqEntry.category.in_(keys)
        )
    ):
        for q in questions or []:
            texts.append(str(q))
            labels.append(str(category))
    for text, corrected in session.execute(
        select(ClassificationFeedback.text, ClassificationFeedback.corrected).where(
            ClassificationFeedback.brand_id == brand_id, ClassificationFeedback.corrected.in_(keys)
        )
    ):
        for _ in range(CORRECTION_WEIGHT):
            texts.append(str(text)[:2000])
            labels.append(str(corrected))
    return texts, labels


def _fingerprint(session: Session, brand_id: int) -> tuple[Any, ...]:
    faq = session.execute(
        select(func.count(FaqEntry.id), func.max(FaqEntry.updated_at)).where(FaqEntry.brand_id == brand_id)
    ).one()
    fb = session.execute(
        select(func.count(ClassificationFeedback.id), func.max(ClassificationFeedback.id)).where(
            ClassificationFeedback.brand_id == brand_id
        )
    ).one()
    cats = session.scalar(select(func.count(TicketCategory.id)).where(TicketCategory.brand_id == brand_id))
    return (int(faq[0] or 0), str(faq[1]), int(fb[0] or 0), int(fb[1] or 0), int(cats or 0))


class CategoryModels:
    """Per-brand models, refitted when the KB or the corrections change."""

    def __init__(self) -> None:
        self._models: dict[int, tuple[tuple[Any, ...], Any | None]] = {}
        self._lock = threading.Lock()

    def model_for(self, session: Session, brand_id: int) -> Any | None:
        """The current model (None when there is too little data to learn from)."""
        # FAQs, corrections and categories are watched by kefu.core.configcache: while none of them changed, the
        # model is reused without the fingerprint's three aggregate queries (otherwise run for every new ticket).
        return configcache.cached(session, brand_id, "bot.category_model", lambda: self._current(session, brand_id))

    def _current(self, session: Session, brand_id: int) -> Any | None:
        fp = _fingerprint(session, brand_id)
        with self._lock:
            cached = self._models.get(brand_id)
        if cached is not None and cached[0] == fp:
            return cached[1]
        model = self.fit(session, brand_id)
        with self._lock:
            self._models[brand_id] = (fp, model)
        return model

    def fit(self, session: Session, brand_id: int) -> Any | None:
        """Train on the brand's data now."""
        from kefu.bot.nlu.model import IntentModel

        texts, labels = training_data(session, brand_id)
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        usable = {k for k, n in counts.items() if n >= 2}
        pairs = [(t, lab) for t, lab in zip(texts, labels, strict=True) if lab in usable]
        if len(usable) < 2:
            return None
        try:
            return IntentModel().fit([p[0] for p in pairs], [p[1] for p in pairs])
        except ValueError:
            log.warning("category model for brand %s could not be trained", brand_id, exc_info=True)
            return None


_models = CategoryModels()


def classifier_factory(session: Session, brand_id: int) -> Classifier:
    """The ticket classifier kefu.bootstrap.wire provides (tickets.classify.CLASSIFIER): NLU, keywords as fallback."""
    return NluCategoryClassifier(_models.model_for(session, brand_id), keyword_classifier_for(session, brand_id))
