"""Channel settings read from KEFU_* environment variables at call time (until they move into core Settings)."""

from __future__ import annotations

import os
from pathlib import Path

from kefu.core.config import get_settings


def env_str(name: str, default: str) -> str:
    """A KEFU_<name> string setting."""
    return os.environ.get(f"KEFU_{name}", default)


def env_int(name: str, default: int) -> int:
    """A KEFU_<name> integer setting (the default when unset or malformed)."""
    try:
        return int(os.environ.get(f"KEFU_{name}", default))
    except ValueError:
        return default


def env_float(name: str, default: float) -> float:
    """A KEFU_<name> float setting (the default when unset or malformed)."""
    try:
        return float(os.environ.get(f"KEFU_{name}", default))
    except ValueError:
        return default


def data_dir() -> Path:
    """Where channel files live (KEFU_DATA_DIR, default ./var)."""
    raw = os.environ.get("KEFU_DATA_DIR")
    return Path(raw) if raw else Path(get_settings().data_dir)


def secret_key() -> str:
    """The install secret (signs visitor tokens)."""
    return get_settings().secret_key


def sweep_seconds() -> float:
    """How often the background sweeper runs (inbound recovery, due outbox, IMAP polls)."""
    return env_float("CHANNELS_SWEEP_SECONDS", 5.0)


def sweep_grace_seconds() -> float:
    """Pending inbound events younger than this are left to their own job before the sweeper steps in."""
    return env_float("CHANNELS_SWEEP_GRACE_SECONDS", 10.0)


def outbox_max_attempts() -> int:
    """Send attempts before an outbox row is dead-lettered."""
    return env_int("OUTBOX_MAX_ATTEMPTS", 8)


def outbox_base_delay() -> float:
    """First retry delay in seconds; doubles per attempt."""
    return env_float("OUTBOX_BASE_DELAY_SECONDS", 5.0)


def outbox_max_delay() -> float:
    """Cap of the retry delay in seconds."""
    return env_float("OUTBOX_MAX_DELAY_SECONDS", 3600.0)


def auto_ack_per_hour() -> int:
    """Automatic acknowledgements per sender address per hour (mail-loop brake)."""
    return env_int("EMAIL_AUTO_ACK_PER_HOUR", 3)


def max_image_bytes() -> int:
    """Largest accepted chat image upload."""
    return env_int("WIDGET_MAX_IMAGE_MB", 10) * 1024 * 1024


def max_video_bytes() -> int:
    """Largest accepted chat video upload."""
    return env_int("WIDGET_MAX_VIDEO_MB", 50) * 1024 * 1024
