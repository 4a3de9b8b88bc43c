"""The chain transport's on-disk journal of signed submits (infera.transport.journal)."""

from __future__ import annotations

import time
from pathlib import Path

from hexbytes import HexBytes
from hypothesis import given
from hypothesis import strategies as st

from infera.transport.journal import JournalBatch, SubmitJournal, submission_digest

SCOPE = "994207:0x0000000000000000000000000000000000000001"


def _batch(n: int) -> JournalBatch:
    return JournalBatch(HexBytes(bytes([n]) * 40), HexBytes(bytes([n]) * 32), n, None)


def test_what_was_signed_survives_reopening_in_order(tmp_path: Path) -> None:
    path = tmp_path / "submits.sqlite"
    journal = SubmitJournal(path)
    digest = submission_digest(1, ["a", "b"])
    journal.begin(SCOPE, "k", digest)
    journal.signed(SCOPE, "k", 0, _batch(7))
    journal.signed(SCOPE, "k", 1, _batch(8))
    journal.confirmed(SCOPE, "k", 0, [41, 42])
    journal.close()

    reopened = SubmitJournal(path)  # another process, later
    loaded = reopened.load(SCOPE, "k")
    assert loaded is not None
    found_digest, batches = loaded
    assert found_digest == digest
    assert [b.nonce for b in batches] == [7, 8] and batches[0].raw == _batch(7).raw
    assert batches[0].job_ids == [41, 42] and batches[1].job_ids is None
    assert reopened.load(SCOPE, "other") is None and reopened.load("1:0xdead", "k") is None


def test_a_replaced_batch_and_those_after_it_are_forgotten(tmp_path: Path) -> None:
    journal = SubmitJournal(tmp_path / "j.sqlite")
    journal.begin(SCOPE, "k", "d")
    for i in range(3):
        journal.signed(SCOPE, "k", i, _batch(i))
    journal.drop_from(SCOPE, "k", 1)
    loaded = journal.load(SCOPE, "k")
    assert loaded is not None and [b.nonce for b in loaded[1]] == [0]


def test_old_submissions_are_pruned_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = SubmitJournal(path)
    journal.begin(SCOPE, "old", "d")
    journal.signed(SCOPE, "old", 0, _batch(1))
    journal.close()
    time.sleep(0.05)
    journal = SubmitJournal(path, keep_s=0.01)
    assert journal.load(SCOPE, "old") is None
    assert journal._db.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == 0


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5), st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_a_digest_tells_different_texts_or_models_apart(a: list[str], b: list[str]) -> None:
    assert (submission_digest(1, a) == submission_digest(1, b)) == (a == b)
    assert submission_digest(1, a) != submission_digest(2, a)
