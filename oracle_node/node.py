"""The oracle node: watch for assignments, embed, commit, reveal, and finalize.

One long-lived loop (setup / run / stop). Each tick walks every job the node holds through the
next step its on-chain state allows, so the node converges to the right action after a restart,
a missed block or a transaction that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import structlog
from web3.contract.async_contract import AsyncContractFunction

from infera.chain import ASSIGN_BATCH, NO_SEAT_HINT, Chain, commitment_of
from infera.deployment import load_deployment
from infera.errors import ConfigError, ContractRevert, InferaError, InsufficientStake, TransactionFailed
from infera.inputs import canonical_text
from infera.txmanager import TxCounters, TxManager, TxOutcome, TxStore
from infera.types import Job, JobStatus, Seat, SeatOutcome, SeatState
from infera.vectors import quantize_packed
from oracle_node import faults
from oracle_node.config import NodeSettings
from oracle_node.inference.embedder import Embedder, limit_cpu_threads, minilm_path
from oracle_node.keeper import Keeper, keeper_grace
from oracle_node.metrics import Health, MetricsServer, NodeMetrics
from oracle_node.scanner import AssignmentScanner
from oracle_node.store import Work, WorkState, WorkStore

log = structlog.get_logger("oracle_node")
T = TypeVar("T")

# Models this node software can run, by registered name -> local weights folder.
LOCAL_MODELS = {"all-MiniLM-L6-v2": minilm_path}
# A job whose processing fails this many times (with backoff 2, 4, 8, ... s) is given up, so one
# hostile or broken job can never hold the node's loop or its other jobs. Failures of the RPC
# connection itself are not the job's fault and spend no attempt.
MAX_JOB_ATTEMPTS = 5
# Items per batched transaction: JobRegistry.MAX_BATCH for commit, reveal and advance; finalize
# costs about 240k gas a job, so 16 keep a transaction near 4M gas, far under a block's limit.
BATCH_LIMIT = 64
FINALIZE_BATCH = 16
# assign() transactions a tick sends while draws are still due (each draws up to 64 committees).
MAX_ASSIGNS_PER_TICK = 4
# A job's JobSubmitted event lies at or before the block of its assignment, and normally within
# a few blocks of it (a draw uses the submit block's hash, which expires after 256 blocks). The
# search goes back this far first and doubles up to the longest a draw can wait, so the read
# is bounded by the job's age, never by the chain's.
INPUT_LOOKBACK_BLOCKS = 512
MAX_INPUT_LOOKBACK_BLOCKS = 1 << 20
# The metrics' action label of each batch the worker sends.
TX_ACTION = {"committed": "commit", "revealed": "reveal", "advanced": "advance", "finalized": "finalize"}


class NotRegistered(InferaError):
    """The node's address is not registered in the NodeRegistry."""


