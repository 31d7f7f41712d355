"""Settings: one documented registry, read from ``POVGUARD_*`` environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The secret a development set-up runs with; refused in any other environment.
DEVELOPMENT_SECRET: Final = "povguard-development-secret-do-not-use-in-production"
#: Shortest secret accepted outside development.
MIN_SECRET_LENGTH: Final = 32


class Settings(BaseSettings):
    """povguard settings (environment variables prefixed ``POVGUARD_``)."""

    model_config = SettingsConfigDict(env_prefix="POVGUARD_", extra="ignore")

    home: Path = Field(
        Path("povguard-data"), description="data directory (analytics store, quarantine, reports)"
    )
    database_url: str | None = Field(
        None,
        description="operations database URL; default SQLite file in the data directory, "
        "PostgreSQL in production (postgresql+psycopg://user@host/db)",
    )
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="analytics engine")
    language: Literal["zh", "en"] = Field("zh", description="default user-facing language")
    environment: Literal["development", "production"] = Field(
        "development",
        description="development allows the built-in secret and plain-HTTP cookies; "
        "production refuses both",
    )
    secret_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_SECRET),
        description="signs the sign-in form's CSRF token; at least 32 random characters "
        "outside development (python -c 'import secrets; print(secrets.token_urlsafe(48))')",
    )
    cookie_secure: bool | None = Field(
        None, description="send cookies over HTTPS only; default: on outside development"
    )
    session_hours: float = Field(
        8.0, gt=0, description="a web session ends this long after sign-in"
    )
    session_idle_minutes: float = Field(
        60.0, gt=0, description="a web session ends after this long without a request"
    )
    login_max_failures: int = Field(
        5, ge=1, description="consecutive wrong passwords that lock an account"
    )
    lockout_minutes: float = Field(15.0, gt=0, description="how long a locked account stays locked")
    login_attempts_per_minute: int = Field(
        10, ge=1, description="sign-in attempts accepted per client address and minute"
    )
    trusted_user_header: str | None = Field(
        None,
        description="header carrying the user name set by an OpenID Connect proxy in front "
        "of povguard (e.g. X-Forwarded-User of oauth2-proxy); None disables it",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="client addresses whose trusted_user_header is believed (the proxy's)",
    )
    risk_capacity: int = Field(
        2,
        ge=1,
        description="households per village and month the active risk model lists as "
        "predicted warnings (预测预警) in the monthly cycle",
    )
    min_cell_count: int = Field(
        5, ge=1, description="aggregates below this count are suppressed for analysts"
    )

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment != "development":
            secret = self.secret_key.get_secret_value()
            if secret == DEVELOPMENT_SECRET or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "POVGUARD_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters when POVGUARD_ENVIRONMENT is "
                    f"{self.environment!r} (the development secret is refused)"
                )
        return self

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry the ``Secure`` flag."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment != "development"

    @cached_property
    def analytics_path(self) -> Path:
        """DuckDB file of the analytics store."""
        return self.home / "analytics.duckdb"

    @property
    def ops_url(self) -> str:
        """SQLAlchemy URL of the operations database."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.home / 'ops.sqlite3').resolve()}"


def get_settings() -> Settings:
    """Settings from the environment (a new object each call, so tests can change it)."""
    return Settings()
