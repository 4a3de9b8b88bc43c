"""Relayer fixtures: a migrated queue database on SQLite and on the real PostgreSQL server; a
deployed devnet and a relayer process on it, for the end-to-end tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from infera_testing.localnet import LocalNetwork
from relayer.migrate import sync_url, upgrade
from relayer.process import LocalRelayer
from support.network import deployed_state, network  # noqa: F401 - fixtures, used by `relayer`

# The test server: trust auth on 127.0.0.1, database `test` (INFERA_TEST_POSTGRES overrides).
POSTGRES = os.environ.get("INFERA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reason() -> str | None:
    """None when the server answers, else why the PostgreSQL tests are skipped."""
    try:
        engine = sa.create_engine(sync_url(POSTGRES), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server here
        return f"PostgreSQL at {POSTGRES} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    return None


@pytest.fixture(scope="session")
def postgres_reason() -> str | None:
    return _postgres_reason()


@pytest.fixture
def postgres_url(postgres_reason: str | None) -> Iterator[str]:
    """A fresh, migrated database of its own on the PostgreSQL server, dropped afterwards."""
    if postgres_reason is not None:
        pytest.skip(postgres_reason)
    name = f"relayer_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(sync_url(POSTGRES), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'relayer.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on both engines the relayer supports."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def relayer(network: LocalNetwork, tmp_path: Path) -> Iterator[LocalRelayer]:  # noqa: F811 - the fixture above
    """A relayer process (not started: a test creates its keys first) on a deployed devnet."""
    r = LocalRelayer(network, tmp_path)
    try:
        yield r
    finally:
        r.stop()
