"""Runtime settings, read from KEFU_* environment variables (and an optional .env file).

One validated tree: `Settings` plus nested groups (`Settings.channels`); a malformed value fails at start-up with
the variable's name instead of silently becoming the default. Nested groups keep flat variable names
(KEFU_OUTBOX_MAX_ATTEMPTS, not KEFU_CHANNELS__…).
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - marker value refused outside dev mode


def _split_list(value: Any) -> Any:
    """A JSON list or a comma-separated string (how operators write lists in one variable)."""
    if isinstance(value, str):
        raw = value.strip()
        if raw.startswith("["):
            return json.loads(raw)
        return [part.strip() for part in raw.split(",") if part.strip()]
    return value


class ChannelSettings(BaseSettings):
    """Channel runtime knobs (sweeper, outbox retries, uploads, SMTP receiver); each maps to KEFU_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", env_file=".env", extra="ignore")

    channels_background: bool = True  # run the inbound/outbox sweeper inside `kefu serve`
    channels_sweep_seconds: float = Field(default=5.0, gt=0)
    # Pending inbound events younger than this are left to their own job before the sweeper steps in.
    channels_sweep_grace_seconds: float = Field(default=10.0, ge=0)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_base_delay_seconds: float = Field(default=5.0, ge=0)  # first retry delay; doubles per attempt
    outbox_max_delay_seconds: float = Field(default=3600.0, ge=0)
    email_auto_ack_per_hour: int = Field(default=3, ge=0)  # mail-loop brake per sender address
    widget_max_image_mb: int = Field(default=10, ge=0)
    widget_max_video_mb: int = Field(default=50, ge=0)
    widget_token_days: int = Field(default=30, ge=1)
    smtp_host: str = "127.0.0.1"
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # unset: `kefu serve` starts no SMTP receiver


class Settings(BaseSettings):
    """All kefu configuration; every field maps to KEFU_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    secret_key: str = DEV_SECRET
    database_url: str = "sqlite:///./var/kefu.db"
    redis_url: str | None = None
    redis_prefix: str = "kefu"
    bus_backend: Literal["auto", "memory", "redis"] = "auto"
    jobs_backend: Literal["auto", "memory", "redis"] = "auto"
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    allowed_origins: list[str] = Field(default_factory=list)
    session_cookie: str = "kefu_session"
    session_ttl_hours: int = 12
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_seconds: int = 900
    default_page_size: int = 50
    max_page_size: int = 200
    data_dir: Path = Path("./var")
    log_level: str = "INFO"
    # A job whose worker died is re-claimed after this idle time; it must stay above the longest job.
    jobs_idle_timeout_ms: int = 60_000
    # Jobs a worker reads at once: 1 means it only claims what it is about to run (no stranded prefetch).
    jobs_xread_count: int = 1
    scheduler: bool = True  # run the (leader-elected) periodic-job scheduler inside `kefu serve`
    # Previous secret keys (JSON list or comma-separated) that still decrypt data written before a rotation.
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Internal networks outbound HTTP may reach despite the SSRF guard (JSON list or comma-separated CIDRs).
    outbound_allow: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)

    @field_validator("old_secret_keys", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        # Host bits are allowed (10.0.0.1/8 means 10.0.0.0/8), as the SSRF policy always read them.
        items = _split_list(value)
        if not isinstance(items, list):
            return items
        try:
            return [ipaddress.ip_network(str(item), strict=False) for item in items]
        except ValueError as exc:
            raise ValueError(f"KEFU_OUTBOUND_ALLOW: {exc}") from exc

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "dev" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                f"KEFU_SECRET_KEY must be set to a random value of at least 32 characters (KEFU_ENV={self.env})"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the configured database is SQLite."""
        return self.database_url.startswith("sqlite")

    @property
    def effective_bus_backend(self) -> Literal["memory", "redis"]:
        """Bus backend after resolving 'auto' (Redis when a URL is configured)."""
        if self.bus_backend == "auto":
            return "redis" if self.redis_url else "memory"
        return self.bus_backend

    @property
    def effective_jobs_backend(self) -> Literal["memory", "redis"]:
        """Job backend after resolving 'auto' (Redis when a URL is configured)."""
        if self.jobs_backend == "auto":
            return "redis" if self.redis_url else "memory"
        return self.jobs_backend


class _SettingsCache:
    """`get_settings()`: one `Settings` per distinct KEFU_* environment (in a process that is exactly one)."""

    def __init__(self) -> None:
        self._key: tuple[tuple[str, str], ...] | None = None
        self._value: Settings | None = None

    def __call__(self) -> Settings:
        """The settings for the current KEFU_* environment (re-read when a variable changed, e.g. in tests)."""
        key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("KEFU_")))
        if self._value is None or key != self._key:
            self._value, self._key = Settings(), key
        return self._value

    def cache_clear(self) -> None:
        """Forget the cached settings (the next call re-reads the environment and .env)."""
        self._value = self._key = None


get_settings = _SettingsCache()
