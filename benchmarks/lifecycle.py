"""Drive jobs through their whole life from Python (no node processes) and add up gas by phase.

Every transaction goes through `infera.chain.Chain.transact`, which estimates gas against the
pending block and waits for the receipt. Commit, reveal and finalize are sent either one job per
transaction ("single": commit, reveal, finalize) or many jobs per transaction ("batched":
commitBatch and revealBatch per node, finalizeBatch for all jobs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from eth_utils.crypto import keccak
from web3.logs import DISCARD
from web3.types import TxReceipt

from benchmarks.chainops import BenchError, deployed_code_has, gas_used, mine, signer
from infera.abi import load_abi
from infera.chain import Chain, commitment_of
from infera.types import JobStatus
from infera.vectors import INT8_MAX, quantize

PHASES = ("submit", "assign", "commit", "reveal", "finalize")
DIM = 384
MAX_BATCH = 64  # JobRegistry.MAX_BATCH: most jobs in one batched call
BATCH_SIGNATURES = [
    "commitBatch(uint256[],uint256[],bytes32[])",
    "revealBatch(uint256[],uint256[],bytes[],bytes32[])",
    "advanceBatch(uint256[])",
    "finalizeBatch(uint256[],bytes[][])",
]


@dataclass
class GasLedger:
    """Gas of every transaction a run sent, summed by phase."""

    gas: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    txs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    receipts: list[tuple[str, TxReceipt]] = field(default_factory=list)  # (phase, receipt), in order sent

    def add(self, phase: str, receipt: TxReceipt) -> None:
        self.gas[phase] += gas_used(receipt)
        self.txs[phase] += 1
        self.receipts.append((phase, receipt))

    def total_per_job(self, jobs: int) -> int:
        return round(sum(self.gas.values()) / jobs)

    def per_job(self, jobs: int) -> dict[str, object]:
        """{"total": gas per job, "by_phase": {phase: gas per job}}, rounded to whole gas."""
        by_phase = {phase: round(self.gas[phase] / jobs) for phase in PHASES}
        return {"total": self.total_per_job(jobs), "by_phase": by_phase}


def batched_in_abi() -> bool:
    """Whether the SDK's JobRegistry ABI (exported from this build) has the batched calls."""
    names = {entry.get("name") for entry in load_abi("JobRegistry") if entry.get("type") == "function"}
    return {"commitBatch", "revealBatch", "finalizeBatch"} <= names


async def batched_available(chain: Chain) -> bool:
    """The batched path runs only if both the ABI and the deployed JobRegistry have it."""
    return batched_in_abi() and await deployed_code_has(chain.w3, chain.jobs.address, BATCH_SIGNATURES)


def agreeing_vectors(job_id: int, seats: int, flips: int = 32) -> list[bytes]:
    """One packed int8 vector per seat, all within a cosine of about 0.9999 of each other: a
    random base vector, each seat's copy with ``flips`` components moved by one step."""
    rng = np.random.default_rng(job_id)
    base = quantize(rng.standard_normal(DIM)).astype(np.int16)
    out = []
    for _ in range(seats):
        noisy = base.copy()
        picked = rng.choice(DIM, size=flips, replace=False)
        noisy[picked] += rng.choice(np.array([-1, 1], dtype=np.int16), size=flips)
        out.append(np.clip(noisy, -INT8_MAX, INT8_MAX).astype(np.int8).tobytes())
    return out


