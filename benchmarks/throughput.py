"""End to end with real processes: a devnet, a deployment, three `oracle-node run` processes, and
jobs submitted through the SDK. Measures verified jobs per second and submit-to-final latency.

Times are wall-clock (time.perf_counter in this process): a job's clock starts just before the SDK
call that submits it and stops when a 0.1 s poll of eth_getLogs first sees its JobAccepted (or
JobRefunded) event. Chain-time latency (block timestamps, 1 s resolution) is recorded beside it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from benchmarks.chainops import BenchError
from benchmarks.cpu import CpuSampler, CpuShare
from benchmarks.embedding import NodeRate, node_rate
from infera.chain import Chain
from infera.client import InferaClient
from infera.errors import JobTimeout
from infera_testing.localnet import LocalNetwork

log = structlog.get_logger("benchmarks.throughput")

NODE_ACCOUNTS = [1, 2, 3]
POLL_S = 0.1
FINAL_EVENTS = ("JobAccepted", "JobRefunded")


@dataclass(frozen=True)
class Final:
    at: float  # perf_counter when first seen
    block: int
    accepted: bool


@dataclass
class FinalWatcher:
    """Polls for final events from ``next_block`` on and notes when each job's was first seen."""

    chain: Chain
    next_block: int
    seen: dict[int, Final] = field(default_factory=dict)

    async def poll(self) -> None:
        head = await self.chain.block_number()
        if head < self.next_block:
            return
        for name in FINAL_EVENTS:
            for event in await self.chain.logs(self.chain.jobs, name, self.next_block, head):
                job_id = int(event["args"]["jobId"])
                if job_id not in self.seen:
                    self.seen[job_id] = Final(time.perf_counter(), int(event["blockNumber"]), name == "JobAccepted")
        self.next_block = head + 1

    async def wait_for(self, job_ids: list[int], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not all(j in self.seen for j in job_ids):
            if time.perf_counter() > deadline:
                missing = [j for j in job_ids if j not in self.seen]
                raise JobTimeout(f"{len(missing)} jobs not final after {timeout:.0f}s, e.g. {missing[:5]}")
            await asyncio.sleep(POLL_S)
            await self.poll()


@dataclass
class JobsRun:
    """Jobs submitted in one go and when each was submitted and seen final."""

    submitted: dict[int, float] = field(default_factory=dict)  # job -> perf_counter before its submit call
    finals: dict[int, Final] = field(default_factory=dict)
    chain_latency_s: dict[int, int] = field(default_factory=dict)  # block timestamp difference

    @property
    def job_ids(self) -> list[int]:
        return sorted(self.submitted)

    @property
    def accepted(self) -> int:
        return sum(1 for j in self.job_ids if self.finals[j].accepted)

    @property
    def seconds(self) -> float:
        """From the first submit call to the last final event seen."""
        return max(self.finals[j].at for j in self.job_ids) - min(self.submitted.values())

    @property
    def verified_jobs_per_s(self) -> float:
        return self.accepted / self.seconds

    def latencies(self) -> list[float]:
        return [self.finals[j].at - self.submitted[j] for j in self.job_ids]


async def _approve_all(chain: Chain, jobs: int) -> None:
    """One allowance for every job of the run, so each submit call sends only the submit."""
    model_id = next(iter(chain.deployment.models.values()))
    fee = (await chain.get_model(model_id)).fee
    await chain.transact(chain.token.functions.approve(chain.jobs.address, fee * jobs))


async def _chain_latency(chain: Chain, run: JobsRun, from_block: int) -> None:
    submitted = {int(e["args"]["jobId"]): int(e["blockNumber"])
                 for e in await chain.logs(chain.jobs, "JobSubmitted", from_block)}
    stamps: dict[int, int] = {}
    for block in {submitted[j] for j in run.job_ids} | {run.finals[j].block for j in run.job_ids}:
        stamps[block] = int((await chain.w3.eth.get_block(block))["timestamp"])
    run.chain_latency_s = {j: stamps[run.finals[j].block] - stamps[submitted[j]] for j in run.job_ids}


async def submit_and_wait(chain: Chain, texts: list[str], submit_batch: int, timeout: float) -> JobsRun:
    """Submit ``texts`` in calls of ``submit_batch`` through the SDK and wait for all to be final."""
    client = InferaClient(chain)
    await _approve_all(chain, len(texts))
    start_block = await chain.block_number()
    watcher = FinalWatcher(chain, start_block)
    run = JobsRun()
    for start in range(0, len(texts), submit_batch):
        sent = time.perf_counter()
        for job_id in await client.submit_texts(texts[start : start + submit_batch]):
            run.submitted[job_id] = sent
    await watcher.wait_for(run.job_ids, timeout)
    run.finals = {j: watcher.seen[j] for j in run.job_ids}
    await _chain_latency(chain, run, start_block)
    return run


@dataclass(frozen=True)
class NetworkRun:
    block_time: float
    bulk: JobsRun
    lone: list[JobsRun]
    node_rates: list[NodeRate]
    cpu: CpuShare  # from just before the bulk's submit calls to its last final event


async def _bulk(net: LocalNetwork, texts: list[str], submit_batch: int, timeout: float) -> JobsRun:
    chain = await net.connect()
    try:
        bulk = await submit_and_wait(chain, texts, submit_batch, timeout)
    finally:
        await chain.close()
    log.info("jobs final", jobs=len(bulk.job_ids), accepted=bulk.accepted, seconds=round(bulk.seconds, 2),
             block_time=net.block_time)
    return bulk


async def _lone(net: LocalNetwork, texts: list[str], timeout: float) -> list[JobsRun]:
    """Each text as a job of its own, the next only once the last is final."""
    chain = await net.connect()
    try:
        return [await submit_and_wait(chain, [text], 1, timeout) for text in texts]
    finally:
        await chain.close()


def network_run(run_dir: Path, block_time: float, texts: list[str], lone_texts: list[str], submit_batch: int,
                timeout: float, after_bulk: Callable[[], None] | None = None) -> NetworkRun:
    """Devnet, deployment, three staked node processes; the jobs together, then ``after_bulk``
    (with the nodes idle), then the lone jobs; every process stopped on exit."""
    with LocalNetwork(run_dir, block_time=block_time) as net:
        net.start_devnet()
        net.deploy()
        asyncio.run(net.register_nodes(NODE_ACCOUNTS, capacity=len(texts) + len(lone_texts) + 8))
        for index in NODE_ACCOUNTS:
            net.start_node(index)
        net.wait_nodes_ready()
        log.info("nodes ready", nodes=len(net.nodes), block_time=block_time)
        with CpuSampler(_node_parts(net), split_threads_of=tuple(f"node{i}" for i in NODE_ACCOUNTS)) as sampler:
            started = time.time()
            bulk = asyncio.run(_bulk(net, texts, submit_batch, timeout))
            ended = time.time()
        if after_bulk is not None:
            after_bulk()
        lone = asyncio.run(_lone(net, lone_texts, timeout))
        rates = [node_rate(node.index, node.log_path, set(bulk.job_ids)) for node in net.nodes]
    if bulk.accepted != len(bulk.job_ids):
        raise BenchError(f"only {bulk.accepted} of {len(bulk.job_ids)} jobs were accepted (logs in {run_dir})")
    return NetworkRun(block_time, bulk, lone, rates, sampler.share(started, ended))


def _node_parts(net: LocalNetwork) -> dict[str, int]:
    """The pids of the devnet and of each node process, named anvil and node<account>."""
    assert net.devnet is not None and net.devnet.process is not None
    return {"anvil": net.devnet.process.pid, **{f"node{n.index}": n.process.pid for n in net.nodes}}


async def _submit_only(net: LocalNetwork, texts: list[str], submit_batch: int) -> list[int]:
    chain = await net.connect()
    try:
        await _approve_all(chain, len(texts))
        client = InferaClient(chain)
        job_ids: list[int] = []
        for start in range(0, len(texts), submit_batch):
            job_ids += await client.submit_texts(texts[start : start + submit_batch])
        return job_ids
    finally:
        await chain.close()


@dataclass(frozen=True)
class SoloRun:
    rate: NodeRate
    cpu: CpuShare  # inside the node's window: what the node, its threads, anvil and the machine used


def solo_node_run(run_dir: Path, texts: list[str], submit_batch: int, timeout: float) -> SoloRun:
    """One node process alone on the machine (the other two committee members are registered but
    not running, so no job goes past its commits), started once every job is queued, for
    comparing its draw-embed-and-commit rate with the raw encode: in the three-node runs the node
    processes share the cores three ways. CPU time is sampled meanwhile, so the note can say
    where the cores went inside the node's window."""
    with LocalNetwork(run_dir, block_time=0) as net:
        net.start_devnet()
        net.deploy()
        asyncio.run(net.register_nodes(NODE_ACCOUNTS, capacity=len(texts) + 8))
        # Every job is queued before the node starts: the node embeds beside its loop, so once
        # the jobs arrive in submit calls its window would measure their arrival, not the node.
        job_ids = set(asyncio.run(_submit_only(net, texts, submit_batch)))
        # Alone on the machine, with torch's own default (a thread per core), as the raw encode runs.
        node = net.start_node(NODE_ACCOUNTS[0], torch_threads=str(os.cpu_count() or 1))
        parts = _node_parts(net)
        with CpuSampler(parts, split_threads_of=(f"node{node.index}",)) as sampler:
            rate = _wait_solo_commits(node.index, node.log_path, job_ids, timeout)
        return SoloRun(rate, sampler.share(rate.started_at, rate.started_at + rate.seconds))


def _wait_solo_commits(index: int, log_path: Path, job_ids: set[int], timeout: float) -> NodeRate:
    deadline = time.monotonic() + timeout
    while True:
        try:
            rate: NodeRate | None = node_rate(index, log_path, job_ids)
        except BenchError:
            rate = None
        if rate is not None and rate.jobs == len(job_ids):
            log.info("solo node committed", jobs=rate.jobs, seconds=round(rate.seconds, 2))
            return rate
        if time.monotonic() > deadline:
            raise BenchError(f"the solo node committed {rate.jobs if rate else 0} of {len(job_ids)} jobs in {timeout:.0f}s")
        time.sleep(0.5)
