"""Notification titles are written in each recipient agent's own locale, from the catalogs."""

from __future__ import annotations

from typing import Any


def test_localized_titles_follow_each_recipients_locale(make: Any, db: Any) -> None:
    from kefu.sla.notifications import localized, notify

    brand = make.brand()
    agents = [make.agent("agent", [brand]) for _ in range(3)]
    for agent, locale in zip(agents, ("zh-TW", "zh-CN", "en"), strict=True):
        agent.locale = locale
    db.commit()
    rows = notify(
        db,
        [a.id for a in agents],
        "security.freeze_failed",
        localized("notif_freeze_failed", number="T-1"),
        brand_id=brand.id,
    )
    assert [n.title for n in rows] == ["帳號凍結失敗：T-1", "账号冻结失败：T-1", "Account freeze failed: T-1"]
    # A plain title is the same for everyone.
    plain = notify(db, [a.id for a in agents], "mention", "Amy @ #1", brand_id=brand.id)
    assert {n.title for n in plain} == {"Amy @ #1"}


def test_every_notification_kind_has_a_label_and_titles_in_every_locale() -> None:
    from kefu.core.catalog import LOCALES, table

    kinds = ["care.opportunity", "follow_up.due", "security.freeze_failed", "ticket.assigned", "callback.due"]
    kinds += ["callback.missed", "callback.reminder", "complaint.overdue", "progress.overdue", "sla.breach"]
    kinds += ["deadline.due_soon", "deadline.overdue", "sla.warning", "sla.escalation", "mention"]
    for locale in LOCALES:
        strings = table(locale)
        assert [k for k in kinds if "nt3_kind_" + k.replace(".", "_") not in strings] == [], locale
