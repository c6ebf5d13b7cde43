"""LLM assist API bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Locale = Literal["zh-TW", "zh-CN", "en"]
# The 30 target languages of kefu.llm.prompts.TARGETS (the three console locales first).
Target = Literal[
    "zh-TW", "zh-CN", "en", "ja", "ko", "vi", "th", "id", "ms", "fil", "km", "my", "lo", "hi", "bn",
    "ur", "ar", "fa", "he", "tr", "ru", "uk", "de", "fr", "es", "pt", "it", "nl", "pl", "sv",
]  # fmt: skip


class StatusOut(BaseModel):
    """Whether LLM assist is configured (the console shows its buttons only then)."""

    enabled: bool
    model: str | None


class DraftIn(BaseModel):
    """Ask for a reply draft; optional instructions such as "apologize for the delay"."""

    instructions: str = Field(default="", max_length=1000)


class TranslateIn(BaseModel):
    """Translate a customer message (into the agent's language) or a draft (into the customer's)."""

    message_id: int | None = None
    text: str | None = Field(default=None, min_length=1, max_length=5000)
    target_locale: Target | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TranslateIn:
        if (self.message_id is None) == (self.text is None):
            raise ValueError("Give exactly one of message_id or text.")
        return self


class AssistOut(BaseModel):
    """Text for the agent to review; `flags` lists kinds of facts (number, link) not found in the sources."""

    text: str
    source: Literal["llm", "kb", "none"]
    locale: str
    outcome: str
    flags: list[str]
    faq_ids: list[int]
