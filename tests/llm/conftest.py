"""LLM test fixtures: a chat-completions server on 127.0.0.1 and the KEFU_LLM_* settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from kefu.bot.engine import FaqDoc, IndexRegistry
from tests.llm.server import ChatServer, Reply


class OverlapRetriever:
    """Deterministic stand-in for the NLU (character overlap), so the bot's decisions are exact."""

    def __init__(self, docs: Sequence[FaqDoc]) -> None:
        self.rows = [(d.id, q) for d in docs for q in d.questions]

    def search(self, text: str, k: int) -> list[tuple[int, float, str]]:
        t = set(text.lower())
        scored = [(i, len(t & set(q.lower())) / max(len(t | set(q.lower())), 1), q) for i, q in self.rows]
        return sorted(scored, key=lambda r: -r[1])[:k]


@pytest.fixture
def registry() -> Iterator[IndexRegistry]:
    from kefu.bot.engine import INDEX_REGISTRY
    from kefu.core import runtime

    reg = IndexRegistry(factory=OverlapRetriever, check_interval=0.0, background=False)
    with runtime.override(INDEX_REGISTRY, reg):
        yield reg


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A running chat-completions server (answers "OK" until a test scripts it)."""
    server = ChatServer(script=lambda r: Reply("OK")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from kefu.core.config import get_settings

    for name in ("BASE_URL", "MODEL", "API_KEY", "TIMEOUT", "ALLOW_NETWORKS"):
        monkeypatch.delenv(f"KEFU_LLM_{name}", raising=False)
    monkeypatch.delenv("KEFU_OUTBOUND_ALLOW", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def llm_on(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    """KEFU_LLM_* configured for the local server (request this before `client` so the app sees it)."""
    from kefu.core.config import get_settings

    monkeypatch.setenv("KEFU_LLM_BASE_URL", chat_server.base_url)
    monkeypatch.setenv("KEFU_LLM_MODEL", "qwen2.5:7b-instruct")
    monkeypatch.setenv("KEFU_LLM_API_KEY", "sk-test-key")
    monkeypatch.setenv("KEFU_LLM_TIMEOUT", "1.0")
    monkeypatch.setenv("KEFU_LLM_ALLOW_NETWORKS", "127.0.0.1/32")
    get_settings.cache_clear()
    return chat_server
