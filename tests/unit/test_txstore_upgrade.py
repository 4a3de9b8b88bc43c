"""A transaction store written before `mined_hash` existed opens, keeps its transactions and
gains the column (a node or relayer upgraded in place resumes its pending transactions)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from infera.txmanager import TxState, TxStore


def test_an_older_store_gains_the_mined_hash_column_and_keeps_its_transactions(tmp_path: Path) -> None:
    path = tmp_path / "tx.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE managed_tx (nonce INTEGER PRIMARY KEY, action TEXT NOT NULL, job_ids TEXT NOT NULL,"
                " to_addr TEXT NOT NULL, data BLOB NOT NULL, gas INTEGER NOT NULL, state TEXT NOT NULL,"
                " created REAL NOT NULL, mined_block INTEGER)")
    old.execute("INSERT INTO managed_tx VALUES (4, 'submit:b', '[]', '0x0', x'00', 21000, 'mined', 1.0, 7)")
    old.commit()
    old.close()
    store = TxStore(path)
    try:
        [tx] = store.open()
        assert (tx.nonce, tx.state, tx.mined_block, tx.mined_hash) == (4, TxState.MINED, 7, None)
        tx.mined_hash = b"\x01" * 32
        store.update(tx)
        assert store.open()[0].mined_hash == b"\x01" * 32
    finally:
        store.close()
