"""One Settings class for process-level configuration (env prefix TOUCHPOINT_).

Workspace policy (consent keywords, quiet hours, caps...) lives in the database, not here: this file only
holds what an operator sets when deploying a process.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("touchpoint-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in data_dir."
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema (search_path) to use; default is the server's.")
    redis_url: str | None = Field(default=None, description="Enables Redis rate limits and realtime fan-out.")
    secret_key: str = DEV_SECRET_KEY
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(default=None, description="Base URL customers and providers reach.")

    # Ingress limits: providers send small JSON; anything bigger is refused before parsing.
    max_webhook_bytes: int = 1_000_000
    max_widget_message_chars: int = 4_000
    widget_rate_per_minute: int = 30

    # Delivery.
    dispatch_batch_size: int = 100
    dispatch_lease_seconds: float = 60.0
    dispatch_idle_poll_seconds: float = 0.5
    # This process trains workspaces' understanding models in the background (seconds to a minute of CPU per
    # training). Scale-out: leave it on for the `touchpoint worker` processes and off for web processes.
    assistant_training: bool = True
    dispatch_concurrency: int = 64
    provider_timeout_seconds: float = 10.0
    max_send_attempts: int = 8
    # Outgoing HTTP to brand-configured URLs refuses private/link-local targets unless this is set.
    allow_private_urls: bool = False

    # Agent assist's optional large-language-model provider (any OpenAI-compatible /v1/chat/completions
    # endpoint). Off unless a base URL and a model are set; it only ever drafts text for an agent to review.
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible API base, e.g. https://api.openai.com/v1; unset = off.")
    llm_api_key: SecretStr | None = Field(default=None, description="Bearer token for the LLM provider.")
    llm_model: str = Field(default="", description="Model name sent to the LLM provider.")
    llm_timeout_seconds: float = Field(default=20.0, gt=0, le=300)

    session_cookie_secure: bool | None = Field(
        default=None, description="Defaults to true outside development."
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                "TOUCHPOINT_SECRET_KEY must be set to a long random value in production "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("TOUCHPOINT_SECRET_KEY must be at least 32 characters in production")
        return self

    @model_validator(mode="after")
    def _lease_outlives_a_send(self) -> Settings:
        # A lease that can run out while a send is still in flight lets another worker send the same
        # message again, and a later message of that conversation overtake it.
        if self.dispatch_lease_seconds < 2 * self.provider_timeout_seconds:
            raise ValueError("TOUCHPOINT_DISPATCH_LEASE_SECONDS must be at least twice "
                             "TOUCHPOINT_PROVIDER_TIMEOUT_SECONDS")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'touchpoint.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.environment == "production"


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (postgresql://, sqlite:///) and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url
