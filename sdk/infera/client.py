"""High-level SDK: submit text jobs paying INFER, wait for them, and check how they were verified.

    async with await InferaClient.connect(private_key=KEY) as client:
        ids = await client.submit_texts(["hello world"])
        result = await client.wait_for_result(ids[0])
        detail = await client.verification(ids[0])
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt
from web3.logs import DISCARD

from infera.chain import Chain
from infera.deployment import Deployment, load_deployment
from infera.errors import InferaError, InsufficientBalance, JobTimeout
from infera.inputs import InvalidInput, canonical_text, encode_input
from infera.types import Job, JobStatus
from infera.vectors import PPM, cosine, unpack

MAX_BATCH = 64


@dataclass(frozen=True)
class JobResult:
    """A finished job: the accepted vector, or a refund."""

    job_id: int
    status: JobStatus
    input: str
    result_hash: bytes | None
    vector: npt.NDArray[np.int8] | None
    agreeing: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return self.status is JobStatus.ACCEPTED


@dataclass(frozen=True)
class Verification:
    """How a result was verified: every revealed vector and their pairwise integer cosines."""

    job_id: int
    threshold: float
    reveals: dict[str, npt.NDArray[np.int8]]
    agreeing: tuple[str, ...]
    pairwise: dict[tuple[str, str], float]

    @property
    def min_agreeing_cosine(self) -> float:
        """Lowest cosine between any two agreeing nodes (1.0 with a single agreeing node)."""
        pairs = [self.pairwise[(a, b)] for a, b in itertools.combinations(self.agreeing, 2)]
        return min(pairs, default=1.0)


def validate_inputs(texts: list[str]) -> None:
    """Reject what the contract would reject, and text that is not valid Unicode (which no UTF-8
    encoding exists for), with the offending index in the message."""
    if not texts:
        raise InvalidInput("no inputs given")
    for i, text in enumerate(texts):
        encode_input(text, i)


class InferaClient:
    """Requester-side access to a deployment."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    @classmethod
    async def connect(
        cls,
        network: str = "infera:devnet",
        rpc_url: str = "http://127.0.0.1:8545",
        private_key: str | None = None,
        deployments_dir: Path | None = None,
        deployment: Deployment | None = None,
    ) -> InferaClient:
        record = deployment or load_deployment(network, deployments_dir)
        return cls(await Chain.connect(rpc_url, record, private_key))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.chain.close()

    # ---------------------------------------------------------------- submit
    async def submit_texts(
        self, texts: list[str], model: str | int = "all-MiniLM-L6-v2", callback: bool = False
    ) -> list[int]:
        """Submit one job per text (in batches of up to 64 per transaction); returns job ids."""
        validate_inputs(texts)
        model_id = self.chain.deployment.model_id(model)
        info = await self.chain.get_model(model_id)
        await self._ensure_allowance(info.fee * len(texts))
        job_ids: list[int] = []
        for start in range(0, len(texts), MAX_BATCH):
            batch = texts[start : start + MAX_BATCH]
            receipt = await self.chain.transact(
                self.chain.jobs.functions.submit(model_id, batch, info.fee, callback)
            )
            events = self.chain.jobs.events.JobSubmitted().process_receipt(receipt, errors=DISCARD)
            job_ids.extend(int(e["args"]["jobId"]) for e in events)
        return job_ids

    async def _ensure_allowance(self, amount: int) -> None:
        owner = self.chain.address
        balance = await self.chain.balance_of(owner)
        if balance < amount:
            raise InsufficientBalance(
                f"{owner} holds {balance / 1e18:g} INFER; these jobs cost {amount / 1e18:g} INFER"
            )
        jobs_address = self.chain.jobs.address
        allowance = int(await self.chain.token.functions.allowance(owner, jobs_address).call())
        if allowance < amount:
            await self.chain.transact(self.chain.token.functions.approve(jobs_address, amount))

    # ------------------------------------------------------------------ wait
    async def wait_for_job(self, job_id: int, timeout: float = 600.0, poll: float = 0.5) -> Job:
        """Poll until the job is accepted or refunded."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.chain.get_job(job_id)
            if job.status.terminal:
                return job
            if time.monotonic() > deadline:
                raise JobTimeout(f"job {job_id} still {job.status.name.lower()} after {timeout:.0f}s")
            await asyncio.sleep(poll)

    async def wait_for_result(self, job_id: int, timeout: float = 600.0) -> JobResult:
        await self.wait_for_job(job_id, timeout)
        return await self.result(job_id)

    async def result(self, job_id: int) -> JobResult:
        """The job's outcome as recorded in its events."""
        job = await self.chain.get_job(job_id)
        text = await self.input_of(job_id)
        if job.status is not JobStatus.ACCEPTED:
            return JobResult(job_id, job.status, text, None, None, ())
        logs = await self._job_logs("JobAccepted", job_id)
        args = logs[-1]["args"]
        return JobResult(
            job_id, job.status, text, bytes(args["resultHash"]),
            unpack(bytes(args["vector"]), job.dimension), tuple(args["agreeing"]),
        )

    async def input_of(self, job_id: int) -> str:
        return canonical_text(await self.chain.job_input(job_id))

    async def verification(self, job_id: int) -> Verification:
        """Every revealed vector of the job and the integer cosine of each pair."""
        job = await self.chain.get_job(job_id)
        revealed = await self.chain.revealed_vectors(job_id)
        if not revealed:
            raise InferaError(f"no Revealed event for job {job_id}")
        reveals = {node: unpack(vector, job.dimension) for node, vector in revealed.items()}
        pairwise: dict[tuple[str, str], float] = {}
        for a, b in itertools.combinations(reveals, 2):
            pairwise[(a, b)] = pairwise[(b, a)] = cosine(reveals[a], reveals[b])
        agreeing: tuple[str, ...] = ()
        if job.status is JobStatus.ACCEPTED:
            agreeing = tuple((await self._job_logs("JobAccepted", job_id))[-1]["args"]["agreeing"])
        return Verification(job_id, job.threshold_ppm / PPM, reveals, agreeing, pairwise)

    async def _job_logs(self, event: str, job_id: int) -> list[dict]:  # type: ignore[type-arg]
        logs = await self.chain.logs(
            self.chain.jobs, event, self.chain.deployment.deployment_block, jobId=job_id
        )
        if not logs:
            raise InferaError(f"no {event} event for job {job_id}")
        return [dict(log) for log in logs]
