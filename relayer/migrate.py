"""Schema migrations with Alembic: `upgrade` brings a database to the newest revision, and is
safe to run from several instances at once (PostgreSQL: under an advisory lock)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: instances starting together take turns migrating instead of racing.
_PG_LOCK_ID = 0x1F_E2A_0001


def sync_url(url: str) -> str:
    """The URL with the synchronous driver Alembic runs on."""
    scheme, rest = url.split(":", 1)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgresql+psycopg:" + rest
    return url


def async_url(url: str) -> str:
    """The URL with the asyncio driver the service runs on."""
    scheme, rest = url.split(":", 1)
    if scheme.startswith("sqlite"):
        return "sqlite+aiosqlite:" + rest
    return "postgresql+psycopg:" + rest


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
