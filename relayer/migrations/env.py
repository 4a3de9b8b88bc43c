"""Alembic environment: migrations run on the connection relayer.migrate hands over, or on the
URL in the Alembic config (for `alembic revision --autogenerate` during development)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from relayer.schema import metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, so later migrations copy tables there.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
