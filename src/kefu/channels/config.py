"""Channel settings: accessors over the validated `Settings.channels` group (kefu.core.config)."""

from __future__ import annotations

from pathlib import Path

from kefu.core.config import ChannelSettings, get_settings


def settings() -> ChannelSettings:
    """The channel settings group (KEFU_CHANNELS_*, KEFU_OUTBOX_*, KEFU_WIDGET_*, KEFU_SMTP_*, …)."""
    return get_settings().channels


def data_dir() -> Path:
    """Where channel files live (KEFU_DATA_DIR, default ./var)."""
    return Path(get_settings().data_dir)


def secret_key() -> str:
    """The install secret (signs visitor tokens)."""
    return get_settings().secret_key


def sweep_seconds() -> float:
    """How often the background sweeper runs (inbound recovery, due outbox, IMAP polls)."""
    return settings().channels_sweep_seconds


def sweep_grace_seconds() -> float:
    """Pending inbound events younger than this are left to their own job before the sweeper steps in."""
    return settings().channels_sweep_grace_seconds


def outbox_max_attempts() -> int:
    """Send attempts before an outbox row is dead-lettered."""
    return settings().outbox_max_attempts


def outbox_base_delay() -> float:
    """First retry delay in seconds; doubles per attempt."""
    return settings().outbox_base_delay_seconds


def outbox_max_delay() -> float:
    """Cap of the retry delay in seconds."""
    return settings().outbox_max_delay_seconds


def auto_ack_per_hour() -> int:
    """Automatic acknowledgements per sender address per hour (mail-loop brake)."""
    return settings().email_auto_ack_per_hour


def max_image_bytes() -> int:
    """Largest accepted chat image upload."""
    return settings().widget_max_image_mb * 1024 * 1024


def max_video_bytes() -> int:
    """Largest accepted chat video upload."""
    return settings().widget_max_video_mb * 1024 * 1024


def token_days() -> int:
    """Lifetime of a web-chat visitor token in days."""
    return settings().widget_token_days
