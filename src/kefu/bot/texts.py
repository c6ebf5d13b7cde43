"""What the bot says, in Traditional Chinese, Simplified Chinese (derived with OpenCC) and English."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from kefu.core.chinese import converter

_TW_EN: dict[str, tuple[str, str]] = {
    "clarify_head": ("請問您想詢問的是：", "Did you mean:"),
    "clarify_tail": ("請回覆數字或點選問題。", "Reply with a number or tap a question."),
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


# Written per locale (zh-TW, zh-CN, en) as each locale's customers write them.
_WRITTEN: dict[str, tuple[str, str, str]] = {
    "fallback": (
        "抱歉，這個問題我還無法回答。我可以回答{topics}常見問題；"
        "您可以換個方式描述，或輸入「真人」由客服人員協助、輸入「留言」建立案件由專人回覆。",
        "抱歉，这个问题我暂时回答不了。我可以解答{topics}常见问题；"
        "您可以换个说法，或者输入“人工”转人工客服、输入“留言”提交工单由专人回复。",
        "Sorry, I can't answer that yet. I can help with common questions{topics_en}. Try describing it another way, "
        'type "agent" to reach a person, or "ticket" to leave a request.',
    ),
    "smalltalk_greeting": (
        "您好！我是線上客服小幫手，請問有什麼可以為您服務的嗎？",
        "您好！我是在线客服小助手，请问有什么可以帮您？",
        "Hi! I'm the virtual assistant. How can I help you today?",
    ),
    "smalltalk_thanks": (
        "不客氣！還有其他問題都可以問我喔。",
        "不客气！还有其他问题随时问我哦。",
        "You're welcome! Let me know if there's anything else.",
    ),
    "smalltalk_goodbye": (
        "感謝您的詢問，祝您有美好的一天，再見！",
        "感谢您的咨询，祝您生活愉快，再见！",
        "Thanks for reaching out. Have a great day!",
    ),
    "smalltalk_robot": (
        "我是自動回覆的客服小幫手，可以回答常見問題；需要真人協助時請輸入「真人」。",
        "我是自动回复的客服小助手，可以解答常见问题；需要人工服务请输入“人工”。",
        'I\'m an automated assistant that answers common questions. Type "agent" any time to talk to a person.',
    ),
    "smalltalk_testing": (
        "收到！請直接輸入您想詢問的問題。",
        "收到！请直接输入您想咨询的问题。",
        "Got it! Just type your question.",
    ),
    "smalltalk_chitchat": (
        "我是客服小幫手，比較擅長回答服務相關的問題喔！請問有什麼可以幫您？",
        "我是客服小助手，更擅长回答业务相关的问题哦！请问有什么可以帮您？",
        "I'm a customer-service assistant, so I'm best at questions about our services. What can I help with?",
    ),
    "qr_human": ("真人客服", "人工客服", "Talk to an agent"),
    "qr_human_text": ("真人", "人工", "agent"),
}


@lru_cache(maxsize=1)
def _tables() -> dict[str, dict[str, str]]:
    cn = converter("tw2sp")
    tables = {
        "zh-TW": {k: v[0] for k, v in _TW_EN.items()},
        "zh-CN": {k: cn.convert(v[0]) for k, v in _TW_EN.items()},
        "en": {k: v[1] for k, v in _TW_EN.items()},
    }
    for k, (tw, cn_text, en) in _WRITTEN.items():
        tables["zh-TW"][k], tables["zh-CN"][k], tables["en"][k] = tw, cn_text, en
    return tables


def t(locale: str, key: str) -> str:
    """A bot string in the given locale (zh-TW when unknown)."""
    table = _tables().get(locale) or _tables()["zh-TW"]
    return table[key]


def fallback(locale: str, topics: list[str]) -> str:
    """What the bot can do (the brand's main FAQ topics) and how to reach a person or leave a ticket."""
    sep = ", " if locale == "en" else "、"
    listed = sep.join(topics[:3])
    return t(locale, "fallback").format(
        topics=f"{listed}等" if listed else "", topics_en=f" about {listed}" if listed else ""
    )


def smalltalk(locale: str, kind: str) -> str:
    """The short polite reply to a greeting, thanks, goodbye, "are you a robot", a test or chit-chat."""
    return t(locale, f"smalltalk_{kind}") if f"smalltalk_{kind}" in _WRITTEN else t(locale, "smalltalk_chitchat")


def option_label(question: str, limit: int = 20) -> str:
    """A question shortened for a quick-reply button (LINE allows 20 characters)."""
    q = " ".join(question.split())
    return q if len(q) <= limit else q[: limit - 1] + "…"


def quick_replies(locale: str, questions: list[str], *, human: bool = False) -> list[dict[str, str]]:
    """Buttons for channels that have them: one per option (sends its number), plus "talk to an agent"."""
    out = [{"label": option_label(q), "text": str(i)} for i, q in enumerate(questions, 1)]
    if human:
        out.append({"label": t(locale, "qr_human"), "text": t(locale, "qr_human_text")})
    return out


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
