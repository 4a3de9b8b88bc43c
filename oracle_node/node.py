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

import aiohttp
import numpy as np
import numpy.typing as npt
import structlog
from eth_utils.crypto import keccak
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

# Models this node software can run, by registered name -> local weights folder.
LOCAL_MODELS = {"all-MiniLM-L6-v2": minilm_path}
# A job whose processing fails this many times (with backoff 2, 4, 8, ... s) is given up, so one
# hostile or broken job can never hold the node's loop or its other jobs. Failures of the RPC
# connection itself are not the job's fault and spend no attempt.
MAX_JOB_ATTEMPTS = 5
TRANSIENT = (aiohttp.ClientError, TimeoutError, OSError)


class NotRegistered(InferaError):
    """The node's address is not registered in the NodeRegistry."""


async def connect_signer(settings: NodeSettings) -> Chain:
    """Connect to the configured deployment with the node's key (a clear error if it is missing)."""
    if settings.private_key is None or not settings.private_key.get_secret_value():
        raise ConfigError("INFERA_PRIVATE_KEY is not set: the node signs its commits and reveals")
    deployment = load_deployment(settings.network, settings.deployments_dir)
    return await Chain.connect(settings.rpc_url, deployment, settings.private_key.get_secret_value())


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
        self.store = WorkStore(s.state_dir / f"{me.lower()}.sqlite3")
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
        try:
            while not self._stopping.is_set():
                try:
                    await self.tick()
                except Exception as exc:  # noqa: BLE001 - nothing outside the node may stop it
                    log.warning("tick failed; retrying", error=str(exc), kind=type(exc).__name__, exc_info=True)
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.settings.poll_interval)
                except TimeoutError:
                    pass
        finally:
            await self.cleanup()

    def stop(self) -> None:
        self._stopping.set()

    async def cleanup(self) -> None:
        if self.store is not None:
            self.store.close()
        if self.chain is not None:
            await self.chain.close()
        log.info("node stopped")

    # --------------------------------------------------------------------- tick
    async def tick(self) -> None:
        await self.draw_due_committees()
        await self.collect_assignments()
        await self.commit_pending()
        await self.progress_open_jobs()

    async def draw_due_committees(self) -> None:
        """Keeper duty: committees are drawn by a separate assign() once their draw block's hash
        exists. Any node may send it; losing the race to another node is normal."""
        chain, _ = self._parts()
        try:
            receipt = await chain.assign_due()
        except (ContractRevert, TransactionFailed) as exc:
            log.debug("assign not needed", reason=str(exc))
            return
        if receipt is not None:
            log.info("committees drawn", tx="0x" + bytes(receipt["transactionHash"]).hex(), gas=int(receipt["gasUsed"]))

    async def collect_assignments(self) -> None:
        chain, store = self._parts()
        last = store.get_meta("last_block")
        start = int(last) + 1 if last is not None else chain.deployment.deployment_block
        head = await chain.block_number()
        if head < start:
            return
        for event in await chain.logs(chain.jobs, "JobAssigned", start, head, node=chain.address):
            job_id = int(event["args"]["jobId"])
            if store.add_assignment(job_id):
                log.info("assigned", job=job_id, seat=int(event["args"]["seat"]))
        store.set_meta("last_block", str(head))

    async def commit_pending(self) -> None:
        """Embed every assigned job in one batch per model, persist, then commit each."""
        chain, store = self._parts()
        pending = store.in_states(WorkState.ASSIGNED)
        if not pending:
            return
        by_model: dict[int, list[tuple[int, str]]] = {}
        for work in pending:
            if self._retry_at.get(work.job_id, 0.0) > time.monotonic():
                continue
            try:
                job = await chain.get_job(work.job_id)
                if job.status is not JobStatus.COMMITTING or job.model_id not in self.served:
                    store.set_state(work.job_id, WorkState.DONE)
                    continue
                text = await self._input_text(work.job_id, job)
            except TRANSIENT:
                raise  # the RPC, not the job: the whole tick is retried, and no attempt is spent
            except Exception as exc:  # noqa: BLE001 - isolate the job, retry it with backoff
                self._job_failed(work.job_id, "read input", exc)
                continue
            by_model.setdefault(job.model_id, []).append((work.job_id, faults.adjust_input(self.settings.fault, text)))
        for model_id, items in by_model.items():
            started = time.perf_counter()
            for job_id, vector in await self._embed_isolated(model_id, items):
                packed = quantize_packed(faults.adjust_vector(self.settings.fault, vector, self._rng))
                store.seal(job_id, packed, os.urandom(32))
            log.info("embedded", model=model_id, jobs=len(items), seconds=round(time.perf_counter() - started, 3))
        for work in store.in_states(WorkState.SEALED):
            await self._send_commit(work)

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

    async def _input_text(self, job_id: int, job: Job) -> str:
        """The canonical text of the job's input bytes, after checking them against the hash the
        contract stored (the bytes, not the text: invalid UTF-8 is a valid input)."""
        chain, _ = self._parts()
        raw = await chain.job_input(job_id)
        if keccak(raw) != job.input_hash:
            raise InferaError(f"job {job_id}: input in the event does not match the stored input hash")
        return canonical_text(raw)

    async def _send_commit(self, work: Work) -> None:
        chain, store = self._parts()
        assert work.vector is not None and work.salt is not None
        commitment = commitment_of(
            chain.deployment.chain_id, chain.jobs.address, work.job_id, chain.address, work.vector, work.salt
        )
        try:
            await chain.transact(chain.jobs.functions.commit(work.job_id, commitment))
        except ContractRevert as exc:
            await self._resolve_failed_step(work, exc)
            return
        store.set_state(work.job_id, WorkState.COMMITTED)
        log.info("committed", job=work.job_id)

    async def _resolve_failed_step(self, work: Work, exc: ContractRevert) -> None:
        """After a revert, trust the chain: adopt the seat's real state or give the job up."""
        chain, store = self._parts()
        seat = next((s for s in await chain.get_seats(work.job_id) if s.node == chain.address), None)
        if seat is not None and seat.state is SeatState.COMMITTED:
            store.set_state(work.job_id, WorkState.COMMITTED)
        elif seat is not None and seat.state is SeatState.REVEALED:
            store.set_state(work.job_id, WorkState.REVEALED)
        else:
            store.set_state(work.job_id, WorkState.DONE)
            log.warning("step rejected; job given up", job=work.job_id, error=str(exc))

    async def progress_open_jobs(self) -> None:
        chain, store = self._parts()
        now = max(await chain.timestamp(), int(time.time()))
        for work in store.in_states(WorkState.SEALED, WorkState.COMMITTED, WorkState.REVEALED):
            job = await chain.get_job(work.job_id)
            if job.status.terminal:
                store.set_state(work.job_id, WorkState.DONE)
                log.info("job closed", job=work.job_id, status=job.status.name.lower())
            elif job.status is JobStatus.COMMITTING and now > job.commit_deadline:
                await self._try(chain.jobs.functions.advance(work.job_id), "advanced", work.job_id)
            elif job.status is JobStatus.REVEALING and work.state is WorkState.COMMITTED:
                await self._reveal(work)
            elif job.status is JobStatus.REVEALING and work.state is WorkState.REVEALED:
                await self._maybe_finalize(work, job, now)

    async def _reveal(self, work: Work) -> None:
        chain, store = self._parts()
        if not faults.reveals(self.settings.fault):
            return
        assert work.vector is not None and work.salt is not None
        salt = faults.reveal_salt(self.settings.fault, work.salt)
        try:
            await chain.transact(chain.jobs.functions.reveal(work.job_id, work.vector, salt))
        except ContractRevert as exc:
            await self._resolve_failed_step(work, exc)
            return
        store.set_state(work.job_id, WorkState.REVEALED)
        log.info("revealed", job=work.job_id)

    async def _maybe_finalize(self, work: Work, job: Job, now: int) -> None:
        """The first revealed seat finalizes at once; the others only after a grace period."""
        chain, store = self._parts()
        if job.revealed < job.committed and now <= job.reveal_deadline:
            return
        seats = await chain.get_seats(work.job_id)
        revealed = [s.node for s in seats if s.state is SeatState.REVEALED]
        ready_since = store.mark_ready(work.job_id, time.monotonic())
        first = bool(revealed) and revealed[0] == chain.address
        if not first and time.monotonic() - ready_since < self.settings.finalize_grace:
            return
        by_node = await chain.revealed_vectors(work.job_id)
        vectors = [by_node.get(s.node, b"") if s.state is SeatState.REVEALED else b"" for s in seats]
        receipt = await self._try(chain.jobs.functions.finalize(work.job_id, vectors), "finalized", work.job_id)
        if receipt is not None and chain.jobs.events.JobReassigned().process_receipt(receipt, errors=DISCARD):
            # Our vector stays on record and is judged with the fresh committee's round.
            log.info("committee redrawn: too few reveals", job=work.job_id)

    async def _try(self, fn: AsyncContractFunction, done: str, job_id: int) -> TxReceipt | None:
        """Send a call anyone may make; losing the race to another node is normal."""
        chain, _ = self._parts()
        try:
            receipt = await chain.transact(fn)
        except ContractRevert as exc:
            log.debug("not needed", job=job_id, action=done, reason=exc.name)
            return None
        log.info(done, job=job_id)
        return receipt

    def _parts(self) -> tuple[Chain, WorkStore]:
        if self.chain is None or self.store is None:
            raise RuntimeError("OracleNode.setup() has not run")
        return self.chain, self.store
