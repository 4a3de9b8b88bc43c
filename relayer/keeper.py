"""The relayer's keeper: moves on the jobs this relayer submitted when nobody else does.

The nodes of a committee move their own jobs on, and every node also moves on other jobs of the
models it serves after an outsider's grace. When every node is gone (or never came), a job the
relayer paid for would stay open for good; so the relayer is one more outsider, for its own jobs.
The core is the SDK's `infera.keeper.JobKeeper` (the same randomized 2.5x-3.5x grace as a node,
drawn from the relayer's address, `INFERA_RELAYER_KEEPER_GRACE` as the base), fed from the queue:
the jobs with an id that the tracker has not seen final. It also draws due committees (assign())
once they have waited an outsider's grace, since with no node alive nobody else would.

It signs with the submitter's TxManager (one manager per key) and never polls it: the submitter's
tick follows every transaction of the key and ignores the keeper's outcomes, which the tracker
sees on chain anyway.

Several instances on one queue all watch every job; nothing but the simulation before each send
keeps two of them from moving the same job, as between nodes. Each draws its own grace per job,
so they seldom try at once, and the second finds the job moved and sends nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from infera.chain import Chain
from infera.keeper import DRAWING_RECHECK_S, JobKeeper
from infera.txmanager import TxManager
from relayer.metrics import RelayerMetrics
from relayer.store import Store

log = structlog.get_logger("relayer")
OPEN_JOBS_READ = 2_000  # open jobs read from the queue per tick


@dataclass
class SubmittedJobs:
    """The jobs this relayer submitted (the queue's open jobs) as the keeper's JobWatch. When to
    look at each again is kept in memory: after a restart every open job is looked at once."""

    store: Store
    _check_after: dict[int, float] = field(default_factory=dict)
    _blocks: dict[int, int] = field(default_factory=dict)
    _now: float = 0.0

    async def due(self, now: float, limit: int) -> list[int]:
        self._now = now
        open_jobs = await self.store.open_jobs(OPEN_JOBS_READ)
        self._blocks = {o.job_id: o.submit_block for o in open_jobs if o.submit_block is not None}
        ids = {o.job_id for o in open_jobs}
        self._check_after = {j: t for j, t in self._check_after.items() if j in ids}
        return [j for j in sorted(ids) if self._check_after.get(j, 0.0) <= now][:limit]

    async def held(self) -> set[int]:
        return set()

    async def recheck_at(self, later: dict[int, float]) -> None:
        self._check_after.update(later)

    async def unwatch(self, job_ids: list[int]) -> None:
        # Final jobs leave the queue's open set once the tracker sees them; an id the chain does
        # not know (a reorged submission, re-recorded by the submitter) is looked at again later.
        until = self._now + DRAWING_RECHECK_S
        self._check_after.update(dict.fromkeys(job_ids, until))

    async def submit_blocks(self, job_ids: list[int]) -> dict[int, int]:
        return {j: self._blocks[j] for j in job_ids if j in self._blocks}


@dataclass
class RelayerKeeper:
    keeper: JobKeeper
    metrics: RelayerMetrics

    @classmethod
    def build(cls, chain: Chain, store: Store, txm: TxManager, grace: float, metrics: RelayerMetrics) -> RelayerKeeper:
        return cls(JobKeeper(chain, SubmittedJobs(store), txm, grace, log=log), metrics)

    async def tick(self) -> None:
        chain = self.keeper.chain
        now = max(await chain.timestamp(), int(time.time()))
        if await self.keeper.draw_due(now):
            self.metrics.keeper_txs.labels(action="assign").inc()
        report = await self.keeper.tick(now)
        for action, job_ids in report.moved.items():
            self.metrics.keeper_txs.labels(action=action).inc()
            self.metrics.keeper_jobs.labels(action=action).inc(len(job_ids))
        for action, count in report.refused.items():
            self.metrics.keeper_refused.labels(action=action).inc(count)
