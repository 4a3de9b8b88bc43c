"""The node's keeper: moves on jobs of the served models that their own committee left stuck.

Members of a committee advance and finalize their own jobs (the worker does, after a short
randomized grace). A job whose whole committee died would stay open forever, so every node also
watches every job submitted for the models it serves (its scanner finds them) and, after a longer
grace of its own, advances it past a missed commit deadline (which redraws or refunds it) or
finalizes it once its reveal phase is over. The core (grace draw, sorting, simulating, batching)
is the SDK's `infera.keeper.JobKeeper`; this module feeds it from the node's WorkStore.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from infera.chain import Chain
from infera.keeper import JobKeeper, keeper_grace
from infera.txmanager import TxManager
from oracle_node.store import WorkStore

__all__ = ["Keeper", "WorkStoreWatch", "keeper_grace"]

log = structlog.get_logger("oracle_node")


@dataclass
class WorkStoreWatch:
    """The watch table of the node's WorkStore as the keeper's JobWatch; the node's own open
    jobs are held (its worker moves them on after the shorter member's grace)."""

    store: WorkStore

    async def due(self, now: float, limit: int) -> list[int]:
        return self.store.watched_due(now, limit)

    async def held(self) -> set[int]:
        return self.store.open_job_ids()

    async def recheck_at(self, later: dict[int, float]) -> None:
        self.store.recheck_at(later)

    async def unwatch(self, job_ids: list[int]) -> None:
        self.store.unwatch(job_ids)

    async def submit_blocks(self, job_ids: list[int]) -> dict[int, int]:
        return self.store.watched_submit_blocks(job_ids)


class Keeper(JobKeeper):
    """The SDK's keeper on the node's store; `grace` is the node's finalize_grace."""

    def __init__(self, chain: Chain, store: WorkStore, txm: TxManager, grace: float) -> None:
        super().__init__(chain, WorkStoreWatch(store), txm, grace, log=log)
        self.store = store

    def watch(self, submitted: list[tuple[int, int]]) -> None:
        if submitted:
            self.store.watch(submitted)
