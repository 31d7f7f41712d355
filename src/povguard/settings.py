"""Settings: one documented registry, read from ``POVGUARD_*`` environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
