"""The chain transport's memory of what it signed, on disk: a submit retried after a crash or a
restart, with the same idempotency key, finds the transactions signed before and waits for those
instead of signing (and paying for) new ones.

One SQLite file (infera.storage: each write is one transaction, on disk before it returns). A
batch's signed bytes are written before they are first broadcast, so no transaction can be out
there that a restarted process does not know about. Rows are per chain, sender and key; rows
older than `keep_s` are pruned when the journal is opened.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hexbytes import HexBytes

from infera.storage import open_db, transaction

KEEP_S = 7 * 24 * 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    scope TEXT NOT NULL,            -- chain id and sender: one journal may serve several keys and chains
    key TEXT NOT NULL,              -- the caller's idempotency key
    digest TEXT NOT NULL,           -- sha256 of the model id and texts it was used for
    created REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS batches (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    raw BLOB NOT NULL,
    tx_hash BLOB NOT NULL,
    nonce INTEGER NOT NULL,
    job_ids TEXT,                   -- JSON list once the receipt was read, else NULL
    PRIMARY KEY (scope, key, idx)
);
"""


def submission_digest(model_id: int, texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps([model_id, list(texts)], ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class JournalBatch:
    raw: HexBytes
    tx_hash: HexBytes
    nonce: int
    job_ids: list[int] | None


class SubmitJournal:
    def __init__(self, path: Path, keep_s: float = KEEP_S) -> None:
        self.path = path
        self._db: sqlite3.Connection = open_db(path)
        self._db.executescript(_SCHEMA)
        with transaction(self._db):
            old = time.time() - keep_s
            self._db.execute("DELETE FROM batches WHERE (scope, key) IN "
                             "(SELECT scope, key FROM submissions WHERE created < ?)", (old,))
            self._db.execute("DELETE FROM submissions WHERE created < ?", (old,))

    def close(self) -> None:
        self._db.close()

    def load(self, scope: str, key: str) -> tuple[str, list[JournalBatch]] | None:
        """The digest a key was used for and what it signed, in batch order; None if unknown."""
        row = self._db.execute("SELECT digest FROM submissions WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        if row is None:
            return None
        batches = [JournalBatch(HexBytes(raw), HexBytes(tx_hash), int(nonce), None if ids is None else json.loads(ids))
                   for raw, tx_hash, nonce, ids in self._db.execute(
                       "SELECT raw, tx_hash, nonce, job_ids FROM batches WHERE scope = ? AND key = ? ORDER BY idx",
                       (scope, key))]
        return str(row[0]), batches

    def begin(self, scope: str, key: str, digest: str) -> None:
        with transaction(self._db):
            self._db.execute("INSERT OR IGNORE INTO submissions (scope, key, digest, created) VALUES (?, ?, ?, ?)",
                             (scope, key, digest, time.time()))

    def signed(self, scope: str, key: str, index: int, batch: JournalBatch) -> None:
        with transaction(self._db):
            self._db.execute("INSERT OR REPLACE INTO batches (scope, key, idx, raw, tx_hash, nonce, job_ids) "
                             "VALUES (?, ?, ?, ?, ?, ?, NULL)",
                             (scope, key, index, bytes(batch.raw), bytes(batch.tx_hash), batch.nonce))

    def confirmed(self, scope: str, key: str, index: int, job_ids: list[int]) -> None:
        with transaction(self._db):
            self._db.execute("UPDATE batches SET job_ids = ? WHERE scope = ? AND key = ? AND idx = ?",
                             (json.dumps(job_ids), scope, key, index))

    def drop_from(self, scope: str, key: str, index: int) -> None:
        """Forget batch `index` and the ones after it (their nonce went to another transaction,
        so they can never be mined): the next submit with this key signs them afresh."""
        with transaction(self._db):
            self._db.execute("DELETE FROM batches WHERE scope = ? AND key = ? AND idx >= ?", (scope, key, index))
