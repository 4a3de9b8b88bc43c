"""SQLite as the SDK's programs use it for state that must survive a crash: every write is one
transaction, written through to disk (WAL, synchronous=FULL) before the caller acts on it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def open_db(path: Path) -> sqlite3.Connection:
    """Open (creating folders) a database in autocommit mode: transactions are explicit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """All the block's writes, or none of them (BEGIN IMMEDIATE takes the write lock up front)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
