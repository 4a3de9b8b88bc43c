"""The dashboard's chain feed: recent jobs and their phases, recent slashes and why, and accepted
jobs and gas per block, read from chain events through the SDK `Chain`.

Incremental on purpose: each refresh reads only the blocks mined since the last one (and never
more than LOOKBACK_BLOCKS back), and what it keeps is bounded, so a dashboard polled every
second by many browsers costs the RPC a few calls a second, never a scan from genesis. Concurrent
requests share one refresh (a lock) and a refresh runs at most once every REFRESH_S.

Everything here is public network data (events anyone can read); nothing of a relayer request,
which only its own key may see.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from infera.chain import Chain
from relayer.models import DashboardJob, SeriesPoint, SlashView

LOOKBACK_BLOCKS = 2_000  # the first refresh reads no further back than this
SERIES_BLOCKS = 120  # points on the plot: two minutes of 1 s blocks
MAX_JOBS = 25
MAX_SLASHES = 20
REFRESH_S = 1.0
# IJobRegistry.SeatOutcome, in declaration order.
SEAT_OUTCOMES = ("Agreed", "Disagreed", "Withheld", "MissedCommit", "Released")


@dataclass
class _Job:
    job_id: int
    model_id: int
    requester: str
    submitted_block: int
    status: str = "pending"
    final_block: int | None = None


@dataclass
class ChainFeed:
    chain: Chain
    model_names: dict[int, str]
    cursor: int | None = None  # the last block read
    head: int | None = None
    jobs: OrderedDict[int, _Job] = field(default_factory=OrderedDict)
    slashes: deque[SlashView] = field(default_factory=lambda: deque(maxlen=MAX_SLASHES))
    series: deque[SeriesPoint] = field(default_factory=lambda: deque(maxlen=SERIES_BLOCKS))
    totals: dict[str, int] = field(default_factory=lambda: {"submitted": 0, "accepted": 0, "refunded": 0})
    _refreshed: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._refreshed < REFRESH_S:
                return  # another request just did it
            head = await self.chain.block_number()
            start = self._start(head)
            if start <= head:
                await self._read(start, head)
            await self._update_phases()
            self.cursor, self.head, self._refreshed = head, head, time.monotonic()

    def _start(self, head: int) -> int:
        # Never more than LOOKBACK_BLOCKS in one read, even after a long idle spell: a dashboard
        # shows what is recent, and a wide log query is what an RPC provider refuses or throttles.
        oldest = max(self.chain.deployment.deployment_block, head - LOOKBACK_BLOCKS)
        return oldest if self.cursor is None else max(self.cursor + 1, oldest)

    async def _read(self, start: int, end: int) -> None:
        chain = self.chain
        submitted, accepted, refunded, settled = await asyncio.gather(
            chain.logs(chain.jobs, "JobSubmitted", start, end), chain.logs(chain.jobs, "JobAccepted", start, end),
            chain.logs(chain.jobs, "JobRefunded", start, end), chain.logs(chain.jobs, "SeatSettled", start, end))
        for e in submitted:
            self._add_job(e)
        accepted_at = self._close(accepted, "accepted")
        self._close(refunded, "refunded")
        for e in settled:
            self._add_slash(e)
        await self._add_points(max(start, end - SERIES_BLOCKS + 1), end, accepted_at)

    def _add_job(self, e: Any) -> None:
        args = e["args"]
        job = _Job(int(args["jobId"]), int(args["modelId"]), str(args["requester"]), int(e["blockNumber"]))
        self.jobs[job.job_id] = job
        self.totals["submitted"] += 1
        while len(self.jobs) > MAX_JOBS:
            self.jobs.popitem(last=False)

    def _close(self, events: list[Any], status: str) -> dict[int, int]:
        """Marks the jobs these events closed; returns how many closed in each block."""
        per_block: dict[int, int] = {}
        for e in events:
            block = int(e["blockNumber"])
            per_block[block] = per_block.get(block, 0) + 1
            self.totals[status] += 1
            job = self.jobs.get(int(e["args"]["jobId"]))
            if job is not None:
                job.status, job.final_block = status, block
        return per_block

    def _add_slash(self, e: Any) -> None:
        args = e["args"]
        outcome = int(args["outcome"])
        # Only a fault costs stake: Disagreed and Withheld seats are slashed, the rest are not.
        if int(args["slashed"]) == 0 and SEAT_OUTCOMES[outcome] not in ("Disagreed", "Withheld"):
            return
        self.slashes.appendleft(SlashView(
            job_id=int(args["jobId"]), node=str(args["node"]), outcome=SEAT_OUTCOMES[outcome],
            slashed_wei=str(int(args["slashed"])), block=int(e["blockNumber"]),
            tx="0x" + bytes(e["transactionHash"]).hex()))

    async def _add_points(self, start: int, end: int, accepted_at: dict[int, int]) -> None:
        blocks = await asyncio.gather(*(self.chain.w3.eth.get_block(n) for n in range(start, end + 1)))
        for block in blocks:
            number = int(block["number"])
            self.series.append(SeriesPoint(block=number, timestamp=int(block["timestamp"]),
                                           accepted=accepted_at.get(number, 0), gas_used=int(block["gasUsed"])))

    async def _update_phases(self) -> None:
        """The phase of each open job from the contract itself (one getJobs call): the events say
        when a job was submitted and closed, not when its committee moved to reveal."""
        open_ids = [j.job_id for j in self.jobs.values() if j.final_block is None]
        for job in await self.chain.get_jobs(open_ids):
            # A final status waits for its event, read on a later refresh with its block.
            if not job.status.terminal:
                self.jobs[job.job_id].status = job.status.name.lower()

    def job_views(self) -> list[DashboardJob]:
        return [DashboardJob(job_id=j.job_id, model=self.model_names.get(j.model_id, str(j.model_id)),
                             requester=j.requester, status=j.status,  # type: ignore[arg-type]
                             submitted_block=j.submitted_block, final_block=j.final_block)
                for j in reversed(self.jobs.values())]
