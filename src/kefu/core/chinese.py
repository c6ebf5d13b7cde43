"""Shared OpenCC converters: loading a dictionary set is slow, so each config is built once per process.

Building one holds the GIL for the whole load (OpenCC's C++ constructor does not release it): 60–300 ms during
which no other thread of the process runs, the event loop of a served process included. `kefu serve` workers
therefore build every config kefu uses at start-up (`preload`, from kefu.web.main), before they accept a request.
"""

from __future__ import annotations

import threading
from typing import Any, Final

# Every config kefu converts with; `converter` refuses others, so `preload` leaves no first use to stall a request.
CONFIGS: Final = ("t2s", "s2t", "tw2sp", "s2twp", "t2tw")

_converters: dict[str, Any] = {}
_lock = threading.Lock()


def converter(config: str) -> Any:
    """The process-wide OpenCC converter for `config` (one of CONFIGS)."""
    conv = _converters.get(config)
    if conv is None:
        if config not in CONFIGS:
            raise ValueError(f"OpenCC config {config!r} is not in kefu.core.chinese.CONFIGS")
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


def preload() -> None:
    """Build every converter now (a served process's start-up), not inside the first request that needs one."""
    for config in CONFIGS:
        converter(config)
