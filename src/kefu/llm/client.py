"""A bounded chat-completions call to an OpenAI-compatible endpoint, through the SSRF-guarded HTTP client.

Hand-written rather than the `openai` SDK: the protocol we use is one POST with a JSON body, and the SDK's retries
and extra dependencies would work against the hard deadline below. The deadline covers DNS, connect, the queue of
concurrent calls and a slowly dripping body: the request runs on a small worker pool and the caller stops waiting
when the configured timeout has passed (httpx's per-phase timeouts end the worker soon after).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import httpx

from kefu.core.config import Settings
from kefu.privacy.net import BlockedDestination, GuardedClient, allow_from_env, safe_client

MAX_RESPONSE_BYTES = 256_000


class LlmError(Exception):
    """The endpoint did not produce a usable answer; `outcome` is a short code for logs and audit."""

    def __init__(self, outcome: str, detail: str = "") -> None:
        super().__init__(f"{outcome}: {detail}" if detail else outcome)
        self.outcome = outcome
        self.detail = detail


@dataclass(frozen=True)
class Completion:
    """The model's reply and what it cost."""

    text: str
    model: str
    latency_ms: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def is_enabled(settings: Settings) -> bool:
    """LLM assist is on only when an endpoint and a model are configured."""
    return bool(settings.llm_base_url and settings.llm_model)


_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kefu-llm")
_clients: dict[tuple[str, ...], GuardedClient] = {}
_clients_lock = threading.Lock()


def _client(settings: Settings) -> GuardedClient:
    allow = tuple(sorted({*allow_from_env(), *settings.llm_allow_networks}))
    key = (str(settings.llm_timeout), *allow)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            # A POST answered by a redirect is a misconfiguration, not something to follow.
            client = safe_client(list(allow), timeout=settings.llm_timeout, follow_redirects=False)
            _clients[key] = client
        return client


def _endpoint(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


def _post(settings: Settings, body: dict[str, Any], deadline: float) -> tuple[int, bytes]:
    headers = {"Accept": "application/json"}
    if settings.llm_api_key is not None and settings.llm_api_key.get_secret_value():
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    assert settings.llm_base_url
    with _client(settings).stream("POST", _endpoint(settings.llm_base_url), json=body, headers=headers) as resp:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if time.monotonic() > deadline:  # the caller has given up: free this worker instead of draining a drip
                raise LlmError("timeout", "body still arriving at the deadline")
            if size > MAX_RESPONSE_BYTES:
                raise LlmError("error", "response too large")
            chunks.append(chunk)
        return resp.status_code, b"".join(chunks)


def chat(
    settings: Settings, messages: list[dict[str, str]], *, max_tokens: int = 600, temperature: float = 0.2
) -> Completion:
    """One chat completion within settings.llm_timeout seconds, or LlmError (timeout / blocked / error)."""
    if not is_enabled(settings):
        raise LlmError("disabled")
    assert settings.llm_model
    body = {
        "model": settings.llm_model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": False,
    }
    started = time.monotonic()
    future = _pool.submit(_post, settings, body, started + settings.llm_timeout)
    try:
        status, raw = future.result(timeout=settings.llm_timeout)
    except FutureTimeout as exc:
        future.cancel()
        raise LlmError("timeout", f"no answer within {settings.llm_timeout:g}s") from exc
    except LlmError:
        raise
    except BlockedDestination as exc:
        raise LlmError("blocked", str(exc)) from exc
    except httpx.TimeoutException as exc:
        raise LlmError("timeout", type(exc).__name__) from exc
    except Exception as exc:  # bad URL, TLS, protocol…: whatever it is, the caller falls back
        raise LlmError("error", type(exc).__name__) from exc
    latency = int((time.monotonic() - started) * 1000)
    if status >= 300:
        raise LlmError("error", f"HTTP {status}")
    return _parse(raw, settings.llm_model, latency)


def _parse(raw: bytes, model: str, latency_ms: int) -> Completion:
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LlmError("error", "not a chat-completions response") from exc
    if not isinstance(content, str):
        raise LlmError("error", "no text content")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        text=content,
        model=str(data.get("model") or model),
        latency_ms=latency_ms,
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None