def salt_of(job_id: int, node: str) -> bytes:
    return keccak(text=f"bench-salt-{job_id}-{node.lower()}")


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class JobDriver:
    """Submits as the requester and acts as every seated node (their keys by address)."""

    requester: Chain
    keys: dict[str, str]
    ledger: GasLedger = field(default_factory=GasLedger)
    seats: dict[int, list[str]] = field(default_factory=dict)  # job id -> node of each seat
    _signers: dict[str, Chain] = field(default_factory=dict)

    def node(self, address: str) -> Chain:
        if address not in self._signers:
            self._signers[address] = signer(self.requester, self.keys[address])
        return self._signers[address]

    def vectors(self, job_id: int) -> list[bytes]:
        return agreeing_vectors(job_id, len(self.seats[job_id]))

    # ------------------------------------------------------------------ submit, assign
    async def submit(self, texts: list[str], model_id: int) -> list[int]:
        """Approve the fees (not counted: a one-off allowance), submit every text in one call."""
        chain = self.requester
        fee = (await chain.get_model(model_id)).fee
        await chain.transact(chain.token.functions.approve(chain.jobs.address, fee * len(texts)))
        receipt = await chain.transact(chain.jobs.functions.submit(model_id, texts, fee, False))
        self.ledger.add("submit", receipt)
        events = chain.jobs.events.JobSubmitted().process_receipt(receipt, errors=DISCARD)
        return [int(e["args"]["jobId"]) for e in events]

    async def assign(self, job_ids: list[int]) -> None:
        """Mine the block the draws need, draw every committee, record who sits where."""
        await mine(self.requester.w3)
        for _ in chunks(job_ids, MAX_BATCH):
            receipt = await self.requester.assign_due(MAX_BATCH)
            if receipt is None:
                raise BenchError("assign found no committee draw due after mining a block")
            self.ledger.add("assign", receipt)
        for job_id in job_ids:
            self.seats[job_id] = [seat.node for seat in await self.requester.get_seats(job_id)]

    def jobs_by_node(self) -> dict[str, list[tuple[int, int]]]:
        """Node -> [(job id, seat index)], in job order."""
        out: dict[str, list[tuple[int, int]]] = {}
        for job_id, nodes in self.seats.items():
            for seat, node in enumerate(nodes):
                out.setdefault(node, []).append((job_id, seat))
        return out

    # ------------------------------------------------------------------ one job per transaction
    async def settle_single(self) -> None:
        for job_id, nodes in self.seats.items():
            for node, vector in zip(nodes, self.vectors(job_id), strict=True):
                chain = self.node(node)
                commitment = self._commitment(chain, job_id, vector)
                self.ledger.add("commit", await chain.transact(chain.jobs.functions.commit(job_id, commitment)))
        for job_id, nodes in self.seats.items():
            for node, vector in zip(nodes, self.vectors(job_id), strict=True):
                chain = self.node(node)
                fn = chain.jobs.functions.reveal(job_id, vector, salt_of(job_id, node))
                self.ledger.add("reveal", await chain.transact(fn))
        for job_id, nodes in self.seats.items():
            chain = self.node(nodes[0])
            self.ledger.add("finalize", await chain.transact(chain.jobs.functions.finalize(job_id, self.vectors(job_id))))

    # ------------------------------------------------------------------ many jobs per transaction
    async def settle_batched(self) -> None:
        by_node = self.jobs_by_node()
        for node, held in by_node.items():
            chain = self.node(node)
            for part in _parts(held):
                commitments = [self._commitment(chain, j, self.vectors(j)[seat]) for j, seat in part]
                fn = chain.jobs.functions.commitBatch([j for j, _ in part], [seat for _, seat in part], commitments)
                self._add_batch("commit", await chain.transact(fn))
        for node, held in by_node.items():
            chain = self.node(node)
            for part in _parts(held):
                fn = chain.jobs.functions.revealBatch(
                    [j for j, _ in part], [seat for _, seat in part], [self.vectors(j)[seat] for j, seat in part],
                    [salt_of(j, node) for j, _ in part],
                )
                self._add_batch("reveal", await chain.transact(fn))
        closer = self.node(next(iter(by_node)))
        for ids in chunks(list(self.seats), MAX_BATCH):
            fn = closer.jobs.functions.finalizeBatch(ids, [self.vectors(j) for j in ids])
            self._add_batch("finalize", await closer.transact(fn))

    def _add_batch(self, phase: str, receipt: TxReceipt) -> None:
        skipped = self.requester.jobs.events.BatchItemSkipped().process_receipt(receipt, errors=DISCARD)
        if skipped:
            reasons = [(int(e["args"]["jobId"]), int(e["args"]["reason"])) for e in skipped]
            raise BenchError(f"{phase}: the batch skipped items (job, reason): {reasons}")
        self.ledger.add(phase, receipt)

    def _commitment(self, chain: Chain, job_id: int, vector: bytes) -> bytes:
        return commitment_of(chain.deployment.chain_id, chain.jobs.address, job_id, chain.address, vector,
                             salt_of(job_id, chain.address))

    # ------------------------------------------------------------------ check
    async def check_accepted(self) -> None:
        """Only verified jobs count: every job must have ended ACCEPTED."""
        for job_id in self.seats:
            job = await self.requester.get_job(job_id)
            if job.status is not JobStatus.ACCEPTED:
                raise BenchError(f"job {job_id} ended {job.status.name}, not ACCEPTED")


def _parts(held: list[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    for start in range(0, len(held), MAX_BATCH):
        yield held[start : start + MAX_BATCH]
