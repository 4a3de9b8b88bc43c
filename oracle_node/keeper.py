"""The keeper: moves on jobs of the served models that their own committee left stuck.

Members of a committee advance and finalize their own jobs (the worker does, after a short
randomized grace). A job whose whole committee died would stay open forever, so every node also
watches every job submitted for the models it serves and, after a longer grace of its own,
advances it past a missed commit deadline (which redraws or refunds it) or finalizes it once its
reveal phase is over. Everything is simulated first: the node that comes second sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from eth_utils.crypto import keccak
from web3.contract.async_contract import AsyncContractFunction

from infera.chain import Chain
from infera.errors import ContractRevert, TransactionFailed
from infera.txmanager import TxManager
from infera.types import Job, JobStatus, SeatState
from oracle_node.store import WorkStore

log = structlog.get_logger("oracle_node")

WATCH_BATCH = 256  # watched jobs read per tick
DRAWING_RECHECK_S = 10.0  # a job waiting for its draw is looked at again this much later
ADVANCE_BATCH = 64
FINALIZE_BATCH = 16


def keeper_grace(node: str, job_id: int, base: float) -> float:
    """Between 0.5x and 1.5x `base`, drawn from the node's address and the job id: each job gets
    its own random order of nodes, so one node moves it on first and the others find it done
    (their simulation fails, and nothing is sent), instead of all paying for the same race."""
    digest = keccak(bytes.fromhex(node[2:]) + job_id.to_bytes(32, "big"))
    return base * (0.5 + int.from_bytes(digest[:8], "big") / 2**64)


@dataclass
class Keeper:
    chain: Chain
    store: WorkStore
    txm: TxManager
    grace: float  # the node's finalize_grace; outsiders wait 2.5x to 3.5x it
    _ready_seen: dict[int, float] = field(default_factory=dict)

    def outsider_grace(self, job_id: int) -> float:
        """Longer than any member's grace (0.5x to 1.5x), so members move their own jobs first."""
        return 2 * self.grace + keeper_grace(self.chain.address, job_id, self.grace)

    def watch(self, submitted: list[tuple[int, int]]) -> None:
        if submitted:
            self.store.watch(submitted)

    async def tick(self, now: float) -> None:
        """Look at the watched jobs whose time has come; advance or finalize the stuck ones."""
        due = self.store.watched_due(now, WATCH_BATCH)
        if not due:
            return
        held = self.store.open_job_ids()
        busy = self.txm.busy_jobs()
        try:
            jobs = await self.chain.get_jobs(due)
        except ContractRevert:
            # A job id the chain does not know (its submission was reorged away): forget it.
            self.store.unwatch(due)
            return
        advance, finalize, later, gone = self._sort(jobs, held | busy, now)
        self.store.unwatch(gone)
        self.store.recheck_at(later)
        await self._send("advanced", advance, ADVANCE_BATCH, lambda ids: self.chain.jobs.functions.advanceBatch(ids))
        if finalize:
            await self._finalize(finalize)

    def _sort(self, jobs: list[Job], skip: set[int], now: float
              ) -> tuple[list[int], list[Job], dict[int, float], list[int]]:
        advance: list[int] = []
        finalize: list[Job] = []
        later: dict[int, float] = {}
        gone: list[int] = []
        for job in jobs:
            j = job.job_id
            if job.status.terminal:
                gone.append(j)
                self._ready_seen.pop(j, None)
            elif job.status is JobStatus.DRAWING or j in skip:
                later[j] = now + DRAWING_RECHECK_S
            elif job.status is JobStatus.COMMITTING:
                at = job.commit_deadline + self.outsider_grace(j)
                if now > at:
                    advance.append(j)
                else:
                    later[j] = at
            elif job.revealed < job.committed and now <= job.reveal_deadline:
                later[j] = job.reveal_deadline + self.outsider_grace(j)
            else:
                seen = self._ready_seen.setdefault(j, now)
                if now - seen >= self.outsider_grace(j):
                    finalize.append(job)
                else:
                    later[j] = seen + self.outsider_grace(j)
        return advance, finalize, later, gone

    async def _finalize(self, jobs: list[Job]) -> None:
        ids = [j.job_id for j in jobs]
        blocks = self.store.watched_submit_blocks(ids)
        vectors = await self.chain.revealed_vectors_of(ids, min(blocks.values()) if blocks else None)
        seats = await asyncio.gather(*(self.chain.get_seats(job_id) for job_id in ids))
        by_job = {job_id: [vectors.get(job_id, {}).get(s.node, b"") if s.state is SeatState.REVEALED else b""
                           for s in job_seats]
                  for job_id, job_seats in zip(ids, seats, strict=True)}
        await self._send("finalized", ids, FINALIZE_BATCH,
                         lambda chunk: self.chain.jobs.functions.finalizeBatch(chunk, [by_job[j] for j in chunk]))

    async def _send(self, action: str, job_ids: list[int], size: int,
                    build: Callable[[list[int]], AsyncContractFunction]) -> None:
        for start in range(0, len(job_ids), size):
            ids = job_ids[start:start + size]
            try:
                sent = await self.txm.send(action, ids, build(ids))
            except (ContractRevert, TransactionFailed) as exc:
                log.debug("keeper: nothing to do", action=action, jobs=ids, reason=str(exc))
                continue
            log.info("keeper moved stuck jobs on", action=action, jobs=ids, nonce=sent.nonce,
                     tx="0x" + bytes(sent.latest.tx_hash).hex())
