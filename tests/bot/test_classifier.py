"""Ticket auto-classification by the bot's NLU, trained on the KB and on agents' corrections."""

from __future__ import annotations

from typing import Any

from kefu.knowledge.commands import CreateFaq


def _faq(db: Any, brand: Any, category: str, questions: list[str]) -> None:
    from kefu.knowledge.service import create_faq

    create_faq(
        db,
        None,
        CreateFaq(
            brand_id=brand.id,
            locale="zh-TW",
            questions=questions,
            answer="…",
            category=category,
            intent=category,
            is_published=True,
        ),
    )


def test_nlu_classifies_from_kb_and_learns_from_corrections(db: Any, make: Any) -> None:
    from kefu.bot.classifier import classifier_factory
    from kefu.tickets.models import ClassificationFeedback

    brand = make.brand()
    _faq(db, brand, "payment_failure", ["付款失敗", "信用卡刷不過", "扣款了但訂單沒成立", "付款一直顯示錯誤"])
    _faq(db, brand, "logistics", ["我的包裹到哪了", "物流查詢", "還沒收到貨", "什麼時候出貨"])
    _faq(db, brand, "refund", ["如何申請退款", "我要退錢", "退款多久會到帳", "退款進度"])
    db.commit()
    clf = classifier_factory(db, brand.id)
    category, confidence = clf.classify("信用卡付款一直失敗")
    assert category == "payment_failure" and confidence >= 0.5
    assert clf.classify("我的貨到底寄出了沒有")[0] == "logistics"
    # An agent corrects a phrasing the model gets wrong; the next model learns it.
    text = "超商取貨通知一直沒來"
    before = clf.classify(text)[0]
    for _ in range(2):
        db.add(
            ClassificationFeedback(brand_id=brand.id, text=text, predicted=before, confidence=0.4, corrected="refund")
        )
    db.commit()
    assert classifier_factory(db, brand.id).classify(text)[0] == "refund"


def test_without_training_data_keywords_decide(db: Any, make: Any) -> None:
    from kefu.bot.classifier import classifier_factory
    from kefu.tickets.classify import keyword_classifier_for

    brand = make.brand()
    db.commit()
    text = "我要投訴你們的服務"
    assert classifier_factory(db, brand.id).classify(text) == keyword_classifier_for(db, brand.id).classify(text)
