"""Prompts for each LLM task (English instructions work best across local and hosted models)."""

from __future__ import annotations

from typing import NewType

# Customer-derived text after kefu.privacy's mask_for_external (see service.masked): mypy refuses a plain str here,
# so a new prompt cannot carry raw customer text by accident.
Masked = NewType("Masked", str)

NO_ANSWER = "NO_ANSWER"

LANGUAGES = {
    "zh-TW": "Traditional Chinese as written in Taiwan (繁體中文)",
    "zh-CN": "Simplified Chinese as written in mainland China (简体中文)",
    "en": "English",
}

# Further languages agents can translate drafts into (文字實時翻譯, seed 003: 30 languages with the three above).
MORE_LANGUAGES = {
    "ja": "Japanese",
    "ko": "Korean",
    "vi": "Vietnamese",
    "th": "Thai",
    "id": "Indonesian",
    "ms": "Malay",
    "fil": "Filipino (Tagalog)",
    "km": "Khmer",
    "my": "Burmese",
    "lo": "Lao",
    "hi": "Hindi",
    "bn": "Bengali",
    "ur": "Urdu",
    "ar": "Arabic",
    "fa": "Persian",
    "he": "Hebrew",
    "tr": "Turkish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "pl": "Polish",
    "sv": "Swedish",
}
TARGETS = (*LANGUAGES, *MORE_LANGUAGES)

MASK_NOTE = "Personal data in the conversation has been masked with * characters; keep it masked, never guess it."


def language(locale: str) -> str:
    """The model-facing name of a locale."""
    return LANGUAGES.get(locale) or MORE_LANGUAGES.get(locale) or LANGUAGES["en"]


def phrase_answer(locale: str, faq_question: Masked, faq_answer: str, customer_text: Masked) -> list[dict[str, str]]:
    """Rephrase one FAQ answer for the customer's message, grounded in that answer only."""
    system = (
        "You are a customer-service assistant. Reply to the customer using ONLY the facts in the FAQ answer "
        f"below, rephrased naturally and briefly in {language(locale)}. Do not add any fact, number, price, "
        "date, time limit, link, phone number, email address or promise that the FAQ answer does not contain; "
        "copy every number and link exactly. Do not mention the FAQ. "
        f"If the FAQ answer does not answer the customer's message, reply with exactly {NO_ANSWER}. {MASK_NOTE}"
    )
    user = f"FAQ question: {faq_question}\nFAQ answer: {faq_answer}\n\nCustomer message: {customer_text}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def handoff_summary(locale: str, transcript: Masked) -> list[dict[str, str]]:
    """Summarize a bot conversation for the human agent taking over."""
    system = (
        f"Summarize this customer-service chat for the human agent taking it over, in {language(locale)}, in at "
        "most three short sentences: what the customer wants, what the bot already answered or tried, and the "
        "customer's mood. Use only facts from the transcript. Output only the summary. " + MASK_NOTE
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": transcript}]


def draft_reply(locale: str, knowledge: Masked, transcript: Masked, instructions: Masked) -> list[dict[str, str]]:
    """Draft the agent's next reply, grounded in the knowledge-base answers given."""
    system = (
        f"You draft the next reply that a customer-service agent will send to the customer, in {language(locale)}. "
        "Take facts only from the knowledge-base answers and the conversation; when they do not cover the "
        "question, write a short polite reply that asks for the missing details or says the agent will check. "
        "Never invent policies, numbers, prices, dates or links. Output only the reply text. " + MASK_NOTE
    )
    user = f"Knowledge base:\n{knowledge or '(no matching answers)'}\n\nConversation (oldest first):\n{transcript}"
    if instructions:
        user += f"\n\nAgent's instructions for this reply: {instructions}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def translate(locale: str, text: Masked) -> list[dict[str, str]]:
    """Translate a message into the locale's language."""
    system = (
        f"Translate the user's text into {language(locale)}. Output only the translation. Keep numbers, links, "
        "order codes and masked values (with * characters) exactly as written."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]
