"""Shared OpenCC converters: loading a dictionary set is slow, so each config is built once per process."""

from __future__ import annotations

import threading
from typing import Any

_converters: dict[str, Any] = {}
_lock = threading.Lock()


def converter(config: str) -> Any:
    """The process-wide OpenCC converter for `config` (e.g. "t2s", "s2t", "tw2sp", "s2twp")."""
    conv = _converters.get(config)
    if conv is None:
        import opencc

        with _lock:
            conv = _converters.get(config)
            if conv is None:
                conv = opencc.OpenCC(config)
                _converters[config] = conv
    return conv


def convert(text: str, config: str) -> str:
    """Convert text with the shared converter for `config`."""
    return str(converter(config).convert(text))
