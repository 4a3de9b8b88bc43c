"""Keeper duty, shared by the node and the relayer: move on jobs that nobody moved on.

A committee's members advance and finalize their own jobs after a short randomized grace
(`keeper_grace`, 0.5x to 1.5x a base). A job whose whole committee died would stay open forever,
so outsiders also watch jobs and, after a longer grace of their own (`outsider_grace`, 2.5x to
3.5x the base), advance one past a missed commit deadline (which redraws or refunds it) or
finalize one once its reveal phase is over. Every call is simulated first (TxManager.send): the
outsider that comes second finds the job moved and sends nothing. That simulation is the only
guard against two outsiders paying for the same job, and it is enough: each outsider draws its own
grace per job from its address, so they rarely even try at once.

Where the watched jobs come from is the caller's: a node feeds its WorkStore from its scanner
(every job of the models it serves), the relayer reads the jobs it submitted from its queue. Both
hand the keeper a `JobWatch`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from eth_utils.crypto import keccak
from web3.contract.async_contract import AsyncContractFunction

from infera.chain import ASSIGN_BATCH, Chain
from infera.errors import ContractRevert, TransactionFailed
from infera.txmanager import TxManager
from infera.types import Job, JobStatus, SeatState

WATCH_BATCH = 256  # watched jobs read per tick
DRAWING_RECHECK_S = 10.0  # a job waiting for its draw is looked at again this much later
ADVANCE_BATCH = 64
FINALIZE_BATCH = 16


def keeper_grace(sender: str, job_id: int, base: float) -> float:
    """Between 0.5x and 1.5x `base`, drawn from the sender's address and the job id: each job gets
    its own random order of senders, so one moves it on first and the others find it done
    (their simulation fails, and nothing is sent), instead of all paying for the same race."""
    digest = keccak(bytes.fromhex(sender[2:]) + job_id.to_bytes(32, "big"))
    return base * (0.5 + int.from_bytes(digest[:8], "big") / 2**64)


def outsider_grace(sender: str, job_id: int, base: float) -> float:
    """2.5x to 3.5x `base`: longer than any member's grace, so members move their own jobs first."""
    return 2 * base + keeper_grace(sender, job_id, base)


class JobWatch(Protocol):
    """The jobs a keeper looks after, and when to look at each again."""

    async def due(self, now: float, limit: int) -> list[int]:
        """Watched jobs whose time to be looked at has come (at most `limit`), oldest first."""
        ...

    async def held(self) -> set[int]:
        """Jobs whose owner moves them on itself (a node's own seats): the keeper leaves them."""
        ...

    async def recheck_at(self, later: dict[int, float]) -> None:
        """Look at each of these jobs again at the time given."""
        ...

    async def unwatch(self, job_ids: list[int]) -> None:
        """Final jobs, or ids the chain does not know (a reorged-away submission)."""
        ...

    async def submit_blocks(self, job_ids: list[int]) -> dict[int, int]:
        """The block each job was submitted in, where known (logs are read from there on)."""
        ...


@dataclass(frozen=True)
class KeeperReport:
    """What one tick did: the jobs it moved on, by action, and the calls whose simulation found
    nothing to do (another sender was first)."""

    moved: dict[str, list[int]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


@dataclass
class JobKeeper:
    chain: Chain
    jobs: JobWatch
    txm: TxManager
    grace: float  # the base: outsiders wait 2.5x to 3.5x it
    log: Any = field(default_factory=lambda: structlog.get_logger("infera"))
    _ready_seen: dict[int, float] = field(default_factory=dict)
    _draw_seen: tuple[int, float] | None = None  # (draw block, when first seen due)

    def outsider_grace(self, job_id: int) -> float:
        return outsider_grace(self.chain.address, job_id, self.grace)

    async def tick(self, now: float) -> KeeperReport:
        """Look at the watched jobs whose time has come; advance or finalize the stuck ones."""
        report = KeeperReport()
        due = await self.jobs.due(now, WATCH_BATCH)
        if not due:
            return report
        held = await self.jobs.held()
        busy = self.txm.busy_jobs()
        try:
            jobs = await self.chain.get_jobs(due)
        except ContractRevert:
            # A job id the chain does not know (its submission was reorged away): forget it.
            await self.jobs.unwatch(due)
            return report
        advance, finalize, later, gone = self._sort(jobs, held | busy, now)
        await self.jobs.unwatch(gone)
        await self.jobs.recheck_at(later)
        await self._send(report, "advanced", advance, ADVANCE_BATCH,
                         lambda ids: self.chain.jobs.functions.advanceBatch(ids))
        if finalize:
            await self._finalize(report, finalize)
        return report

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

    async def _finalize(self, report: KeeperReport, jobs: list[Job]) -> None:
        ids = [j.job_id for j in jobs]
        blocks = await self.jobs.submit_blocks(ids)
        vectors = await self.chain.revealed_vectors_of(ids, min(blocks.values()) if blocks else None)
        seats = await asyncio.gather(*(self.chain.get_seats(job_id) for job_id in ids))
        by_job = {job_id: [vectors.get(job_id, {}).get(s.node, b"") if s.state is SeatState.REVEALED else b""
                           for s in job_seats]
                  for job_id, job_seats in zip(ids, seats, strict=True)}
        await self._send(report, "finalized", ids, FINALIZE_BATCH,
                         lambda chunk: self.chain.jobs.functions.finalizeBatch(chunk, [by_job[j] for j in chunk]))

    async def _send(self, report: KeeperReport, action: str, job_ids: list[int], size: int,
                    build: Callable[[list[int]], AsyncContractFunction]) -> None:
        for start in range(0, len(job_ids), size):
            ids = job_ids[start:start + size]
            try:
                sent = await self.txm.send(action, ids, build(ids))
            except (ContractRevert, TransactionFailed) as exc:
                self.log.debug("keeper: nothing to do", action=action, jobs=ids, reason=str(exc))
                report.refused[action] = report.refused.get(action, 0) + 1
                continue
            report.moved.setdefault(action, []).extend(ids)
            self.log.info("keeper moved stuck jobs on", action=action, jobs=ids, nonce=sent.nonce,
                          tx="0x" + bytes(sent.latest.tx_hash).hex())

    async def draw_due(self, now: float) -> bool:
        """Outsider's assign(): draw the committees whose draw block's hash exists once they have
        been due for an outsider's grace (drawn per draw block), so that the nodes, which draw
        at once, go first. True when an assign was sent."""
        if self.txm.pending("assign"):
            return False
        entries, head_block = await self.chain.jobs.functions.queuedDraws().call()
        if not int(entries) or not await self.chain.jobs.functions.drawsDue().call():
            self._draw_seen = None
            return False
        head = int(head_block)
        if self._draw_seen is None or self._draw_seen[0] != head:
            self._draw_seen = (head, now)
        if now - self._draw_seen[1] < self.outsider_grace(head):
            return False
        try:
            sent = await self.txm.send("assign", [], self.chain.jobs.functions.assign(ASSIGN_BATCH))
        except (ContractRevert, TransactionFailed) as exc:
            self.log.debug("keeper: no draw to make", reason=str(exc))
            return False
        self.log.info("keeper drew due committees", nonce=sent.nonce, tx="0x" + bytes(sent.latest.tx_hash).hex(),
                      draw_block=head)
        return True