async def connect_signer(settings: NodeSettings, health: Health | None = None) -> Chain:
    """Connect to the configured deployment with the node's key (a clear error if it is missing),
    through every configured endpoint with failover; RPC faults are reported to `health`."""
    key = settings.signing_key()
    deployment = load_deployment(settings.network, settings.deployments_dir)
    return await Chain.connect(settings.endpoints(), deployment, key, retry_for=settings.rpc_retry_for,
                               on_error=health.rpc_error if health else None,
                               on_success=health.rpc_ok if health else None)


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
    txm: TxManager | None = None
    scanner: AssignmentScanner | None = None
    keeper: Keeper | None = None
    metrics: NodeMetrics = field(default_factory=NodeMetrics)
    health: Health | None = None
    _server: MetricsServer | None = None
    _counted: TxCounters = field(default_factory=TxCounters)  # the manager's counters already exported
    _failures: dict[int, int] = field(default_factory=dict)  # job id -> failed attempts
    _retry_at: dict[int, float] = field(default_factory=dict)  # job id -> monotonic time
    # Seats of jobs ready to finalize, by (job id, seats revealed): see _finalizable.
    _ready_seats: dict[tuple[int, int], list[Seat]] = field(default_factory=dict)
    _sealing: asyncio.Task[None] | None = None  # the background embedding run (commit_pending)

    # ---------------------------------------------------------------- lifecycle
    async def setup(self) -> None:
        """Connect, check registration and stake, load and verify every served model."""
        s = self.settings
        self.chain = await connect_signer(s, self._health())
        me = self.chain.address
        await self._check_stake(me)
        limit_cpu_threads(s.torch_threads)
        for name in s.models:
            model_id = self.chain.deployment.model_id(name)
            self.served[model_id] = await self._load_model(model_id, name)
        # One store per deployment: job ids and the scan cursor mean nothing on another chain or
        # registry, and a store reused across them would skip or misread every job.
        deployment = f"{self.chain.deployment.chain_id}-{self.chain.jobs.address.lower()}"
        path = s.state_dir / deployment / f"{me.lower()}.sqlite3"
        self.store = WorkStore(path)
        # Nonces and signed attempts live beside the work they carry, in the same file.
        self.txm = TxManager(self.chain, TxStore(path), confirmations=s.confirmations, stuck_blocks=s.stuck_blocks,
                             bump_percent=s.fee_bump_percent, max_fee_cap=s.max_fee_per_gas)
        await self.txm.start()
        self.scanner = AssignmentScanner(self.chain, self.store, s.confirmations, s.log_chunk_blocks,
                                         watch_models=tuple(self.served))
        self.keeper = Keeper(self.chain, self.store, self.txm, s.finalize_grace)
        self._health().mark_ready()
        log.info("node ready", node=me, network=s.network, models=[m.name for m in self.served.values()],
                 device=next(iter(self.served.values())).embedder.device, fault=s.fault,
                 metrics_port=self._server.port if self._server else None)

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

    def _health(self) -> Health:
        if self.health is None:
            s = self.settings
            self.health = Health(s.health_stall_after, s.health_max_blocks_behind, self.metrics)
        return self.health

    async def run(self) -> None:
        health = self._health()
        if self.settings.metrics_port is not None:
            # Up before setup, so an orchestrator sees "starting" while the model loads.
            self._server = MetricsServer(self.metrics, health)
            await self._server.start(self.settings.metrics_host, self.settings.metrics_port)
        try:
            await self.setup()
        except BaseException:
            await self.cleanup()
            raise
        last_heartbeat = 0.0
        failed_ticks = 0
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                try:
                    await self.tick()
                    health.tick_ok()
                except Exception as exc:  # noqa: BLE001 - nothing outside the node may stop it
                    failed_ticks += 1
                    health.tick_failed(f"{type(exc).__name__}: {exc}")
                    log.warning("tick failed; retrying", error=str(exc), kind=type(exc).__name__, exc_info=True)
                self._export_counters()
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
        txm, scanner = self._loops()
        log.info("heartbeat", jobs=store.counts(), in_flight=txm.pending_count(), failed_ticks=failed_ticks,
                 scanned_to=scanner.scanned_to(), head=scanner.head, tick_seconds=round(tick_seconds, 3))

    def _export_counters(self) -> None:
        """Carry the transaction manager's counters and the scan lag into the metrics."""
        if self.txm is None or self.scanner is None:
            return
        now, then = self.txm.counters, self._counted
        self.metrics.transactions_replaced.labels(reason="fee_bump").inc(now.bumped - then.bumped)
        self.metrics.transactions_replaced.labels(reason="dropped").inc(now.resent - then.resent)
        self._counted = TxCounters(**vars(now))
        self.metrics.pending_transactions.set(self.txm.pending_count())
        self._health().set_blocks_behind(self.scanner.behind)

    async def cleanup(self) -> None:
        await self._stop_sealing()
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self.txm is not None:
            self.txm.store.close()
        if self.store is not None:
            self.store.close()
        if self.chain is not None:
            await self.chain.close()
        log.info("node stopped")

    # --------------------------------------------------------------------- tick
    async def tick(self) -> None:
        await self.follow_transactions()
        await self.draw_due_committees()
        await self.collect_assignments()
        await self.commit_pending()
        await self.progress_open_jobs()

    async def draw_due_committees(self) -> None:
        """Keeper duty: committees are drawn by a separate assign() once their draw block's hash
        exists. Any node may send it; losing the race to another node is normal (the simulation
        fails and nothing is sent)."""
        chain, _ = self._parts()
        txm, _ = self._loops()
        for _ in range(MAX_ASSIGNS_PER_TICK):
            # One not mined yet: the next simulation would only repeat it. The receipt is read here,
            # not left to the manager's next poll, so on a fast chain the next draw goes this tick.
            if any([await chain.receipt(t.latest.tx_hash) is None for t in txm.pending("assign")]):
                return
            if not await chain.jobs.functions.drawsDue().call():
                return
            try:
                sent = await txm.send("assign", [], chain.jobs.functions.assign(ASSIGN_BATCH))
            except (ContractRevert, TransactionFailed) as exc:
                log.debug("assign not needed", reason=str(exc))
                return
            log.info("drawing committees", tx="0x" + bytes(sent.latest.tx_hash).hex(), nonce=sent.nonce)

    async def collect_assignments(self) -> None:
        _, store = self._parts()
        _, scanner = self._loops()
        found = await scanner.poll()
        seats = {a.job_id: a.seat for a in found.assignments}
        for job_id in store.record_assignments([(a.job_id, a.block_number, a.block_hash) for a in found.assignments]):
            self.metrics.jobs.labels(event="seen").inc()
            log.info("assigned", job=job_id, seat=seats[job_id])
        store.set_seats(seats)
        self._keeper().watch(found.submitted)

    async def commit_pending(self) -> None:
        """Start embedding the assigned jobs in the background, then send every sealed commitment
        in batches: those the background work sealed since the last tick, those sealed before a
        restart, and those set back to sealed when their commit did not land."""
        _, store = self._parts()
        self._start_sealing()
        await self._send_commits(store.in_states(WorkState.SEALED))

    def _start_sealing(self) -> None:
        """One embedding run at a time, off the tick: the model takes seconds for a few hundred
        jobs, and a tick that waited for it would hold back every reveal and finalize meanwhile
        (measured: jobs revealed at 10 s were finalized at 18 s, behind the next batch's embed).
        A run that failed fails this tick, so health reports it; the next tick starts afresh."""
        previous, self._sealing = self._sealing, None
        if previous is not None and not previous.done():
            self._sealing = previous
            return
        if previous is not None and not previous.cancelled() and (error := previous.exception()) is not None:
            raise error
        self._sealing = asyncio.create_task(self._seal_assigned(), name="seal-assigned")

    async def _stop_sealing(self) -> None:
        if self._sealing is not None and not self._sealing.done():
            self._sealing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sealing
        self._sealing = None

    async def _seal_assigned(self) -> None:
        """Embed, quantize and persist (vector, salt) for every assigned job still committing,
        a chunk of BATCH_LIMIT at a time, so the first chunk's commits go out while the rest are
        still embedding."""
        _, store = self._parts()
        pending = store.in_states(WorkState.ASSIGNED)
        if not pending:
            return
        due = [w.job_id for w in pending if self._retry_at.get(w.job_id, 0.0) <= time.monotonic()]
        live = [job for job in (await self._read_jobs(due)).values()
                if job.status is JobStatus.COMMITTING and job.model_id in self.served]
        # Drawn away, over, or a model we do not serve.
        store.set_states(sorted(set(due) - {job.job_id for job in live}), WorkState.DONE)
        inputs = await self._inputs([job.job_id for job in live])
        by_model: dict[int, list[tuple[int, str]]] = {}
        for job in live:
            if job.job_id not in inputs:
                self._job_failed(job.job_id, "read input", InferaError("no JobSubmitted event matching its input hash"))
                continue
            text = faults.adjust_input(self.settings.fault, canonical_text(inputs[job.job_id]))
            by_model.setdefault(job.model_id, []).append((job.job_id, text))
        for model_id, all_items in by_model.items():
            for items in _chunks(all_items, BATCH_LIMIT):
                started = time.perf_counter()
                with self.metrics.embed_seconds.time():
                    embedded = await self._embed_isolated(model_id, items)
                self.metrics.embed_batch_size.observe(len(items))
                store.seal_many([
                    (job_id, quantize_packed(faults.adjust_vector(self.settings.fault, vector, self._rng)), os.urandom(32))
                    for job_id, vector in embedded
                ])
                log.info("embedded", model=model_id, jobs=len(items), seconds=round(time.perf_counter() - started, 3))
                faults.crash_at(self.settings.crash_at, "after-seal")

    async def _inputs(self, job_ids: list[int]) -> dict[int, bytes]:
        """The jobs' inputs, read from a window that ends at their assignment block and widens
        backwards only as far as needed (see INPUT_LOOKBACK_BLOCKS)."""
        chain, store = self._parts()
        blocks = store.blocks_of(job_ids)
        inputs: dict[int, bytes] = {}
        missing = list(job_ids)
        lookback = INPUT_LOOKBACK_BLOCKS
        while missing:
            assigned = [blocks.get(j, (None, None))[1] for j in missing]
            known = [b for b in assigned if b is not None]
            if len(known) < len(assigned):  # assignment block unknown (an older store): whole range
                found = await chain.job_submissions(missing)
            else:
                found = await chain.job_submissions(missing, max(0, min(known) - lookback), max(known))
            inputs.update({job_id: raw for job_id, (raw, _) in found.items()})
            store.set_submit_blocks({job_id: block for job_id, (_, block) in found.items()})
            missing = [j for j in missing if j not in found]
            if len(known) < len(assigned) or lookback >= MAX_INPUT_LOOKBACK_BLOCKS:
                break
            lookback *= 2
        return inputs

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
            self.metrics.jobs.labels(event="given_up").inc()
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
            fn = chain.jobs.functions.commitBatch(ids, seat_hints(chunk), commitments)
            if await self._send_batch("committed", ids, fn):
                store.set_states(ids, WorkState.COMMITTED)
                self.metrics.jobs.labels(event="committed").inc(len(ids))
                faults.crash_at(self.settings.crash_at, "after-commit")

    def _commitment(self, work: Work) -> bytes:
        chain, _ = self._parts()
        assert work.vector is not None and work.salt is not None
        return commitment_of(chain.deployment.chain_id, chain.jobs.address, work.job_id, chain.address, work.vector,
                             work.salt)

    async def _send_batch(self, action: str, job_ids: list[int], fn: AsyncContractFunction) -> bool:
        """Hand one batched call to the transaction manager, without waiting for it
        (follow_transactions follows it up). When the simulation reverts, nothing is sent and
        every job is re-read from the chain."""
        txm, _ = self._loops()
        try:
            sent = await txm.send(action, job_ids, fn)
        except ContractRevert as exc:
            log.info("batch not sent", action=action, jobs=job_ids, reason=exc.name)
            for job_id in job_ids:
                await self._reconcile(job_id)
            return False
        log.info(action, jobs=job_ids, tx="0x" + bytes(sent.latest.tx_hash).hex(), nonce=sent.nonce)
        kind = TX_ACTION[action]
        self.metrics.transactions_sent.labels(action=kind).inc()
        self.metrics.tx_batch_size.labels(action=kind).observe(len(job_ids))
        return True

    def _busy(self, job_id: int) -> bool:
        txm, _ = self._loops()
        return job_id in txm.busy_jobs()

    async def follow_transactions(self) -> None:
        """Follow up every transaction sent earlier (re-sent, re-priced or reorged out as the
        manager sees fit): log what each mined one did, and re-read from the chain each job it
        skipped or failed to move (reverted on chain, or its nonce taken by another)."""
        txm, _ = self._loops()
        for outcome in await txm.poll():
            for job_id in self._jobs_to_reread(outcome):
                await self._reconcile(job_id)

    def _jobs_to_reread(self, outcome: TxOutcome) -> list[int]:
        sent, receipt = outcome.tx, outcome.receipt
        if sent.action == "assign" and receipt is not None and receipt["status"] != 1:
            # Every node draws due committees; the ones that come second revert. Nothing to redo.
            log.info("assign lost the race to another keeper", nonce=sent.nonce, gas=int(receipt["gasUsed"]))
            return []
        if receipt is None or receipt["status"] != 1:
            log.warning("batch failed", action=sent.action, jobs=sent.job_ids, nonce=sent.nonce,
                        tx="0x" + bytes(sent.latest.tx_hash).hex(), mined=receipt is not None)
            return sent.job_ids
        chain, _ = self._parts()
        skips = chain.receipt_events(receipt, "BatchItemSkipped")
        skipped = {int(e["args"]["jobId"]): int(e["args"]["reason"]) for e in skips}
        log.info("batch mined", action=sent.action, jobs=len(sent.job_ids), skipped=skipped or None,
                 tx="0x" + bytes(receipt["transactionHash"]).hex(), gas=int(receipt["gasUsed"]),
                 block=int(receipt["blockNumber"]))
        for event in chain.receipt_events(receipt, "JobReassigned"):
            # Our vector stays on record and is judged with the fresh committee's round.
            log.info("committee redrawn: too few reveals", job=int(event["args"]["jobId"]))
        return list(skipped)

    async def _reconcile(self, job_id: int) -> None:
        """Trust the chain: adopt the seat's real state, so the next tick takes the right step
        (or gives the job up when our seat is gone or the job is over)."""
        chain, store = self._parts()
        job = await chain.get_job(job_id)
        if job.status.terminal:
            # An ended job has no seats on chain (a later job reuses their slots): a seat we
            # committed or revealed is left open for progress_open_jobs, which closes it and
            # counts how it was settled (from the job's events).
            work = store.get(job_id)
            if work is None or work.state not in (WorkState.COMMITTED, WorkState.REVEALED):
                store.set_state(job_id, WorkState.DONE)
            return
        seat = next((s for s in await chain.get_seats(job_id) if s.node == chain.address and s.state is not SeatState.DROPPED), None)
        if seat is None:
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
        closed: list[int] = []
        for work in open_work:
            job = jobs.get(work.job_id)
            if job is None:
                continue
            if job.status.terminal:
                closed.append(work.job_id)
                log.info("job closed", job=work.job_id, status=job.status.name.lower())
            elif job.status is JobStatus.COMMITTING and now > job.commit_deadline + self._grace(work.job_id):
                advance.append(work.job_id)
            elif job.status is JobStatus.REVEALING and work.state is WorkState.COMMITTED:
                reveal.append(work)
            elif job.status is JobStatus.REVEALING and work.state is WorkState.REVEALED:
                ready.append((work, job))
        # Counted before they are closed: a tick that fails here sees them again next time.
        await self._count_outcomes(closed)
        store.set_states(closed, WorkState.DONE)
        finalize = await self._finalizable(ready, now)
        for ids in _chunks(advance, BATCH_LIMIT):
            await self._send_batch("advanced", ids, chain.jobs.functions.advanceBatch(ids))
        await self._send_reveals(reveal)
        for chunk in _chunks(finalize, FINALIZE_BATCH):
            ids = [job_id for job_id, _ in chunk]
            await self._send_batch("finalized", ids, chain.jobs.functions.finalizeBatch(ids, [v for _, v in chunk]))
        await self._keeper().tick(now)

    async def _count_outcomes(self, closed: list[int]) -> None:
        """How our seats on the closed jobs were settled (paid or slashed), for the metrics."""
        if not closed:
            return
        chain, store = self._parts()
        submitted = [b for b, _ in store.blocks_of(closed).values() if b is not None]
        for outcome, slashed in (await chain.seat_outcomes(closed, chain.address, min(submitted, default=None))).values():
            if outcome == SeatOutcome.AGREED:
                self.metrics.jobs.labels(event="accepted").inc()
            elif slashed:
                self.metrics.jobs.labels(event="slashed").inc()
                log.warning("slashed", outcome=outcome, slashed=slashed)

    async def _send_reveals(self, committed: list[Work]) -> None:
        chain, store = self._parts()
        if not faults.reveals(self.settings.fault):
            return
        for chunk in _chunks(committed, BATCH_LIMIT):
            ids = [w.job_id for w in chunk]
            vectors = [w.vector or b"" for w in chunk]
            salts = [faults.reveal_salt(self.settings.fault, w.salt or b"") for w in chunk]
            fn = chain.jobs.functions.revealBatch(ids, seat_hints(chunk), vectors, salts)
            if await self._send_batch("revealed", ids, fn):
                store.set_states(ids, WorkState.REVEALED)
                self.metrics.jobs.labels(event="revealed").inc(len(ids))
                faults.crash_at(self.settings.crash_at, "after-reveal")

    async def _finalizable(self, revealed: list[tuple[Work, Job]], now: int) -> list[tuple[int, list[bytes]]]:
        """The jobs we should finalize now, each with its vectors in seat order: every committed
        seat revealed or the reveal deadline passed; the first revealed seat finalizes at once,
        the others only after a grace period (so nodes rarely race for the same job)."""
        chain, store = self._parts()
        due = [(w, j) for w, j in revealed if j.revealed >= j.committed or now > j.reveal_deadline]
        seats = await self._seats_of_ready(due)
        mine = []
        # Wall-clock time, persisted: the wait survives a restart of the node.
        ready_since = store.mark_ready([w.job_id for w, _ in due], time.time())
        for work, _ in due:
            first = next((s.node for s in seats[work.job_id] if s.state is SeatState.REVEALED), None)
            if first == chain.address or time.time() - ready_since[work.job_id] >= self._grace(work.job_id):
                mine.append(work.job_id)
        submitted = [b for b, _ in store.blocks_of(mine).values()]
        known = [b for b in submitted if b is not None]
        since = min(known) if known and len(known) == len(submitted) else None
        vectors = await chain.revealed_vectors_of(mine, since)
        return [
            (job_id, [vectors.get(job_id, {}).get(s.node, b"") if s.state is SeatState.REVEALED else b""
                      for s in seats[job_id]])
            for job_id in mine
        ]

    async def _seats_of_ready(self, due: list[tuple[Work, Job]]) -> dict[int, list[Seat]]:
        """The seats of jobs ready to finalize, read once per job and kept until it ends: a
        ready job's seats change only by a reveal, which its revealed count shows, or by its
        end (the node waits out a grace period of ticks for most jobs, and read them every
        tick before: measured, a third of its event loop's CPU with 512 jobs open)."""
        chain, _ = self._parts()
        keys = {(w.job_id, j.revealed) for w, j in due}
        for key in set(self._ready_seats) - keys:
            del self._ready_seats[key]
        unread = sorted(keys - set(self._ready_seats))
        found = await asyncio.gather(*(chain.get_seats(job_id) for job_id, _ in unread))
        self._ready_seats.update(zip(unread, found, strict=True))
        return {job_id: self._ready_seats[(job_id, count)] for job_id, count in keys}

    def _grace(self, job_id: int) -> float:
        """How long this node lets others move a job on before it does so itself."""
        chain, _ = self._parts()
        return keeper_grace(chain.address, job_id, self.settings.finalize_grace)

    def _parts(self) -> tuple[Chain, WorkStore]:
        if self.chain is None or self.store is None:
            raise RuntimeError("OracleNode.setup() has not run")
        return self.chain, self.store

    def _keeper(self) -> Keeper:
        if self.keeper is None:
            raise RuntimeError("OracleNode.setup() has not run")
        return self.keeper

    def _loops(self) -> tuple[TxManager, AssignmentScanner]:
        if self.txm is None or self.scanner is None:
            raise RuntimeError("OracleNode.setup() has not run")
        return self.txm, self.scanner


def seat_hints(works: list[Work]) -> list[int]:
    """Each job's seat index for the batched calls, which then read one seat instead of
    searching the job's; a job recorded by an older node has none (the registry searches)."""
    return [NO_SEAT_HINT if w.seat is None else w.seat for w in works]


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
