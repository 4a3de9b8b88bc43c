"""Node pieces that need no chain: settings, the work store, faults, the embedder."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from infera.chain import NO_SEAT_HINT
from infera.types import Job, JobStatus, Seat, SeatState
from oracle_node import faults
from oracle_node.config import NodeSettings
from oracle_node.inference.embedder import Embedder, ModelDigestMismatch, minilm_path, weights_digest
from oracle_node.node import OracleNode, keeper_grace, seat_hints
from oracle_node.store import Work, WorkState, WorkStore


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERA_RPC_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("INFERA_MODELS", '["all-MiniLM-L6-v2"]')
    monkeypatch.setenv("INFERA_PRIVATE_KEY", "0x" + "ab" * 32)
    monkeypatch.setenv("INFERA_FAULT", "random-vector")
    s = NodeSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.rpc_url == "http://127.0.0.1:9999"
    assert s.models == ["all-MiniLM-L6-v2"]
    assert s.fault == "random-vector"
    assert "ab" * 32 not in repr(s)  # the key never shows in logs or reprs


def test_invalid_settings_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERA_FAULT", "sometimes-lie")
    with pytest.raises(ValueError, match="fault"):
        NodeSettings(_env_file=None)  # type: ignore[call-arg]


def test_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    store = WorkStore(path)
    assert store.add_assignment(7)
    assert not store.add_assignment(7)
    store.seal(7, b"\x01" * 384, b"\x02" * 32)
    store.set_meta("last_block", "42")
    store.close()
    reopened = WorkStore(path)
    work = reopened.get(7)
    assert work is not None and work.state is WorkState.SEALED
    assert work.vector == b"\x01" * 384 and work.salt == b"\x02" * 32
    assert reopened.get_meta("last_block") == "42"
    assert reopened.mark_ready([7], 10.0) == {7: 10.0}
    assert reopened.mark_ready([7], 20.0) == {7: 10.0}  # first sighting is kept
    assert [w.job_id for w in reopened.in_states(WorkState.SEALED)] == [7]


def test_store_writes_a_batch_in_one_transaction_or_not_at_all(tmp_path: Path) -> None:
    store = WorkStore(tmp_path / "node.sqlite3")
    assert store.add_assignments([1, 2, 2, 3]) == [1, 2, 3]
    assert store.add_assignments([3, 4]) == [4]
    store.seal_many([(1, b"\x01" * 4, b"\x02" * 32), (2, b"\x03" * 4, b"\x04" * 32)])
    store.set_states([2, 4], WorkState.DONE)
    assert {w.job_id: w.state for w in store.in_states(*WorkState)} == {
        1: WorkState.SEALED, 2: WorkState.DONE, 3: WorkState.ASSIGNED, 4: WorkState.DONE}
    # A row that cannot be written (a value SQLite cannot bind) rolls the whole batch back: no job
    # is left sealed by half a batch.
    with pytest.raises(sqlite3.Error):
        store.seal_many([(3, b"\x05" * 4, b"\x06" * 32), (4, [1, 2], b"")])  # type: ignore[list-item]
    assert store.get(3) is not None and store.get(3).state is WorkState.ASSIGNED  # type: ignore[union-attr]


def test_faults_change_only_their_step() -> None:
    rng = np.random.default_rng(0)
    v = np.ones(8, dtype=np.float32)
    assert faults.adjust_input("none", "a b c d") == "a b c d"
    assert faults.adjust_input("truncate-input", "a b c d") == "a b"
    assert np.array_equal(faults.adjust_vector("none", v, rng), v)
    assert not np.array_equal(faults.adjust_vector("random-vector", v, rng), v)
    assert faults.reveals("none") and not faults.reveals("withhold-reveal")
    assert faults.reveal_salt("wrong-reveal", b"\x07" * 32) != b"\x07" * 32


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(minilm_path(), device="cpu")


def test_embedder_outputs_unit_vectors(embedder: Embedder) -> None:
    out = embedder.embed(["hello world", "a different sentence entirely"])
    assert out.shape == (2, 384)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert embedder.dimension == 384


def test_embedding_is_deterministic_across_batches(embedder: Embedder) -> None:
    alone = embedder.embed(["the same sentence"])[0]
    batched = embedder.embed(["the same sentence", "with a much longer neighbour that forces padding " * 3])[0]
    assert float(alone @ batched) > 0.9999


def test_wrong_digest_is_refused(embedder: Embedder) -> None:
    embedder.verify_digest(weights_digest(minilm_path()))
    with pytest.raises(ModelDigestMismatch, match="install the registered model"):
        embedder.verify_digest(b"\x00" * 32)


def test_keeper_grace_orders_nodes_differently_per_job() -> None:
    nodes = [f"0x{i:040x}" for i in range(1, 4)]
    graces = {job: [keeper_grace(n, job, 2.0) for n in nodes] for job in range(1, 50)}
    assert all(1.0 <= g < 3.0 for gs in graces.values() for g in gs)
    assert keeper_grace(nodes[0], 7, 2.0) == keeper_grace(nodes[0], 7, 2.0)  # the same after a restart
    # Every node is first (moves the job on) for some jobs: no node always pays for the race.
    firsts = {min(range(3), key=lambda i, gs=gs: gs[i]) for gs in graces.values()}
    assert firsts == {0, 1, 2}


def test_the_store_keeps_our_latest_seat_index_as_the_batched_calls_hint(tmp_path: Path) -> None:
    """commitBatch and revealBatch read one seat when told its index; a job recorded without one
    (an older store) sends NO_SEAT_HINT, so the registry searches instead."""
    store = WorkStore(tmp_path / "node.sqlite3")
    store.record_assignments([(5, 100, b"\xaa" * 32), (6, 100, b"\xaa" * 32)])
    store.set_seats({5: 2})
    store.set_seats({5: 1})  # redrawn after a reorg: the latest JobAssigned wins
    store.seal(5, b"\x01" * 4, b"\x02" * 32)
    store.seal(6, b"\x01" * 4, b"\x02" * 32)
    sealed = store.in_states(WorkState.SEALED)
    assert [(w.job_id, w.seat) for w in sealed] == [(5, 1), (6, None)]
    assert seat_hints(sealed) == [1, NO_SEAT_HINT]
    work = store.get(5)
    assert work is not None and work.seat == 1


def test_an_assignment_from_a_new_block_reopens_a_closed_job_and_keeps_its_salt(tmp_path: Path) -> None:
    """After a reorg the seat is drawn again in a block with another hash: the job is live again.
    The salt sealed before stays, since a commitment sent with it may be on the new chain too."""
    store = WorkStore(tmp_path / "node.sqlite3")
    assert store.record_assignments([(5, 100, b"\xaa" * 32)]) == [5]
    assert store.record_assignments([(5, 100, b"\xaa" * 32)]) == []  # the same log read again
    store.seal(5, b"\x01" * 4, b"\x02" * 32)
    store.set_state(5, WorkState.DONE)  # reconciled away while the job was back in Drawing
    assert store.record_assignments([(5, 101, b"\xbb" * 32)]) == [5]
    work = store.get(5)
    assert work is not None and work.state is WorkState.SEALED and work.salt == b"\x02" * 32
    store.seal(5, b"\x09" * 4, b"\x08" * 32)  # sealing again never replaces the salt
    work = store.get(5)
    assert work is not None and work.salt == b"\x02" * 32
    assert store.blocks_of([5]) == {5: (None, 101)}


def test_the_scan_cursor_rewinds_to_a_checkpoint(tmp_path: Path) -> None:
    store = WorkStore(tmp_path / "node.sqlite3")
    for n in range(10, 20):
        store.advance_cursor(n, bytes([n]) * 32, keep=5)
    assert [n for n, _ in store.checkpoints()] == [19, 18, 17, 16, 15]
    store.rewind_cursor(16)
    assert store.cursor() == (16, bytes([16]) * 32)


def test_keeper_waits_longer_than_any_member() -> None:
    from oracle_node.keeper import Keeper

    keeper = Keeper.__new__(Keeper)
    keeper.grace = 2.0

    class _Chain:
        address = "0x" + "11" * 20

    keeper.chain = _Chain()  # type: ignore[assignment]
    for job_id in range(200):
        assert keeper.outsider_grace(job_id) > 1.5 * 2.0 >= keeper_grace(_Chain.address, job_id, 2.0)


def test_sealing_never_reopens_a_job_the_tick_closed_meanwhile(tmp_path: Path) -> None:
    """The embedding runs beside the tick loop: a job the tick closed (drawn away, over) while its
    vector was being computed must stay closed when the vector is persisted."""
    store = WorkStore(tmp_path / "node.sqlite3")
    assert store.record_assignments([(8, 100, b"\xaa" * 32), (9, 100, b"\xaa" * 32)]) == [8, 9]
    store.set_state(9, WorkState.DONE)
    store.seal_many([(8, b"\x01" * 4, b"\x02" * 32), (9, b"\x03" * 4, b"\x04" * 32)])
    sealed, closed = store.get(8), store.get(9)
    assert sealed is not None and sealed.state is WorkState.SEALED
    assert closed is not None and closed.state is WorkState.DONE and closed.salt is None


def _revealing_job(job_id: int, revealed: int) -> Job:
    return Job(job_id=job_id, requester="0x" + "11" * 20, model_id=1, status=JobStatus.REVEALING, seat_count=3,
               committed=3, revealed=revealed, min_agreement=2, callback=False, dropped=0, round=0, deadline=100,
               fee=0, threshold_ppm=950_000, commit_window=60, reveal_window=60, dimension=384, quorum=2,
               vote_from=0, policy_id=0)


def test_a_ready_jobs_seats_are_read_once_until_its_revealed_count_changes(tmp_path: Path) -> None:
    """The node asks which jobs to finalize every tick, and most wait out a grace period first:
    reading each one's seats every tick took a third of its event loop. They are kept per
    (job, seats revealed): the node's clock may pass the reveal deadline before the chain's
    does, and a seat revealing then must be seen, or the finalize would leave its vector out."""
    reads: list[int] = []

    class _Chain:
        async def get_seats(self, job_id: int) -> list[Seat]:
            reads.append(job_id)
            return [Seat(node="0x" + f"{job_id:040x}", state=SeatState.REVEALED, digest=b"")]

    node = OracleNode(NodeSettings(_env_file=None), chain=_Chain(), store=WorkStore(tmp_path / "w.sqlite3"))  # type: ignore[call-arg,arg-type]
    work = {j: Work(j, WorkState.REVEALED, b"", b"", None) for j in (1, 2)}

    def ready(**revealed: int) -> dict[int, list[Seat]]:
        due = [(work[int(j[1:])], _revealing_job(int(j[1:]), n)) for j, n in revealed.items()]
        return asyncio.run(node._seats_of_ready(due))

    assert set(ready(j1=2, j2=3)) == {1, 2} and sorted(reads) == [1, 2]
    ready(j1=2, j2=3)
    assert sorted(reads) == [1, 2]  # nothing new to read
    ready(j1=3, j2=3)
    assert sorted(reads) == [1, 1, 2]  # job 1's third seat revealed since
    ready(j2=3)
    assert node._ready_seats.keys() == {(2, 3)}  # job 1 left the ready set: forgotten
