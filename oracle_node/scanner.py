"""The watcher: finds this node's assignments in JobAssigned logs, reorg-safely and in bounded reads.

The cursor is a block number *and* its hash. Blocks up to `confirmations` below the head are
taken as settled and the cursor moves there; the unsettled tail above it is read again on
every poll, so a shallow reorg of that tail is absorbed without any special case (an event that
vanished is reconciled away by the worker, one that appeared is recorded). A reorg deeper than
that is seen as the cursor's hash no longer being canonical: the scanner walks back through the
checkpoints it kept to the newest block still canonical (the common ancestor) and scans again
from there. Every log query spans at most `chunk_blocks` blocks, so a node that was down for a
week catches up in many small reads instead of one the RPC refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from infera.chain import Chain
from oracle_node.store import WorkStore

log = structlog.get_logger("oracle_node")


@dataclass(frozen=True)
class Assignment:
    job_id: int
    seat: int
    block_number: int
    block_hash: bytes


@dataclass(frozen=True)
class ScanResult:
    assignments: list[Assignment]
    submitted: list[tuple[int, int]]  # (job id, block) submitted for the watched models (keeper duty)


@dataclass
class AssignmentScanner:
    chain: Chain
    store: WorkStore
    confirmations: int = 3
    chunk_blocks: int = 2_000
    watch_models: tuple[int, ...] = ()
    head: int = 0  # the chain head at the last poll
    behind: int = 0  # blocks the head moved on since the previous poll read through it

    async def poll(self) -> ScanResult:
        """Every assignment of this node, and every job submitted for the watched models, in
        blocks after the settled cursor, up to the head."""
        head = await self.chain.block_number()
        self.behind = max(0, head - self.head) if self.head else 0
        self.head = head
        start = await self._start_block()
        if start > self.head:
            return ScanResult([], [])
        found: list[Assignment] = []
        submitted: list[tuple[int, int]] = []
        for low in range(start, self.head + 1, self.chunk_blocks):
            high = min(low + self.chunk_blocks - 1, self.head)
            found += [Assignment(*entry) for entry in await self.chain.assignments(self.chain.address, low, high)]
            if self.watch_models:
                submitted += await self.chain.submitted_job_ids(list(self.watch_models), low, high)
        await self._settle_cursor(start)
        return ScanResult(found, submitted)

    def scanned_to(self) -> int | None:
        cursor = self.store.cursor()
        return None if cursor is None else cursor[0]

    async def _start_block(self) -> int:
        """The first block to read: after the cursor, or after the common ancestor if the
        cursor's block was reorged away."""
        cursor = self.store.cursor()
        if cursor is None:
            return self.chain.deployment.deployment_block
        number, block_hash = cursor
        if await self.chain.block_hash(number) == block_hash:
            return number + 1
        ancestor = await self._common_ancestor()
        log.warning("reorg below the confirmation depth; scanning again from the common ancestor",
                    cursor=number, ancestor=ancestor)
        self.store.rewind_cursor(ancestor)
        return ancestor + 1

    async def _common_ancestor(self) -> int:
        for number, block_hash in self.store.checkpoints():
            if await self.chain.block_hash(number) == block_hash:
                return number
        # Deeper than every checkpoint kept: scan again from the deployment.
        return self.chain.deployment.deployment_block - 1

    async def _settle_cursor(self, start: int) -> None:
        settled = self.head - self.confirmations
        if settled < start:
            return
        block_hash = await self.chain.block_hash(settled)
        if block_hash is not None:
            self.store.advance_cursor(settled, bytes(block_hash))
