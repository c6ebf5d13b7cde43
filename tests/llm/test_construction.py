"""Defences by construction: one way out (the guarded client), one masking step, no raw-text casts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kefu
from tests.llm.server import ChatServer, Reply

SRC = Path(kefu.__file__).parent


def _sources() -> dict[str, str]:
    return {str(p.relative_to(SRC)): p.read_text(encoding="utf-8") for p in SRC.rglob("*.py")}


def test_llm_http_goes_only_through_the_guarded_client() -> None:
    for name, text in _sources().items():
        if name.startswith("llm/") and name != "llm/client.py":
            assert not re.search(r"^\s*(import|from)\s+(httpx|requests|urllib|kefu\.privacy\.net)\b", text, re.M), name
    client = (SRC / "llm" / "client.py").read_text(encoding="utf-8")
    assert "safe_client(" in client and "httpx.Client(" not in client


def test_only_ask_calls_the_endpoint() -> None:
    callers = sorted(
        name
        for name, text in _sources().items()
        if re.search(r"\bfrom kefu\.llm\.client import[^\n]*\bchat\b", text) or "client.chat(" in text
    )
    assert callers == ["llm/cli.py", "llm/service.py"]  # the CLI check sends a fixed greeting, no customer text
    service = (SRC / "llm" / "service.py").read_text(encoding="utf-8")
    assert service.count("chat(settings") == 1  # inside ask(), which every feature uses


def test_masked_text_is_made_only_by_the_masking_step() -> None:
    # prompts.Masked is what the prompt builders accept (mypy checks it); casting a str to it skips masking.
    casts = {
        name: len(re.findall(r"\bMasked\(", text))
        for name, text in _sources().items()
        if re.search(r"\bMasked\(", text) and name != "llm/prompts.py"
    }
    assert casts == {"llm/service.py": 2, "llm/assist.py": 1, "llm/cli.py": 1}, casts


def test_cli_check(llm_on: ChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from kefu.cli import app
    from kefu.core.config import get_settings

    llm_on.script = lambda r: Reply("Hello, how can I help you?")
    r = CliRunner().invoke(app, ["llm", "check"])
    assert r.exit_code == 0 and "ok in" in r.output and "Hello, how can I help you?" in r.output, r.output
    monkeypatch.delenv("KEFU_LLM_ALLOW_NETWORKS")
    get_settings.cache_clear()
    r = CliRunner().invoke(app, ["llm", "check"])
    assert r.exit_code == 1 and "blocked" in r.output and "KEFU_LLM_ALLOW_NETWORKS" in r.output
    monkeypatch.delenv("KEFU_LLM_BASE_URL")
    get_settings.cache_clear()
    assert CliRunner().invoke(app, ["llm", "check"]).exit_code == 1
