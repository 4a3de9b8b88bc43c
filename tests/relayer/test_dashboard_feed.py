"""The dashboard's chain feed on a scripted chain: each refresh reads only new blocks, the first
looks back a bounded distance, concurrent refreshes share one read, and what it keeps is bounded."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from infera.types import JobStatus
from relayer import dashboard
from relayer.dashboard import ChainFeed

NODE = "0x" + "ab" * 20
TX = b"\x01" * 32


class ScriptedChain:
    """Events by block; records every log range asked for."""

    def __init__(self, head: int, deployment_block: int = 0) -> None:
        self.head = head
        self.deployment = SimpleNamespace(deployment_block=deployment_block)
        self.jobs = "JobRegistry"
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.ranges: list[tuple[str, int, int]] = []
        self.w3 = SimpleNamespace(eth=SimpleNamespace(get_block=self._block))

    def emit(self, event: str, block: int, **args: Any) -> None:
        self.events.setdefault(event, []).append({"args": args, "blockNumber": block, "transactionHash": TX})

    async def block_number(self) -> int:
        return self.head

    async def logs(self, contract: str, event: str, start: int, end: int) -> list[dict[str, Any]]:
        self.ranges.append((event, start, end))
        return [e for e in self.events.get(event, []) if start <= e["blockNumber"] <= end]

    async def get_jobs(self, ids: list[int]) -> list[Any]:
        return [SimpleNamespace(job_id=i, status=JobStatus.REVEALING) for i in ids]

    async def _block(self, number: int) -> dict[str, int]:
        return {"number": number, "timestamp": 1_000 + number, "gasUsed": 21_000 * number}


def _feed(chain: ScriptedChain) -> ChainFeed:
    return ChainFeed(chain, {1: "all-MiniLM-L6-v2"})  # type: ignore[arg-type]


def test_refreshes_read_only_new_blocks_and_keep_bounded_state(monkeypatch: Any) -> None:
    monkeypatch.setattr(dashboard, "REFRESH_S", 0.0)
    chain = ScriptedChain(head=10_000)
    for job_id in range(1, 41):
        chain.emit("JobSubmitted", 9_000 + job_id, jobId=job_id, modelId=1, requester=NODE)
    chain.emit("JobAccepted", 9_990, jobId=40)
    chain.emit("SeatSettled", 9_990, jobId=40, node=NODE, outcome=4, slashed=0)  # released: not a slash
    chain.emit("SeatSettled", 9_991, jobId=39, node=NODE, outcome=1, slashed=5)

    async def go() -> ChainFeed:
        feed = _feed(chain)
        await feed.refresh()
        chain.head = 10_003
        await feed.refresh()
        return feed

    feed = asyncio.run(go())
    starts = sorted({(start, end) for _, start, end in chain.ranges})
    # The first read looks back LOOKBACK_BLOCKS, not to genesis; the second reads 3 new blocks.
    assert starts == [(10_000 - dashboard.LOOKBACK_BLOCKS, 10_000), (10_001, 10_003)]
    jobs = feed.job_views()
    assert len(jobs) == dashboard.MAX_JOBS and jobs[0].job_id == 40 and jobs[0].status == "accepted"
    assert jobs[1].status == "revealing" and jobs[0].model == "all-MiniLM-L6-v2"
    assert [(s.job_id, s.outcome, s.slashed_wei) for s in feed.slashes] == [(39, "Disagreed", "5")]
    assert len(feed.series) == dashboard.SERIES_BLOCKS and feed.series[-1].block == 10_003
    assert next(p for p in feed.series if p.block == 9_990).accepted == 1
    assert feed.totals == {"submitted": 40, "accepted": 1, "refunded": 0}


def test_concurrent_refreshes_share_one_read() -> None:
    chain = ScriptedChain(head=50)

    async def go() -> None:
        feed = _feed(chain)
        await asyncio.gather(*(feed.refresh() for _ in range(5)))

    asyncio.run(go())
    assert len(chain.ranges) == 4  # the four event kinds, once
