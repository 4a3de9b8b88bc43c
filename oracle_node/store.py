"""The node's durable memory: each job's state, and the vector and salt it committed to.

The vector and salt are written (and fsynced by SQLite) BEFORE the commit transaction is sent, so
a node that crashes between commit and reveal can still reveal after a restart; losing the salt
would mean a missed reveal, which is slashed.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from infera.storage import open_db, transaction


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
    seat: int | None = None  # our seat index from JobAssigned: a hint for commitBatch/revealBatch


_WORK_COLUMNS = "job_id, state, vector, salt, ready_since, seat"


def _work(r: tuple[Any, ...]) -> Work:
    return Work(int(r[0]), WorkState(r[1]), r[2], r[3], r[4], None if r[5] is None else int(r[5]))


class WorkStore:
    def __init__(self, path: Path) -> None:
        self._db = open_db(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS work (job_id INTEGER PRIMARY KEY, state TEXT NOT NULL,"
            " vector BLOB, salt BLOB, ready_since REAL, updated REAL NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        # Blocks this node scanned up to, with their hashes: on a reorg the scanner walks back to
        # the newest one still canonical (the common ancestor) and scans again from there.
        self._db.execute("CREATE TABLE IF NOT EXISTS checkpoint (number INTEGER PRIMARY KEY, hash BLOB NOT NULL)")
        # Jobs of the models this node serves, whoever sits on them: a node also moves on jobs
        # whose whole committee died (keeper duty). check_after: when to look at one again.
        self._db.execute("CREATE TABLE IF NOT EXISTS watch (job_id INTEGER PRIMARY KEY, check_after REAL NOT NULL,"
                         " submit_block INTEGER NOT NULL)")
        self._add_column("assigned_block", "INTEGER")
        self._add_column("assigned_hash", "BLOB")
        self._add_column("submit_block", "INTEGER")
        self._add_column("seat", "INTEGER")

    def _add_column(self, name: str, kind: str) -> None:
        """Stores written by an older node lack the newer columns; add them in place."""
        columns = {str(r[1]) for r in self._db.execute("PRAGMA table_info(work)").fetchall()}
        if name not in columns:
            self._db.execute(f"ALTER TABLE work ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self._db.close()

    def add_assignments(self, job_ids: list[int]) -> list[int]:
        """Record new assignments (block unknown) in one transaction; returns those not known before."""
        return self.record_assignments([(j, 0, b"") for j in job_ids])

    def add_assignment(self, job_id: int) -> bool:
        """Record a new assignment; False if the job is already known."""
        return bool(self.add_assignments([job_id]))

    def record_assignments(self, seen: list[tuple[int, int, bytes]]) -> list[int]:
        """Record assignment events (job id, block number, block hash) in one transaction;
        returns the jobs that are new or reopened. A job already given up or closed is reopened
        when its assignment comes from a block it was not recorded in: after a reorg the seat
        is drawn again in a new block, and it is live again. A reopened job keeps any vector
        and salt it sealed, so a commitment that did land is still revealed with its own salt."""
        opened = []
        now = time.time()
        with self._transaction():
            for job_id, number, block_hash in {j: (j, n, h) for j, n, h in seen}.values():
                row = self._db.execute("SELECT state, assigned_hash, vector FROM work WHERE job_id=?", (job_id,)).fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO work (job_id, state, updated, assigned_block, assigned_hash) VALUES (?, ?, ?, ?, ?)",
                        (job_id, WorkState.ASSIGNED.value, now, number or None, block_hash or None))
                    opened.append(job_id)
                elif block_hash and row[1] is None:
                    self._db.execute("UPDATE work SET assigned_block=?, assigned_hash=? WHERE job_id=?",
                                     (number, block_hash, job_id))
                elif block_hash and bytes(row[1]) != block_hash:
                    state = row[0]
                    if state == WorkState.DONE.value:
                        state = (WorkState.SEALED if row[2] is not None else WorkState.ASSIGNED).value
                        opened.append(job_id)
                    self._db.execute("UPDATE work SET state=?, assigned_block=?, assigned_hash=?, updated=? WHERE job_id=?",
                                     (state, number, block_hash, now, job_id))
        return opened

    def set_submit_blocks(self, blocks: dict[int, int]) -> None:
        """Record the block each job was submitted in (job id -> block), in one transaction: a
        write per job would be a disk sync per job inside the node's embed-and-commit path."""
        with self._transaction():
            self._db.executemany("UPDATE work SET submit_block=? WHERE job_id=?",
                                 [(block, job_id) for job_id, block in blocks.items()])

    def set_seats(self, seats: dict[int, int]) -> None:
        """Record our seat index on each job (job id -> seat), from its latest JobAssigned, in
        one transaction. A reorg may redraw the job with another seat: the latest wins."""
        with self._transaction():
            self._db.executemany("UPDATE work SET seat=? WHERE job_id=?", [(seat, job_id) for job_id, seat in seats.items()])

    def blocks_of(self, job_ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
        """Job id -> (submit block, assignment block), where known: they bound the log reads."""
        marks = ",".join("?" for _ in job_ids)
        rows = self._db.execute(f"SELECT job_id, submit_block, assigned_block FROM work WHERE job_id IN ({marks})",
                                job_ids).fetchall() if job_ids else []
        return {int(r[0]): (None if r[1] is None else int(r[1]), None if r[2] is None else int(r[2])) for r in rows}

    # ------------------------------------------------------------------ keeper
    def watch(self, submitted: list[tuple[int, int]]) -> None:
        """Watch jobs (job id, block it was submitted in)."""
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO watch (job_id, check_after, submit_block) VALUES (?, 0, ?)",
                                 submitted)

    def watched_submit_blocks(self, job_ids: list[int]) -> dict[int, int]:
        marks = ",".join("?" for _ in job_ids)
        rows = self._db.execute(f"SELECT job_id, submit_block FROM watch WHERE job_id IN ({marks})",
                                job_ids).fetchall() if job_ids else []
        return {int(r[0]): int(r[1]) for r in rows}

    def watched_due(self, now: float, limit: int) -> list[int]:
        """Watched jobs whose time to be looked at again has come, oldest first."""
        rows = self._db.execute("SELECT job_id FROM watch WHERE check_after <= ? ORDER BY job_id LIMIT ?",
                                (now, limit)).fetchall()
        return [int(r[0]) for r in rows]

    def recheck_at(self, later: dict[int, float]) -> None:
        with self._transaction():
            self._db.executemany("UPDATE watch SET check_after=? WHERE job_id=?", [(t, j) for j, t in later.items()])

    def unwatch(self, job_ids: list[int]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM watch WHERE job_id=?", [(j,) for j in job_ids])

    # --------------------------------------------------------------- scan cursor
    def cursor(self) -> tuple[int, bytes] | None:
        row = self._db.execute("SELECT number, hash FROM checkpoint ORDER BY number DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def checkpoints(self) -> list[tuple[int, bytes]]:
        """Every kept checkpoint, newest first."""
        return [(int(r[0]), bytes(r[1])) for r in
                self._db.execute("SELECT number, hash FROM checkpoint ORDER BY number DESC").fetchall()]

    def advance_cursor(self, number: int, block_hash: bytes, keep: int = 128) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO checkpoint (number, hash) VALUES (?, ?)", (number, block_hash))
            self._db.execute("DELETE FROM checkpoint WHERE number NOT IN"
                             " (SELECT number FROM checkpoint ORDER BY number DESC LIMIT ?)", (keep,))

    def rewind_cursor(self, number: int) -> None:
        """Forget checkpoints above `number` (they were on a branch that is gone)."""
        self._db.execute("DELETE FROM checkpoint WHERE number > ?", (number,))

    def seal(self, job_id: int, vector: bytes, salt: bytes) -> None:
        self.seal_many([(job_id, vector, salt)])

    def seal_many(self, sealed: list[tuple[int, bytes, bytes]]) -> None:
        """Persist vectors and salts (job id, vector, salt) in one transaction: one fsync for a
        whole batch, not one per job."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                # Never over a sealed salt: a commitment sent with it may be on chain. Only a job
                # still assigned: the embedding runs beside the tick, which may have closed it.
                "UPDATE work SET state=?, vector=?, salt=?, updated=? WHERE job_id=? AND salt IS NULL AND state=?",
                [(WorkState.SEALED.value, vector, salt, now, job_id, WorkState.ASSIGNED.value)
                 for job_id, vector, salt in sealed],
            )

    def set_state(self, job_id: int, state: WorkState) -> None:
        self.set_states([job_id], state)

    def set_states(self, job_ids: list[int], state: WorkState) -> None:
        """Move several jobs to `state` in one transaction."""
        now = time.time()
        with self._transaction():
            self._db.executemany("UPDATE work SET state=?, updated=? WHERE job_id=?",
                                 [(state.value, now, job_id) for job_id in job_ids])

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db)

    def mark_ready(self, job_ids: list[int], since: float) -> dict[int, float]:
        """Remember when each job first looked ready to finalize; returns those moments (job id
        -> time). One transaction for all: the node checks every revealed job on every tick."""
        if not job_ids:
            return {}
        with self._transaction():
            self._db.executemany("UPDATE work SET ready_since=COALESCE(ready_since, ?) WHERE job_id=?",
                                 [(since, job_id) for job_id in job_ids])
        marks = ",".join("?" for _ in job_ids)
        rows = self._db.execute(f"SELECT job_id, ready_since FROM work WHERE job_id IN ({marks})", job_ids).fetchall()
        return {int(r[0]): float(r[1]) for r in rows}

    def in_states(self, *states: WorkState) -> list[Work]:
        marks = ",".join("?" for _ in states)
        rows = self._db.execute(
            f"SELECT {_WORK_COLUMNS} FROM work WHERE state IN ({marks}) ORDER BY job_id",
            [s.value for s in states],
        ).fetchall()
        return [_work(r) for r in rows]

    def open_job_ids(self) -> set[int]:
        """Jobs this node still holds (any state but done), without their vectors and salts."""
        rows = self._db.execute("SELECT job_id FROM work WHERE state != ?", (WorkState.DONE.value,)).fetchall()
        return {int(r[0]) for r in rows}

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM work GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def get(self, job_id: int) -> Work | None:
        r = self._db.execute(f"SELECT {_WORK_COLUMNS} FROM work WHERE job_id=?", (job_id,)).fetchone()
        return None if r is None else _work(r)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
