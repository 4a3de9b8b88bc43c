"""The oracle node: watch for assignments, embed, commit, reveal, and finalize.

One long-lived loop (setup / run / stop). Each tick walks every job the node holds through the
next step its on-chain state allows, so the node converges to the right action after a restart,
a missed block or a transaction that failed.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TypeVar

import aiohttp
import numpy as np
import numpy.typing as npt
import structlog
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.contract.async_contract import AsyncContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from infera.chain import Chain, commitment_of
from infera.deployment import load_deployment
from infera.errors import ConfigError, ContractRevert, InferaError, InsufficientStake, TransactionFailed
from infera.inputs import canonical_text
from infera.types import Job, JobStatus, SeatState
from infera.vectors import quantize_packed
from oracle_node import faults
from oracle_node.config import NodeSettings
from oracle_node.inference.embedder import Embedder, minilm_path
from oracle_node.store import Work, WorkState, WorkStore

log = structlog.get_logger("oracle_node")
T = TypeVar("T")

# Models this node software can run, by registered name -> local weights folder.
LOCAL_MODELS = {"all-MiniLM-L6-v2": minilm_path}
# A job whose processing fails this many times (with backoff 2, 4, 8, ... s) is given up, so one
# hostile or broken job can never hold the node's loop or its other jobs. Failures of the RPC
# connection itself are not the job's fault and spend no attempt.
MAX_JOB_ATTEMPTS = 5
TRANSIENT = (aiohttp.ClientError, TimeoutError, OSError)
# Items per batched transaction: JobRegistry.MAX_BATCH for commit, reveal and advance; finalize
# costs about 240k gas a job, so 16 keep a transaction near 4M gas, far under a block's limit.
BATCH_LIMIT = 64
FINALIZE_BATCH = 16
# assign() transactions a tick sends while draws are still due (each draws up to 64 committees).
MAX_ASSIGNS_PER_TICK = 4
# A sent transaction not mined after this long is treated as lost: its jobs are re-read from the chain.
INFLIGHT_TIMEOUT_S = 120.0


@dataclass
class InFlight:
    """A batched transaction sent and not yet seen mined."""

    tx_hash: HexBytes
    action: str
    job_ids: list[int]
    sent_at: float


class NotRegistered(InferaError):
    """The node's address is not registered in the NodeRegistry."""


async def connect_signer(settings: NodeSettings) -> Chain:
    """Connect to the configured deployment with the node's key (a clear error if it is missing)."""
    key = settings.signing_key()
    deployment = load_deployment(settings.network, settings.deployments_dir)
    return await Chain.connect(settings.rpc_url, deployment, key)


@dataclass
class ServedModel:
    model_id: int
    name: str
    embedder: Embedder
    dimension: int


