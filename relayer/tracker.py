"""Tracker: follows every submitted job to accepted or refunded with one getJobs call per tick,
and stores a final job's result from its events (JobAccepted, JobRefunded, Revealed): the
vector, the agreeing nodes, the integer cosine of every pair of reveals, the final transaction.
Its state is the queue itself, so a restarted relayer goes on tracking where it was."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import structlog

from infera.chain import Chain
from infera.contract_errors import JobRegistryUnknownJob
from infera.types import Job, JobStatus
from infera.vectors import PPM, cosine, unpack
from relayer.metrics import RelayerMetrics
from relayer.store import OpenJob, Store

log = structlog.get_logger("relayer")
CHUNK = 200  # jobs per getJobs call and per log query


@dataclass
class Tracker:
    chain: Chain
    store: Store
    metrics: RelayerMetrics

    async def tick(self) -> int:
        """One pass over the open jobs; returns how many changed."""
        open_jobs = await self.store.open_jobs()
        self.metrics.open_jobs.set(len(open_jobs))
        changed = 0
        for start in range(0, len(open_jobs), CHUNK):
            changed += await self._track(open_jobs[start:start + CHUNK])
        return changed

    async def _track(self, batch: list[OpenJob]) -> int:
        on_chain = await self._read([o.job_id for o in batch])
        moved = [(o, on_chain[o.job_id]) for o in batch
                 if o.job_id in on_chain and on_chain[o.job_id].status.name.lower() != o.status]
        if not moved:
            return 0
        final = [(o, j) for o, j in moved if j.status.terminal]
        results = await self._results(final) if final else {}
        # A final job whose closing event this node's logs do not show yet (a lagging RPC
        # endpoint behind a load balancer) waits for the next tick rather than being stored final
        # without its result.
        final = [(o, j) for o, j in final if "final_tx" in results.get(o.job_id, {})]
        moved = [(o, j) for o, j in moved if not j.status.terminal or "final_tx" in results.get(o.job_id, {})]
        updates = [(o, j.status.name.lower(), results.get(o.job_id)) for o, j in moved]
        await self.store.update_jobs(updates)
        for o, j in final:
            self.metrics.jobs_final.labels(status=j.status.name.lower()).inc()
            log.info("job final", job_id=o.job_id, request_id=o.request_id, status=j.status.name.lower())
        return len(moved)

    async def _read(self, job_ids: list[int]) -> dict[int, Job]:
        """The jobs the chain knows, by id. An id it does not know (a submission a reorg took
        away; the submitter records the new ids once it is mined again) is left out, so that one
        such job never stops the tracking of all the others."""
        try:
            return {j.job_id: j for j in await self.chain.get_jobs(job_ids)}
        except JobRegistryUnknownJob:
            pass
        found = await asyncio.gather(*(self._read_one(j) for j in job_ids))
        unknown = [j for j, job in zip(job_ids, found, strict=True) if job is None]
        log.warning("jobs unknown to the chain; not tracked until recorded again", jobs=unknown)
        return {job.job_id: job for job in found if job is not None}

    async def _read_one(self, job_id: int) -> Job | None:
        try:
            return await self.chain.get_job(job_id)
        except JobRegistryUnknownJob:
            return None

    async def _results(self, final: list[tuple[OpenJob, Job]]) -> dict[int, dict[str, Any]]:
        chain = self.chain
        ids = [o.job_id for o, _ in final]
        start = min((o.submit_block for o, _ in final if o.submit_block is not None),
                    default=chain.deployment.deployment_block)
        accepted = {int(e["args"]["jobId"]): e for e in await chain.logs(chain.jobs, "JobAccepted", start, jobId=ids)}
        refunded = {int(e["args"]["jobId"]): e for e in await chain.logs(chain.jobs, "JobRefunded", start, jobId=ids)}
        reveals = await chain.revealed_vectors_of(ids, start)
        out: dict[int, dict[str, Any]] = {}
        for o, job in final:
            vectors = {node: unpack(v, job.dimension) for node, v in reveals.get(o.job_id, {}).items()}
            cosines = [{"a": a, "b": b, "cosine": cosine(vectors[a], vectors[b])}
                       for a, b in itertools.combinations(sorted(vectors), 2)]
            result: dict[str, Any] = {"cosines": cosines, "threshold": job.threshold_ppm / PPM}
            event = accepted.get(o.job_id) if job.status is JobStatus.ACCEPTED else refunded.get(o.job_id)
            if event is not None:
                result["final_tx"] = "0x" + bytes(event["transactionHash"]).hex()
            if job.status is JobStatus.ACCEPTED and event is not None:
                args = event["args"]
                result["vector"] = unpack(bytes(args["vector"]), job.dimension).tolist()
                result["result_hash"] = "0x" + bytes(args["resultHash"]).hex()
                result["agreeing"] = [str(a) for a in args["agreeing"]]
            out[o.job_id] = result
        return out
