"""The node's backlog pipeline without a chain: draws go back to back, sealing takes up jobs
assigned while it embeds, and a sealed chunk wakes the loop instead of waiting out the poll.

The chain, transaction manager and model are stand-ins; the work store is the real one."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from hexbytes import HexBytes

from infera.types import Job, JobStatus
from oracle_node.config import NodeSettings
from oracle_node.node import BATCH_LIMIT, DRAW_AHEAD_JOBS, OracleNode, ServedModel
from oracle_node.store import WorkState, WorkStore

MODEL = 1


@dataclass
class Sent:
    tx_hash: HexBytes


@dataclass
class FakeTx:
    nonce: int
    latest: Sent


@dataclass
class SlowReceipts:
    """An instant-mining chain as the node sees it: a transaction's receipt is there from the
    second time it is asked for, never at once after the send."""

    due: int  # assign() calls that still find draws due
    asked: dict[bytes, int] = field(default_factory=dict)

    async def receipt(self, tx_hash: HexBytes) -> dict[str, Any] | None:
        n = self.asked[bytes(tx_hash)] = self.asked.get(bytes(tx_hash), 0) + 1
        return None if n == 1 else {"status": 1}

    @property
    def jobs(self) -> Any:
        chain = self

        class _Call:
            def __init__(self, value: bool) -> None:
                self.value = value

            async def call(self) -> bool:
                return self.value

        class _Functions:
            def drawsDue(self) -> _Call:  # noqa: N802 - the contract's name
                return _Call(chain.due > 0)

            def assign(self, _max_jobs: int) -> str:
                return "assign"

        class _Jobs:
            functions = _Functions()

        return _Jobs()


@dataclass
class FakeTxManager:
    chain: SlowReceipts
    sent: list[FakeTx] = field(default_factory=list)

    async def send(self, action: str, job_ids: list[int], fn: Any) -> FakeTx:
        assert action == "assign" and fn == "assign"
        self.chain.due -= 1
        tx = FakeTx(len(self.sent), Sent(HexBytes(bytes([len(self.sent) + 1]) * 32)))
        self.sent.append(tx)
        return tx

    def pending(self, action: str | None = None) -> list[FakeTx]:
        return list(self.sent)  # receipts are read from the chain, as the node does


@dataclass
class FakeEmbedder:
    """Returns unit vectors; `during` runs inside the first embed call (the tick meanwhile)."""

    during: Any = None
    calls: list[list[str]] = field(default_factory=list)

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        if self.during is not None and len(self.calls) == 1:
            self.during()
        out = np.ones((len(texts), 384), dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _node(tmp_path: Path, **settings: Any) -> OracleNode:
    node = OracleNode(NodeSettings(_env_file=None, **settings))  # type: ignore[call-arg]
    node.store = WorkStore(tmp_path / "node.sqlite3")
    node.chain = cast(Any, object())  # sealing reads the chain only through the methods _feed_from_store replaces
    return node


def _committing(job_id: int) -> Job:
    return Job(job_id=job_id, requester="0x" + "00" * 20, model_id=MODEL, status=JobStatus.COMMITTING, seat_count=3,
               committed=0, revealed=0, min_agreement=2, callback=False, dropped=0, round=0, deadline=0, fee=0,
               threshold_ppm=0, commit_window=0, reveal_window=0, dimension=384, quorum=2, vote_from=0, policy_id=0)


def _feed_from_store(node: OracleNode) -> None:
    """The job records and inputs of whatever is asked, as the chain would answer."""

    async def read_jobs(job_ids: list[int]) -> dict[int, Job]:
        return {j: _committing(j) for j in job_ids}

    async def inputs(job_ids: list[int]) -> dict[int, bytes]:
        return {j: f"text {j}".encode() for j in job_ids}

    node._read_jobs = read_jobs  # type: ignore[method-assign]
    node._inputs = inputs  # type: ignore[method-assign]


def test_committee_draws_go_back_to_back_while_due(tmp_path: Path) -> None:
    """A backlog needs several assign() calls: each is sent once the last is mined, in the same
    background run, not one per tick (a receipt is never there at once after the send)."""
    node = _node(tmp_path)
    chain = SlowReceipts(due=3)
    txm = FakeTxManager(chain)
    node.chain, node.txm = cast(Any, chain), cast(Any, txm)
    node.scanner = cast(Any, object())

    asyncio.run(node._draw_due())

    assert len(txm.sent) == 3
    assert node._wake.is_set()  # the tick is told to read the new assignments


def test_draws_wait_while_the_embedder_has_two_chunks_to_do(tmp_path: Path) -> None:
    """Drawing further ahead than the model embeds only takes CPU from it (the chain executes each
    draw); the tick that a sealed chunk wakes draws on."""
    node = _node(tmp_path)
    assert node.store is not None
    node.store.record_assignments([(j, 10, b"\xaa" * 32) for j in range(DRAW_AHEAD_JOBS)])
    chain = SlowReceipts(due=3)
    txm = FakeTxManager(chain)
    node.chain, node.txm = cast(Any, chain), cast(Any, txm)
    node.scanner = cast(Any, object())

    asyncio.run(node._draw_due())
    assert txm.sent == []

    node.store.set_states(list(range(BATCH_LIMIT)), WorkState.SEALED)
    asyncio.run(node._draw_due())
    assert len(txm.sent) == 3  # a chunk sealed: the draws go on


def test_sealing_takes_up_jobs_assigned_while_it_embeds(tmp_path: Path) -> None:
    node = _node(tmp_path)
    store = node.store
    assert store is not None
    store.record_assignments([(1, 10, b"\xaa" * 32)])
    _feed_from_store(node)

    async def main() -> FakeEmbedder:
        loop = asyncio.get_running_loop()

        async def tick_records_another() -> None:
            store.record_assignments([(2, 11, b"\xbb" * 32)])

        # The model runs in a worker thread; the tick, on the loop, records job 2 meanwhile.
        embedder = FakeEmbedder(during=lambda: asyncio.run_coroutine_threadsafe(tick_records_another(), loop).result())
        node.served[MODEL] = ServedModel(MODEL, "all-MiniLM-L6-v2", cast(Any, embedder), 384)
        await node._seal_assigned()
        return embedder

    embedder = asyncio.run(main())

    assert [w.job_id for w in store.in_states(WorkState.SEALED)] == [1, 2]
    assert embedder.calls == [["text 1"], ["text 2"]]


def test_a_sealed_chunk_wakes_the_loop_before_the_poll_interval(tmp_path: Path) -> None:
    node = _node(tmp_path, poll_interval=30.0)
    store = node.store
    assert store is not None
    store.record_assignments([(1, 10, b"\xaa" * 32)])
    node.served[MODEL] = ServedModel(MODEL, "all-MiniLM-L6-v2", cast(Any, FakeEmbedder()), 384)
    _feed_from_store(node)

    async def main() -> float:
        sealing = asyncio.create_task(node._seal_assigned())
        started = time.monotonic()
        await asyncio.wait_for(node._idle(node.settings.poll_interval), timeout=5)
        await sealing
        return time.monotonic() - started

    assert asyncio.run(main()) < 5
    assert not node._wake.is_set()  # consumed: the next sleep lasts the poll interval again
