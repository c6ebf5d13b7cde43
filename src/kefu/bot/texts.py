"""What the bot says, in Traditional Chinese, Simplified Chinese (derived with OpenCC) and English."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from kefu.core.chinese import converter

_TW_EN: dict[str, tuple[str, str]] = {
    "fallback": (
        "抱歉，我不太確定您的意思，可以換個說法嗎？若需要真人客服，請輸入「真人」。",
        'Sorry, I\'m not sure I understood. Could you rephrase? Type "agent" to talk to a person.',
    ),
    "clarify_head": ("請問您想詢問的是：", "Did you mean:"),
    "clarify_tail": ("請回覆數字選擇。", "Reply with a number."),
    "handoff_requested": ("好的，正在為您轉接真人客服，請稍候。", "Sure — connecting you to a human agent now."),
    "handoff_anger": (
        "非常抱歉造成您的不便，已請專人優先為您處理，請稍候。",
        "I'm very sorry for the trouble. A specialist will take over right away.",
    ),
    "handoff_vip": ("已為您安排專屬客服，請稍候。", "Your dedicated agent will be with you shortly."),
    "handoff_unresolved": (
        "這個問題我需要請真人客服協助，已為您轉接，請稍候。",
        "I'll get a human agent to help with this — please hold on.",
    ),
    "handoff_ticket": ("您的案件編號為 {number}。", "Your case number is {number}."),
    "handoff_subject": ("機器人轉接", "Handed off by the bot"),
    "ticket_unknown": (
        "查無工單 {number} 或無法在此確認您的身分，請至客服中心以工單號碼與聯絡資料查詢。",
        "I couldn't find ticket {number} for you here. Please check it on our help center with your contact details.",
    ),
    "ticket_status": (
        "工單 {number} 目前狀態：{status}（最後更新 {updated}）。",
        "Ticket {number} is {status} (updated {updated}).",
    ),
    "summary": (
        "【轉接摘要】客戶問題：{first}{last}｜意圖：{intent}｜情緒：{mood}（憤怒 {anger}/5）｜"
        "機器人回覆 {bot_turns} 次，未解決 {failures} 次",
        "[Handoff summary] Customer asked: {first}{last} | intent: {intent} | mood: {mood} (anger {anger}/5) | "
        "bot replies: {bot_turns}, misses: {failures}",
    ),
    "summary_last": ("；最後訊息：{last}", "; last message: {last}"),
    "st_new": ("已受理", "received"),
    "st_open": ("處理中", "in progress"),
    "st_pending": ("等待您的回覆", "waiting for your reply"),
    "st_on_hold": ("暫緩處理中", "on hold"),
    "st_resolved": ("已解決", "resolved"),
    "st_closed": ("已結案", "closed"),
}


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict[str, str]]:
    cn = converter("tw2sp")
    return {
        "zh-TW": {k: v[0] for k, v in _TW_EN.items()},
        "zh-CN": {k: cn.convert(v[0]) for k, v in _TW_EN.items()},
        "en": {k: v[1] for k, v in _TW_EN.items()},
    }


def t(locale: str, key: str) -> str:
    """A bot string in the given locale (zh-TW when unknown)."""
    table = _tables().get(locale) or _tables()["zh-TW"]
    return table[key]


def clarify(locale: str, questions: list[str]) -> str:
    """Numbered 'did you mean' list."""
    lines = (
        [t(locale, "clarify_head")] + [f"{i}. {q}" for i, q in enumerate(questions, 1)] + [t(locale, "clarify_tail")]
    )
    return "\n".join(lines)


def handoff(locale: str, reason: str, number: str) -> str:
    """Handoff message with the case number."""
    key = f"handoff_{reason}" if f"handoff_{reason}" in _TW_EN else "handoff_requested"
    return t(locale, key) + t(locale, "handoff_ticket").format(number=number)


def ticket_status(locale: str, number: str, status: str, updated: datetime) -> str:
    """Customer-facing ticket progress."""
    return t(locale, "ticket_status").format(
        number=number, status=t(locale, f"st_{status}"), updated=updated.strftime("%Y-%m-%d %H:%M")
    )


def summary(
    locale: str, *, first: str, last: str, intent: str, mood: str, anger: int, bot_turns: int, failures: int
) -> str:
    """Handoff summary line for agents."""
    last_part = t(locale, "summary_last").format(last=last) if last else ""
    return t(locale, "summary").format(
        first=first, last=last_part, intent=intent, mood=mood, anger=anger, bot_turns=bot_turns, failures=failures
    )
