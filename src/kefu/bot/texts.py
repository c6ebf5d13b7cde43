"""What the bot says, written per locale as its customers write them (zh-TW, zh-CN, en) — never machine-converted."""

from __future__ import annotations

import re
from datetime import datetime

from kefu.core.l10n import format_datetime

# key: (zh-TW, zh-CN, en). Taiwanese customers read 真人客服 / 案件編號 (as on the widget and the board) / 身分 /
# 登入 and quote with 「」; mainland customers read 人工客服 / 工单编号 / 身份 / 登录 and quote with “”.
_TEXTS: dict[str, tuple[str, str, str]] = {
    "clarify_head": ("請問您想詢問的是：", "请问您想咨询的是：", "Did you mean:"),
    "clarify_tail": ("請回覆數字或點選問題。", "请回复数字或点击问题。", "Reply with a number or tap a question."),
    "handoff_requested": (
        "好的，正在為您轉接真人客服，請稍候。",
        "好的，正在为您转接人工客服，请稍候。",
        "Sure, I'm connecting you to a human agent now.",
    ),
    "handoff_anger": (
        "非常抱歉造成您的不便，已請專人優先為您處理，請稍候。",
        "非常抱歉给您带来不便，已安排专人优先为您处理，请稍候。",
        "I'm very sorry for the trouble. A specialist will take over right away.",
    ),
    "handoff_vip": (
        "已為您安排專屬客服，請稍候。",
        "已为您安排专属客服，请稍候。",
        "Your dedicated agent will be with you shortly.",
    ),
    "handoff_unresolved": (
        "這個問題需要真人客服協助，已為您轉接，請稍候。",
        "这个问题需要人工客服帮您处理，已为您转接，请稍候。",
        "I'll get a human agent to help with this. Please hold on.",
    ),
    "handoff_ticket": ("您的案件編號為 {number}。", "您的工单编号是 {number}。", "Your ticket number is {number}."),
    "handoff_subject": ("機器人轉接", "机器人转人工", "Handed off by the bot"),
    "ticket_unknown": (
        "查無案件 {number}，或無法在這裡確認您的身分。請到客服中心以案件編號和聯絡資料查詢。",
        "没有查到工单 {number}，或者无法在这里确认您的身份。请到帮助中心用工单编号和联系方式查询。",
        "I couldn't find ticket {number} for you here. Please look it up in our help center with your contact details.",
    ),
    "ticket_status": (
        "案件 {number} 目前狀態：{status}（最後更新 {updated}）。",
        "工单 {number} 当前状态：{status}（最近更新 {updated}）。",
        "Ticket {number} is {status} (last updated {updated}).",
    ),
    "summary": (
        "【轉接摘要】客戶問題：{first}{last}｜意圖：{intent}｜情緒：{mood}（憤怒 {anger}/5）｜"
        "機器人回覆 {bot_turns} 次，未解決 {failures} 次",
        "【转人工摘要】客户问题：{first}{last}｜意图：{intent}｜情绪：{mood}（愤怒值 {anger}/5）｜"
        "机器人回复 {bot_turns} 次，未解决 {failures} 次",
        "[Handoff summary] Customer asked: {first}{last} | intent: {intent} | mood: {mood} (anger {anger}/5) | "
        "bot replies: {bot_turns}, misses: {failures}",
    ),
    "summary_last": ("；最後訊息：{last}", "；最后一条消息：{last}", "; last message: {last}"),
    "mood_anger": ("憤怒", "愤怒", "angry"),
    "mood_frustration": ("挫折", "沮丧", "frustrated"),
    "mood_anxiety": ("焦慮", "焦虑", "anxious"),
    "mood_sadness": ("難過", "难过", "sad"),
    "mood_neutral": ("平靜", "平静", "calm"),
    "mood_joy": ("開心", "开心", "happy"),
    "st_new": ("已受理", "已受理", "received"),
    "st_open": ("處理中", "处理中", "in progress"),
    "st_pending": ("等待您的回覆", "等待您回复", "waiting for your reply"),
    "st_on_hold": ("暫緩處理中", "暂缓处理", "on hold"),
    "st_resolved": ("已解決", "已解决", "resolved"),
    "st_closed": ("已結案", "已关闭", "closed"),
    "fallback_head": (
        "抱歉，這個問題我還無法回答。",
        "抱歉，这个问题我暂时回答不了。",
        "Sorry, I can't answer that yet.",
    ),
    "fallback_topics": (
        "我可以回答{topics}等常見問題。",
        "我可以解答{topics}等常见问题。",
        "I can help with common questions about {topics}.",
    ),
    "fallback_questions": (
        "我可以回答像是{questions}這類問題。",
        "我可以解答像{questions}这类问题。",
        "I can answer questions like {questions}.",
    ),
    "fallback_tail": (
        "您可以換個方式描述，或輸入「真人」由客服人員協助、輸入「留言」建立案件由專人回覆。",
        "您可以换个说法，或者输入“人工”转人工客服，输入“留言”提交工单由专人回复。",
        'You can try describing it another way, type "agent" to reach a person, or "ticket" to leave a request.',
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
LOCALES = ("zh-TW", "zh-CN", "en")
# Between two sentences: Chinese needs nothing after a full-width stop, English needs a space.
_JOIN = {"zh-TW": "", "zh-CN": "", "en": " "}
# Quotation marks and list separators as each locale writes them.
_QUOTE = {"zh-TW": ("「", "」"), "zh-CN": ("“", "”"), "en": ('"', '"')}
_LIST_SEP = {"zh-TW": "、", "zh-CN": "、", "en": ", "}


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else "zh-TW"


def t(locale: str, key: str) -> str:
    """A bot string in the given locale (zh-TW when unknown)."""
    return _TEXTS[key][LOCALES.index(_locale(locale))]


def sentences(locale: str, *parts: str) -> str:
    """Sentences joined as the locale writes them (a space after an English full stop, none in Chinese)."""
    return _JOIN[_locale(locale)].join(p for p in parts if p)


def listing(locale: str, items: list[str]) -> str:
    """A short list as a sentence writes it: 甲、乙、丙 / a, b and c."""
    items = [i for i in items if i]
    if _locale(locale) != "en" or len(items) < 2:
        return _LIST_SEP[_locale(locale)].join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def quoted(locale: str, text: str) -> str:
    """Text in the locale's quotation marks."""
    left, right = _QUOTE[_locale(locale)]
    return f"{left}{text}{right}"


_SLUG = re.compile(r"^[a-z0-9]+(?:[_\-.][a-z0-9]+)*$")


def is_slug(text: str) -> bool:
    """True for an internal key ("account_anomaly", "refund") that must never be shown to a customer."""
    return bool(_SLUG.match(text.strip()))


def fallback(locale: str, topics: list[str], questions: list[str] | None = None) -> str:
    """What the bot can do — the brand's main topics by name, else a few of its FAQ questions — and how to reach a
    person or leave a ticket. Callers pass display names (never category keys) in the customer's locale."""
    topics = [x for x in topics if x][:3]
    middle = ""
    if topics:
        middle = t(locale, "fallback_topics").format(topics=listing(locale, topics))
    elif questions:
        shown = [quoted(locale, option_label(q, 30)) for q in questions[:2] if q]
        sep = " or " if _locale(locale) == "en" else "、"
        middle = t(locale, "fallback_questions").format(questions=sep.join(shown)) if shown else ""
    return sentences(locale, t(locale, "fallback_head"), middle, t(locale, "fallback_tail"))


def smalltalk(locale: str, kind: str) -> str:
    """The short polite reply to a greeting, thanks, goodbye, "are you a robot", a test or chit-chat."""
    key = f"smalltalk_{kind}"
    return t(locale, key) if key in _TEXTS else t(locale, "smalltalk_chitchat")


def option_label(question: str, limit: int = 20) -> str:
    """A question shortened for a quick-reply button (LINE allows 20 characters)."""
    q = " ".join(question.split())
    return q if len(q) <= limit else q[: limit - 1] + "…"


def quick_replies(locale: str, questions: list[str], *, human: bool = False) -> list[dict[str, str]]:
    """Buttons for channels that have them: one per option, plus "talk to an agent".

    A button shows the question cut to 20 characters and sends the whole question, so the transcript reads as the
    customer's own words (the policy accepts an option's text as well as its number).
    """
    out = [{"label": option_label(q), "text": " ".join(q.split())[:300]} for q in questions]
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
    """Handoff message with the ticket number."""
    key = f"handoff_{reason}" if f"handoff_{reason}" in _TEXTS else "handoff_requested"
    return sentences(locale, t(locale, key), t(locale, "handoff_ticket").format(number=number))


def ticket_status(locale: str, number: str, status: str, updated: datetime, tz: str | None = None) -> str:
    """Customer-facing ticket progress (the update time in the brand's zone, written per locale)."""
    key = f"st_{status}"
    return t(locale, "ticket_status").format(
        number=number,
        status=t(locale, key) if key in _TEXTS else status,
        updated=format_datetime(updated, locale, tz),
    )


def mood_label(locale: str, label: str) -> str:
    """An emotion label (kefu.bot.emotion.LABELS) in the reader's language."""
    key = f"mood_{label}"
    return t(locale, key) if key in _TEXTS else label


def summary(
    locale: str, *, first: str, last: str, intent: str, mood: str, anger: int, bot_turns: int, failures: int
) -> str:
    """Handoff summary line for agents (``mood`` is an emotion label; it is shown in the reader's language)."""
    last_part = t(locale, "summary_last").format(last=last) if last else ""
    return t(locale, "summary").format(
        first=first,
        last=last_part,
        intent=intent,
        mood=mood_label(locale, mood),
        anger=anger,
        bot_turns=bot_turns,
        failures=failures,
    )