@dataclass
class OracleNode:
    settings: NodeSettings
    chain: Chain | None = None
    store: WorkStore | None = None
    served: dict[int, ServedModel] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _rng: np.random.Generator = field(default_factory=np.random.default_rng)
    _failures: dict[int, int] = field(default_factory=dict)  # job id -> failed attempts
    _retry_at: dict[int, float] = field(default_factory=dict)  # job id -> monotonic time
    _inflight: list[InFlight] = field(default_factory=list)

    # ---------------------------------------------------------------- lifecycle
    async def setup(self) -> None:
        """Connect, check registration and stake, load and verify every served model."""
        s = self.settings
        self.chain = await connect_signer(s)
        me = self.chain.address
        await self._check_stake(me)
        for name in s.models:
            model_id = self.chain.deployment.model_id(name)
            self.served[model_id] = await self._load_model(model_id, name)
        # One store per deployment: job ids and the scan cursor mean nothing on another chain or
        # registry, and a store reused across them would skip or misread every job.
        deployment = f"{self.chain.deployment.chain_id}-{self.chain.jobs.address.lower()}"
        self.store = WorkStore(s.state_dir / deployment / f"{me.lower()}.sqlite3")
        log.info("node ready", node=me, network=s.network, models=[m.name for m in self.served.values()],
                 device=next(iter(self.served.values())).embedder.device, fault=s.fault)

    async def _check_stake(self, me: str) -> None:
        assert self.chain is not None
        info = await self.chain.get_node(me)
        if not info.registered:
            raise NotRegistered(f"node {me} is not registered: run `oracle-node register --stake N`")
        minimum = int(await self.chain.nodes.functions.minStake().call())
        if info.stake < minimum:
            raise InsufficientStake(
                f"node {me} has {info.stake / 1e18:g} INFER staked, the minimum is {minimum / 1e18:g}; "
                "add stake with `oracle-node register --stake N` (it tops up)"
            )

    async def _load_model(self, model_id: int, name: str) -> ServedModel:
        assert self.chain is not None
        model = await self.chain.get_model(model_id)
        registered_name = str(await self.chain.models.functions.nameOf(model_id).call())
        if registered_name not in LOCAL_MODELS:
            raise ConfigError(f"model {model_id} is {registered_name!r}; this node can run {sorted(LOCAL_MODELS)}")
        path = LOCAL_MODELS[registered_name]()
        embedder = await asyncio.to_thread(Embedder, path, self.settings.device, self.settings.batch_size)
        embedder.verify_digest(model.weights_digest)
        faults.adjust_model(self.settings.fault, embedder)
        if embedder.dimension != model.dimension:
            raise ConfigError(f"{registered_name} outputs {embedder.dimension} dims, the registry says {model.dimension}")
        return ServedModel(model_id, registered_name, embedder, model.dimension)

    async def run(self) -> None:
        await self.setup()
        last_heartbeat = 0.0
        failed_ticks = 0
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                try:
                    await self.tick()
                except Exception as exc:  # noqa: BLE001 - nothing outside the node may stop it
                    failed_ticks += 1
                    log.warning("tick failed; retrying", error=str(exc), kind=type(exc).__name__, exc_info=True)
                if started - last_heartbeat >= self.settings.heartbeat_interval:
                    self._heartbeat(time.monotonic() - started, failed_ticks)
                    last_heartbeat, failed_ticks = started, 0
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.settings.poll_interval)
                except TimeoutError:
                    pass
        finally:
            await self.cleanup()

    def stop(self) -> None:
        self._stopping.set()

    def _heartbeat(self, tick_seconds: float, failed_ticks: int) -> None:
        """What the node holds and how its loop goes, every heartbeat_interval: an operator
        reading the log sees a live node, its open work and whether ticks fail."""
        _, store = self._parts()
        last_block = store.get_meta("last_block")
        log.info("heartbeat", jobs=store.counts(), in_flight=len(self._inflight), failed_ticks=failed_ticks,
                 scanned_to=int(last_block) if last_block is not None else None, tick_seconds=round(tick_seconds, 3))

    async def cleanup(self) -> None:
        if self.store is not None:
            self.store.close()
        if self.chain is not None:
            await self.chain.close()
        log.info("node stopped")

    # --------------------------------------------------------------------- tick
    async def tick(self) -> None:
        await self.check_inflight()
        await self.draw_due_committees()
        await self.collect_assignments()
        await self.commit_pending()
        await self.progress_open_jobs()

    async def draw_due_committees(self) -> None:
        """Keeper duty: committees are drawn by a separate assign() once their draw block's hash
        exists. Any node may send it; losing the race to another node is normal."""
        chain, _ = self._parts()
        for _ in range(MAX_ASSIGNS_PER_TICK):
            try:
                receipt = await chain.assign_due()
            except (ContractRevert, TransactionFailed) as exc:
                log.debug("assign not needed", reason=str(exc))
                return
            if receipt is None:
                return
            log.info("committees drawn", tx="0x" + bytes(receipt["transactionHash"]).hex(), gas=int(receipt["gasUsed"]))

    async def collect_assignments(self) -> None:
        chain, store = self._parts()
        last = store.get_meta("last_block")
        start = int(last) + 1 if last is not None else chain.deployment.deployment_block
        head = await chain.block_number()
        if head < start:
            return
        events = await chain.logs(chain.jobs, "JobAssigned", start, head, node=chain.address)
        seats = {int(e["args"]["jobId"]): int(e["args"]["seat"]) for e in events}
        for job_id in store.add_assignments(list(seats)):
            log.info("assigned", job=job_id, seat=seats[job_id])
        store.set_meta("last_block", str(head))

    async def commit_pending(self) -> None:
        """Embed every assigned job in one batch per model, persist, then send the commits in batches."""
        chain, store = self._parts()
        pending = store.in_states(WorkState.ASSIGNED)
        if not pending:
            return
        due = [w.job_id for w in pending if self._retry_at.get(w.job_id, 0.0) <= time.monotonic()]
        live = [job for job in (await self._read_jobs(due)).values()
                if job.status is JobStatus.COMMITTING and job.model_id in self.served]
        # Drawn away, over, or a model we do not serve.
        store.set_states(sorted(set(due) - {job.job_id for job in live}), WorkState.DONE)
        inputs = await chain.job_inputs([job.job_id for job in live])
        by_model: dict[int, list[tuple[int, str]]] = {}
        for job in live:
            if job.job_id not in inputs:
                self._job_failed(job.job_id, "read input", InferaError("no JobSubmitted event matching its input hash"))
                continue
            text = faults.adjust_input(self.settings.fault, canonical_text(inputs[job.job_id]))
            by_model.setdefault(job.model_id, []).append((job.job_id, text))
        for model_id, items in by_model.items():
            started = time.perf_counter()
            store.seal_many([
                (job_id, quantize_packed(faults.adjust_vector(self.settings.fault, vector, self._rng)), os.urandom(32))
                for job_id, vector in await self._embed_isolated(model_id, items)
            ])
            log.info("embedded", model=model_id, jobs=len(items), seconds=round(time.perf_counter() - started, 3))
        await self._send_commits(store.in_states(WorkState.SEALED))

    async def _embed_isolated(self, model_id: int, items: list[tuple[int, str]]) -> list[tuple[int, npt.NDArray[np.float32]]]:
        """Embed a batch; if the batch fails, embed one by one so only the bad job is set back."""
        embedder = self.served[model_id].embedder
        try:
            vectors = await asyncio.to_thread(embedder.embed, [t for _, t in items])
            return [(job_id, v) for (job_id, _), v in zip(items, vectors, strict=True)]
        except Exception as exc:  # noqa: BLE001 - find the job that broke the batch
            log.warning("batch embedding failed; embedding one by one", model=model_id, jobs=len(items), error=str(exc))
        done = []
        for job_id, text in items:
            try:
                done.append((job_id, (await asyncio.to_thread(embedder.embed, [text]))[0]))
            except Exception as exc:  # noqa: BLE001 - isolate the job, retry it with backoff
                self._job_failed(job_id, "embed", exc)
        return done

    def _job_failed(self, job_id: int, step: str, exc: Exception) -> None:
        """Log a job's failure with its id; retry with exponential backoff, then give it up."""
        _, store = self._parts()
        attempts = self._failures.get(job_id, 0) + 1
        self._failures[job_id] = attempts
        if attempts >= MAX_JOB_ATTEMPTS:
            store.set_state(job_id, WorkState.DONE)
            log.error("job given up", job=job_id, step=step, attempts=attempts, error=str(exc), kind=type(exc).__name__)
            return
        self._retry_at[job_id] = time.monotonic() + 2.0**attempts
        log.warning("job step failed; will retry", job=job_id, step=step, attempt=attempts, error=str(exc),
                    kind=type(exc).__name__)

    async def _read_jobs(self, job_ids: list[int]) -> dict[int, Job]:
        """The jobs' records in one call; if that call is refused (an id the chain does not
        know), one by one, so that only the bad job is set back."""
        chain, _ = self._parts()
        try:
            return {job.job_id: job for job in await chain.get_jobs(job_ids)}
        except ContractRevert:
            pass
        found = {}
        for job_id in job_ids:
            try:
                found[job_id] = await chain.get_job(job_id)
            except ContractRevert as exc:
                self._job_failed(job_id, "read job", exc)
        return found

    async def _send_commits(self, sealed: list[Work]) -> None:
        chain, store = self._parts()
        ready = [w for w in sealed if not self._busy(w.job_id)]
        for chunk in _chunks(ready, BATCH_LIMIT):
            ids = [w.job_id for w in chunk]
            commitments = [self._commitment(w) for w in chunk]
            if await self._send_batch("committed", ids, chain.jobs.functions.commitBatch(ids, commitments)):
                store.set_states(ids, WorkState.COMMITTED)

    def _commitment(self, work: Work) -> bytes:
        chain, _ = self._parts()
        assert work.vector is not None and work.salt is not None
        return commitment_of(chain.deployment.chain_id, chain.jobs.address, work.job_id, chain.address, work.vector,
                             work.salt)

    async def _send_batch(self, action: str, job_ids: list[int], fn: AsyncContractFunction) -> bool:
        """Send one batched call without waiting for it (check_inflight follows it up). When the
        simulation reverts, nothing is sent and every job is re-read from the chain."""
        chain, _ = self._parts()
        try:
            tx_hash = await chain.send(fn)
        except ContractRevert as exc:
            log.info("batch not sent", action=action, jobs=job_ids, reason=exc.name)
            for job_id in job_ids:
                await self._reconcile(job_id)
            return False
        self._inflight.append(InFlight(tx_hash, action, job_ids, time.monotonic()))
        log.info(action, jobs=job_ids, tx="0x" + bytes(tx_hash).hex())
        return True

    def _busy(self, job_id: int) -> bool:
        return any(job_id in f.job_ids for f in self._inflight)

    async def check_inflight(self) -> None:
        """Follow up every transaction sent earlier: log what it did, and re-read from the chain
        each job it skipped or that it failed to move (reverted on chain, or lost)."""
        chain, _ = self._parts()
        still: list[InFlight] = []
        for sent in self._inflight:
            receipt = await chain.receipt(sent.tx_hash)
            if receipt is None and time.monotonic() - sent.sent_at < INFLIGHT_TIMEOUT_S:
                still.append(sent)
                continue
            if receipt is None or receipt["status"] != 1:
                log.warning("batch failed", action=sent.action, jobs=sent.job_ids, tx="0x" + bytes(sent.tx_hash).hex(),
                            mined=receipt is not None)
                redo = sent.job_ids
            else:
                redo = self._mined(sent, receipt)
            for job_id in redo:
                await self._reconcile(job_id)
        self._inflight = still

    def _mined(self, sent: InFlight, receipt: TxReceipt) -> list[int]:
        """Log a mined batch; returns the jobs it skipped."""
        chain, _ = self._parts()
        skips = chain.jobs.events.BatchItemSkipped().process_receipt(receipt, errors=DISCARD)
        skipped = {int(e["args"]["jobId"]): int(e["args"]["reason"]) for e in skips}
        log.info("batch mined", action=sent.action, jobs=len(sent.job_ids), skipped=skipped or None,
                 tx="0x" + bytes(sent.tx_hash).hex(), gas=int(receipt["gasUsed"]))
        for event in chain.jobs.events.JobReassigned().process_receipt(receipt, errors=DISCARD):
            # Our vector stays on record and is judged with the fresh committee's round.
            log.info("committee redrawn: too few reveals", job=int(event["args"]["jobId"]))
        return list(skipped)

    async def _reconcile(self, job_id: int) -> None:
        """Trust the chain: adopt the seat's real state, so the next tick takes the right step
        (or gives the job up when our seat is gone or the job is over)."""
        chain, store = self._parts()
        job = await chain.get_job(job_id)
        seat = next((s for s in await chain.get_seats(job_id) if s.node == chain.address and s.state is not SeatState.DROPPED), None)
        if job.status.terminal or seat is None:
            store.set_state(job_id, WorkState.DONE)
        elif seat.state is SeatState.ASSIGNED and job.status is JobStatus.COMMITTING:
            store.set_state(job_id, WorkState.SEALED)  # the commit did not land: send it again
        elif seat.state is SeatState.COMMITTED:
            store.set_state(job_id, WorkState.COMMITTED)
        elif seat.state is SeatState.REVEALED:
            store.set_state(job_id, WorkState.REVEALED)
        else:
            store.set_state(job_id, WorkState.DONE)
            log.warning("seat lost; job given up", job=job_id, seat=seat.state.name.lower(), status=job.status.name.lower())

    async def progress_open_jobs(self) -> None:
        """Sort the open jobs by the step each needs, then send each step as one batch."""
        chain, store = self._parts()
        now = max(await chain.timestamp(), int(time.time()))
        advance: list[int] = []
        reveal: list[Work] = []
        open_work = [w for w in store.in_states(WorkState.SEALED, WorkState.COMMITTED, WorkState.REVEALED)
                     if not self._busy(w.job_id)]
        jobs = await self._read_jobs([w.job_id for w in open_work])
        ready: list[tuple[Work, Job]] = []
        for work in open_work:
            job = jobs.get(work.job_id)
            if job is None:
                continue
            if job.status.terminal:
                store.set_state(work.job_id, WorkState.DONE)
                log.info("job closed", job=work.job_id, status=job.status.name.lower())
            elif job.status is JobStatus.COMMITTING and now > job.commit_deadline + self._grace(work.job_id):
                advance.append(work.job_id)
            elif job.status is JobStatus.REVEALING and work.state is WorkState.COMMITTED:
                reveal.append(work)
            elif job.status is JobStatus.REVEALING and work.state is WorkState.REVEALED:
                ready.append((work, job))
        finalize = await self._finalizable(ready, now)
        for ids in _chunks(advance, BATCH_LIMIT):
            await self._send_batch("advanced", ids, chain.jobs.functions.advanceBatch(ids))
        await self._send_reveals(reveal)
        for chunk in _chunks(finalize, FINALIZE_BATCH):
            ids = [job_id for job_id, _ in chunk]
            await self._send_batch("finalized", ids, chain.jobs.functions.finalizeBatch(ids, [v for _, v in chunk]))

    async def _send_reveals(self, committed: list[Work]) -> None:
        chain, store = self._parts()
        if not faults.reveals(self.settings.fault):
            return
        for chunk in _chunks(committed, BATCH_LIMIT):
            ids = [w.job_id for w in chunk]
            vectors = [w.vector or b"" for w in chunk]
            salts = [faults.reveal_salt(self.settings.fault, w.salt or b"") for w in chunk]
            if await self._send_batch("revealed", ids, chain.jobs.functions.revealBatch(ids, vectors, salts)):
                store.set_states(ids, WorkState.REVEALED)

    async def _finalizable(self, revealed: list[tuple[Work, Job]], now: int) -> list[tuple[int, list[bytes]]]:
        """The jobs we should finalize now, each with its vectors in seat order: every committed
        seat revealed or the reveal deadline passed; the first revealed seat finalizes at once,
        the others only after a grace period (so nodes rarely race for the same job)."""
        chain, store = self._parts()
        due = [(w, j) for w, j in revealed if j.revealed >= j.committed or now > j.reveal_deadline]
        found = await asyncio.gather(*(chain.get_seats(w.job_id) for w, _ in due))
        seats = {w.job_id: s for (w, _), s in zip(due, found, strict=True)}
        mine = []
        for work, _ in due:
            first = next((s.node for s in seats[work.job_id] if s.state is SeatState.REVEALED), None)
            # Wall-clock time, persisted: the wait survives a restart of the node.
            ready_since = store.mark_ready(work.job_id, time.time())
            if first == chain.address or time.time() - ready_since >= self._grace(work.job_id):
                mine.append(work.job_id)
        vectors = await chain.revealed_vectors_of(mine)
        return [
            (job_id, [vectors.get(job_id, {}).get(s.node, b"") if s.state is SeatState.REVEALED else b""
                      for s in seats[job_id]])
            for job_id in mine
        ]

    def _grace(self, job_id: int) -> float:
        """How long this node lets others move a job on before it does so itself."""
        chain, _ = self._parts()
        return keeper_grace(chain.address, job_id, self.settings.finalize_grace)

    def _parts(self) -> tuple[Chain, WorkStore]:
        if self.chain is None or self.store is None:
            raise RuntimeError("OracleNode.setup() has not run")
        return self.chain, self.store


def keeper_grace(node: str, job_id: int, base: float) -> float:
    """Between 0.5x and 1.5x `base`, drawn from the node's address and the job id: each job gets
    its own random order of nodes, so one node moves it on first and the others find it done
    (their simulation fails, and nothing is sent), instead of all paying for the same race."""
    digest = keccak(bytes.fromhex(node[2:]) + job_id.to_bytes(32, "big"))
    return base * (0.5 + int.from_bytes(digest[:8], "big") / 2**64)


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
