"""The node's durable memory: each job's state, and the vector and salt it committed to.

The vector and salt are written (and fsynced by SQLite) BEFORE the commit transaction is sent, so
a node that crashes between commit and reveal can still reveal after a restart; losing the salt
would mean a missed reveal, which is slashed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class WorkState(StrEnum):
    ASSIGNED = "assigned"  # seen the assignment, nothing computed yet
    SEALED = "sealed"  # vector and salt persisted; commit may or may not be on chain
    COMMITTED = "committed"
    REVEALED = "revealed"
    DONE = "done"  # job terminal (accepted or refunded) or our seat dropped


@dataclass(frozen=True)
class Work:
    job_id: int
    state: WorkState
    vector: bytes | None
    salt: bytes | None
    ready_since: float | None


class WorkStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS work (job_id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
            " vector BLOB, salt BLOB, ready_since REAL, updated REAL NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def close(self) -> None:
        self._db.close()

    def add_assignments(self, job_ids: list[int]) -> list[int]:
        """Record new assignments in one transaction; returns those not known before."""
        with self._transaction():
            fresh = [j for j in dict.fromkeys(job_ids)
                     if self._db.execute("SELECT 1 FROM work WHERE job_id=?", (j,)).fetchone() is None]
            now = time.time()
            self._db.executemany("INSERT INTO work (job_id, state, updated) VALUES (?, ?, ?)",
                                 [(j, WorkState.ASSIGNED.value, now) for j in fresh])
        return fresh

    def add_assignment(self, job_id: int) -> bool:
        """Record a new assignment; False if the job is already known."""
        return bool(self.add_assignments([job_id]))

    def seal(self, job_id: int, vector: bytes, salt: bytes) -> None:
        self.seal_many([(job_id, vector, salt)])

    def seal_many(self, sealed: list[tuple[int, bytes, bytes]]) -> None:
        """Persist vectors and salts (job id, vector, salt) in one transaction: one fsync for a
        whole batch, not one per job."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "UPDATE work SET state=?, vector=?, salt=?, updated=? WHERE job_id=?",
                [(WorkState.SEALED.value, vector, salt, now, job_id) for job_id, vector, salt in sealed],
            )

    def set_state(self, job_id: int, state: WorkState) -> None:
        self.set_states([job_id], state)

    def set_states(self, job_ids: list[int], state: WorkState) -> None:
        """Move several jobs to `state` in one transaction."""
        now = time.time()
        with self._transaction():
            self._db.executemany("UPDATE work SET state=?, updated=? WHERE job_id=?",
                                 [(state.value, now, job_id) for job_id in job_ids])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def mark_ready(self, job_id: int, since: float) -> float:
        """Remember when the job first looked ready to finalize; returns that moment."""
        self._db.execute("UPDATE work SET ready_since=COALESCE(ready_since, ?) WHERE job_id=?", (since, job_id))
        row = self._db.execute("SELECT ready_since FROM work WHERE job_id=?", (job_id,)).fetchone()
        return float(row[0])

    def in_states(self, *states: WorkState) -> list[Work]:
        marks = ",".join("?" for _ in states)
        rows = self._db.execute(
            f"SELECT job_id, state, vector, salt, ready_since FROM work WHERE state IN ({marks}) ORDER BY job_id",
            [s.value for s in states],
        ).fetchall()
        return [Work(int(r[0]), WorkState(r[1]), r[2], r[3], r[4]) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM work GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def get(self, job_id: int) -> Work | None:
        r = self._db.execute(
            "SELECT job_id, state, vector, salt, ready_since FROM work WHERE job_id=?", (job_id,)
        ).fetchone()
        return None if r is None else Work(int(r[0]), WorkState(r[1]), r[2], r[3], r[4])

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
