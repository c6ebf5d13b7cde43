"""`kefu llm check`: try the configured endpoint once (allow-list, model name, key, latency) without a database."""

from __future__ import annotations

import typer

llm_app = typer.Typer(help="Optional LLM assist.", no_args_is_help=True)


@llm_app.callback()
def _llm() -> None:
    """Optional LLM assist."""


@llm_app.command("check")
def check() -> None:
    """Send one tiny translation request to KEFU_LLM_BASE_URL and report the outcome (exit 1 on failure)."""
    from kefu.core.config import get_settings
    from kefu.llm import guard, prompts
    from kefu.llm.client import LlmError, chat, is_enabled

    settings = get_settings()
    if not is_enabled(settings):
        typer.echo("LLM assist is off: set KEFU_LLM_BASE_URL and KEFU_LLM_MODEL.")
        raise typer.Exit(1)
    typer.echo(f"endpoint {settings.llm_base_url}  model {settings.llm_model}  timeout {settings.llm_timeout:g}s")
    try:
        done = chat(settings, prompts.translate("en", prompts.Masked("您好，請問有什麼可以幫您？")), max_tokens=60)
    except LlmError as exc:
        hint = ""
        if exc.outcome == "blocked":
            hint = "  (a private or loopback address: list it in KEFU_LLM_ALLOW_NETWORKS, e.g. 127.0.0.1/32)"
        typer.echo(f"failed: {exc.outcome} {exc.detail}{hint}")
        raise typer.Exit(1) from exc
    typer.echo(f"ok in {done.latency_ms} ms ({done.model}): {guard.clean_output(done.text)[:200]}")
