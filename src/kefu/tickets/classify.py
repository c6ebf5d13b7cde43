"""Ticket auto-classification: the `Classifier` protocol and a keyword/rule-based default (OpenCC-normalised)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core import runtime
from kefu.core.chinese import convert


class Classifier(Protocol):
    """Anything that maps free text to (category key or None, confidence 0..1)."""

    def classify(self, text: str) -> tuple[str | None, float]:
        """Best category for `text` and how sure the classifier is."""


@dataclass(frozen=True)
class CategorySeed:
    """A default category: key, labels and keywords (Traditional Chinese and English; Simplified is derived)."""

    key: str
    label_zh: str
    label_en: str
    keywords: tuple[str, ...]


DEFAULT_CATEGORIES: tuple[CategorySeed, ...] = (
    CategorySeed(
        "account_anomaly",
        "帳號異常",
        "Account anomaly",
        (
            "帳號",
            "帐号",
            "盜用",
            "被盜",
            "異常登入",
            "異常登錄",
            "登入",
            "登錄",
            "密碼",
            "驗證碼",
            "凍結",
            "封鎖",
            "account",
            "hacked",
            "login",
            "log in",
            "password",
            "locked",
            "suspended",
            "2fa",
        ),
    ),
    CategorySeed(
        "payment_failure",
        "支付失敗",
        "Payment failure",
        (
            "付款",
            "支付",
            "扣款",
            "刷卡",
            "信用卡",
            "儲值",
            "充值",
            "交易失敗",
            "重複扣款",
            "payment",
            "charged",
            "card declined",
            "credit card",
            "transaction failed",
            "top up",
        ),
    ),
    CategorySeed(
        "refund",
        "退款",
        "Refund",
        ("退款", "退費", "退錢", "退貨", "退回款項", "refund", "money back", "reimburse", "return"),
    ),
    CategorySeed(
        "logistics",
        "物流配送",
        "Logistics",
        (
            "物流",
            "配送",
            "出貨",
            "發貨",
            "快遞",
            "包裹",
            "到貨",
            "寄送",
            "運送",
            "宅配",
            "delivery",
            "shipping",
            "package",
            "parcel",
            "tracking",
            "courier",
            "shipment",
        ),
    ),
    CategorySeed(
        "system_failure",
        "系統故障",
        "System failure",
        (
            "當機",
            "宕機",
            "閃退",
            "打不開",
            "無法連線",
            "連不上",
            "伺服器",
            "錯誤代碼",
            "故障",
            "崩潰",
            "crash",
            "down",
            "outage",
            "error code",
            "not loading",
            "server",
            "bug",
            "cannot connect",
        ),
    ),
    CategorySeed(
        "complaint",
        "投訴",
        "Complaint",
        (
            "投訴",
            "客訴",
            "申訴",
            "抱怨",
            "不滿",
            "態度差",
            "檢舉",
            "消保",
            "要求賠償",
            "賠償",
            "complaint",
            "complain",
            "unacceptable",
            "terrible service",
            "compensation",
            "escalate",
        ),
    ),
    CategorySeed(
        "regulator_letter",
        "政府機關來函",
        "Regulator letter",
        ("消保官", "來函", "主管機關", "公文", "消費者保護", "regulator", "consumer protection", "official letter"),
    ),
    CategorySeed(
        "general",
        "一般諮詢",
        "General inquiry",
        ("請問", "諮詢", "詢問", "怎麼", "如何", "question", "how do i", "inquiry", "information"),
    ),
)


CATCH_ALL = "general"


@lru_cache(maxsize=1)
def normalize(text: str) -> str:
    """Simplified Chinese, case-folded, whitespace-collapsed: zh-Hant, zh-Hans and English compare alike."""
    return " ".join(convert(text, "t2s").casefold().split())


class KeywordClassifier:
    """Scores each category by the keywords found in the text; longer keywords weigh more."""

    def __init__(self, categories: Mapping[str, Iterable[str]]) -> None:
        self._keywords: dict[str, tuple[str, ...]] = {
            key: tuple(sorted({normalize(k) for k in words if k.strip()}, key=len, reverse=True))
            for key, words in categories.items()
        }

    def classify(self, text: str) -> tuple[str | None, float]:
        """Best category and a confidence from its share of the evidence and the number of hits."""
        norm = normalize(text)
        if not norm:
            return None, 0.0
        scores: dict[str, float] = {}
        hits: dict[str, int] = {}
        for key, words in self._keywords.items():
            for word in words:
                if word and word in norm:
                    # Why: CJK keywords of 2 chars are weaker evidence than 4-char phrases; English words similar.
                    scores[key] = scores.get(key, 0.0) + min(len(word), 6) / 2
                    hits[key] = hits.get(key, 0) + 1
        if not scores:
            return None, 0.0
        if len(scores) > 1:
            # Why: the catch-all category ("general") only wins when nothing specific matched.
            scores.pop(CATCH_ALL, None)
        best = max(scores, key=lambda k: (scores[k], -list(self._keywords).index(k)))
        share = scores[best] / sum(scores.values())
        strength = min(1.0, 0.55 + 0.2 * (hits[best] - 1))
        return best, round(share * strength, 3)


ClassifierFactory = Callable[[Session, int], Classifier]


def keyword_classifier_for(session: Session, brand_id: int) -> Classifier:
    """Keyword classifier from the brand's active categories (defaults when the brand has none); cached per process."""
    from kefu.core import configcache
    from kefu.tickets.models import TicketCategory

    def load() -> Classifier:
        rows = session.execute(
            select(TicketCategory.key, TicketCategory.keywords)
            .where(TicketCategory.brand_id == brand_id, TicketCategory.is_active.is_(True))
            .order_by(TicketCategory.position, TicketCategory.id)
        ).all()
        if rows:
            return KeywordClassifier({key: [str(k) for k in kws or []] for key, kws in rows})
        return _DEFAULT_CLASSIFIER

    return configcache.cached(session, brand_id, "tickets.keyword_classifier", load)


_DEFAULT_CLASSIFIER = KeywordClassifier({c.key: c.keywords for c in DEFAULT_CATEGORIES})


# New tickets are classified by keywords unless the wiring root plugs in a model (kefu.bootstrap: the bot's NLU).
CLASSIFIER: runtime.Slot[ClassifierFactory] = runtime.Slot("ticket classifier", lambda settings: keyword_classifier_for)


def classifier_for(session: Session, brand_id: int) -> Classifier:
    """The wired classifier for a brand."""
    return runtime.get(CLASSIFIER)(session, brand_id)
