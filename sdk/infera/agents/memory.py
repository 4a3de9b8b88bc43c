"""The agent's memory: verified vectors, decisions, outcomes, what it has seen, and its own
state (policy, budget, perceiver cursors), in one SQLite file written through to disk.

Every vector here came from an accepted Infera job: the job id, the agreeing nodes and the lowest
cosine between them are kept beside it, so a decision can be traced to the committee that
verified its input. One step's writes (decisions, seen keys, state) go in one transaction, so a
crash leaves the memory at the end of the last whole step.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from infera.storage import open_db, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    job_id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    agreeing TEXT NOT NULL,
    min_cosine REAL NOT NULL,
    threshold REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_by_text ON vectors(text);
CREATE TABLE IF NOT EXISTS decisions (
    subject TEXT PRIMARY KEY,
    job_id INTEGER,
    label TEXT,
    nearest TEXT,
    score REAL NOT NULL,
    actions TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    subject TEXT PRIMARY KEY,
    truth TEXT NOT NULL,
    changes TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS state (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class VerifiedVector:
    """An embedding the network accepted: the int8 vector of job `job_id` for `text`."""

    job_id: int
    text: str
    vector: npt.NDArray[np.int8]
    agreeing: tuple[str, ...]
    min_cosine: float  # lowest cosine between two agreeing nodes' reveals
    threshold: float  # the model's agreement threshold the job was judged by


@dataclass(frozen=True)
class DecisionRecord:
    subject: str
    job_id: int | None
    label: str | None
    nearest: str | None
    score: float
    actions: list[str]


class Memory:
    """The agent's SQLite memory. Open with ``Memory.open(path)``; close when done."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._in_step = False

    @classmethod
    def open(cls, path: Path) -> Memory:
        db = open_db(path)
        db.executescript(SCHEMA)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def step(self) -> Iterator[None]:
        """One transaction for everything written inside (nested calls join it)."""
        if self._in_step:
            yield
            return
        self._in_step = True
        try:
            with transaction(self.db):
                yield
        finally:
            self._in_step = False

    # ------------------------------------------------------------------ vectors
    def remember(self, v: VerifiedVector) -> None:
        with self.step():
            self.db.execute(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?, ?, ?)",
                (v.job_id, v.text, v.vector.astype(np.int8).tobytes(), json.dumps(list(v.agreeing)),
                 v.min_cosine, v.threshold, time.time()),
            )

    def vector_for_text(self, text: str) -> VerifiedVector | None:
        """The latest verified vector of exactly this text (so the agent never pays twice)."""
        row = self.db.execute(
            "SELECT * FROM vectors WHERE text = ? ORDER BY job_id DESC LIMIT 1", (text,)).fetchone()
        return None if row is None else _vector(row)

    def vector(self, job_id: int) -> VerifiedVector | None:
        row = self.db.execute("SELECT * FROM vectors WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else _vector(row)

    def vector_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    # ---------------------------------------------------------------- decisions
    def record_decision(self, d: DecisionRecord) -> None:
        with self.step():
            self.db.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (d.subject, d.job_id, d.label, d.nearest, d.score, json.dumps(d.actions), time.time()),
            )

    def decision(self, subject: str) -> DecisionRecord | None:
        row = self.db.execute(
            "SELECT subject, job_id, label, nearest, score, actions FROM decisions WHERE subject = ?", (subject,)
        ).fetchone()
        if row is None:
            return None
        return DecisionRecord(row[0], row[1], row[2], row[3], float(row[4]), list(json.loads(row[5])))

    def record_outcome(self, subject: str, truth: str, changes: list[str]) -> None:
        with self.step():
            self.db.execute("INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?)",
                            (subject, truth, json.dumps(changes), time.time()))

    def outcome(self, subject: str) -> str | None:
        row = self.db.execute("SELECT truth FROM outcomes WHERE subject = ?", (subject,)).fetchone()
        return None if row is None else str(row[0])

    # --------------------------------------------------------------------- seen
    def seen(self, source: str, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM seen WHERE source = ? AND key = ?", (source, key)).fetchone() is not None

    def mark_seen(self, source: str, key: str) -> None:
        with self.step():
            self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (source, key))

    # -------------------------------------------------------------------- state
    def get(self, name: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return default if row is None else json.loads(row[0])

    def put(self, name: str, value: Any) -> None:
        with self.step():
            self.db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (name, json.dumps(value)))


def _vector(row: tuple[Any, ...]) -> VerifiedVector:
    return VerifiedVector(int(row[0]), str(row[1]), np.frombuffer(row[2], dtype=np.int8).copy(),
                          tuple(json.loads(row[3])), float(row[4]), float(row[5]))
