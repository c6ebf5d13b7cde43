"""Console strings of the LLM assist panel, written for each locale."""

from __future__ import annotations

UI: dict[str, dict[str, str]] = {
    "zh-TW": {
        "title": "AI 助手",
        "hint": "AI 產生的內容請先確認再送出。",
        "instructions": "補充說明（選填）",
        "draft": "AI 草擬回覆",
        "translate_last": "翻譯客戶最新訊息",
        "translate_draft": "把草稿翻成客戶的語言",
        "use": "放入回覆框",
        "working": "處理中…",
        "failed": "AI 暫時無法使用，請自行回覆。",
        "fallback": "AI 暫時無法使用，已帶入知識庫答案。",
        "flags": "請核對：內容有來源中沒有的數字或連結。",
        "nothing": "沒有可翻譯的客戶訊息。",
    },
    "zh-CN": {
        "title": "AI 助手",
        "hint": "AI 生成的内容请先核对再发送。",
        "instructions": "补充说明（选填）",
        "draft": "AI 起草回复",
        "translate_last": "翻译客户最新消息",
        "translate_draft": "把草稿翻译成客户的语言",
        "use": "填入回复框",
        "working": "处理中…",
        "failed": "AI 暂时不可用，请手动回复。",
        "fallback": "AI 暂时不可用，已填入知识库答案。",
        "flags": "请核对：内容里有来源中没有的数字或链接。",
        "nothing": "没有可翻译的客户消息。",
    },
    "en": {
        "title": "AI assist",
        "hint": "Check AI-written text before you send it.",
        "instructions": "Instructions (optional)",
        "draft": "Draft a reply",
        "translate_last": "Translate the latest customer message",
        "translate_draft": "Translate my draft for the customer",
        "use": "Put in the reply box",
        "working": "Working…",
        "failed": "AI assist is unavailable right now; please reply yourself.",
        "fallback": "AI assist is unavailable; the knowledge-base answer was used instead.",
        "flags": "Please check: it has numbers or links that are not in the sources.",
        "nothing": "No customer message to translate.",
    },
}


def ui(locale: str) -> dict[str, str]:
    """Strings for a console locale (zh-TW when unknown)."""
    return UI.get(locale, UI["zh-TW"])
