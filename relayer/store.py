"""The durable queue: API keys, requests and their jobs, and the batches that carry them.

One SQL description (relayer.schema) runs on SQLite for one instance and on PostgreSQL for
several. Claiming is the one place where instances compete: on PostgreSQL the candidate rows are
read with SELECT ... FOR UPDATE SKIP LOCKED, so two claimers never wait on or take the same
request; on SQLite every transaction begins IMMEDIATE, so writers take turns. In both, the
claiming UPDATE re-checks `state = 'queued'`, so a request is never in two batches.

Each instance holds a lease (an `instances` row with a heartbeat and a generation). Another
instance takes over claims only from an instance whose heartbeat expired, and bumps that
instance's generation as it does; the owner moves a claim to "sending" (the step before its
transaction is signed and broadcast) only in a transaction that finds its own generation
unchanged. So an instance that stalls between claiming and sending, loses its claims, and wakes
up, sends nothing: one request is never submitted twice.

A request's life: queued -> claimed (in a batch, no transaction yet; its batch passes through
"sending" once the owner's lease check passed) -> sent (the instance's
TxManager holds the signed transaction) -> submitted (mined, job ids known) -> completed (every
job accepted or refunded). A chain refusal puts a claimed batch's requests back to queued with a
back-off; nothing ever deletes a request.

Gasless requests (kind "gasless") carry the user's signed ForwardRequest instead of a key; a batch
holds one kind only (keyed: one JobRegistry.submit; gasless: one InferaForwarder.executeBatch). A
gasless request whose signed call did not run ends "failed"; its forwarder nonce is then freed
(the signed body keeps it), so the user may sign that nonce again.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from relayer.keys import NewKey
from relayer.migrate import async_url
from relayer.schema import api_keys, batches, instances, jobs, requests

TERMINAL = ("accepted", "refunded")


class QuotaExceeded(Exception):
    def __init__(self, used: int, quota: int, asked: int) -> None:
        super().__init__(f"this key has used {used} of its {quota} jobs; {asked} more would exceed the quota")


class IdempotencyConflict(Exception):
    """An idempotency key reused with a different body."""


class NonceQueued(Exception):
    """A gasless request with this signer and forwarder nonce is queued already."""


class LeaseLost(Exception):
    """This instance's lease expired and another instance took its claims over (or bumped its
    generation): it must take a new lease and send none of the claims it held."""


@dataclass(frozen=True)
class Lease:
    """An instance's lease: `generation` is the fencing token its claims and sends carry."""

    instance: str
    generation: int


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    secret_hash: str
    quota_jobs: int
    used_jobs: int
    rate_per_minute: int
    revoked: bool


@dataclass(frozen=True)
class ClaimedRequest:
    request_id: str
    texts: list[str]
    signed: dict[str, Any] | None = None  # gasless: the signed request as received


@dataclass(frozen=True)
class Batch:
    batch_id: str
    model_id: int
    requests: list[ClaimedRequest]
    kind: str = "keyed"

    @property
    def texts(self) -> list[str]:
        return [t for r in self.requests for t in r.texts]


@dataclass(frozen=True)
class OpenBatch:
    batch_id: str
    state: str
    nonce: int | None


@dataclass(frozen=True)
class OpenJob:
    request_id: str
    idx: int
    job_id: int
    submit_block: int | None
    status: str


@dataclass(frozen=True)
class JobRow:
    idx: int
    text: str
    job_id: int | None
    status: str
    result: dict[str, Any] | None


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    key_id: str | None
    model: str
    model_id: int
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    submit_tx: str | None
    created_at: float
    updated_at: float
    jobs: list[JobRow]
    kind: str = "keyed"
    signer: str | None = None


def body_hash(model: str, texts: Sequence[str]) -> str:
    """What an idempotent replay must match: the same model and the same texts."""
    return hashlib.sha256(json.dumps([model, list(texts)], ensure_ascii=True).encode()).hexdigest()


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(async_url(url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        _immediate_transactions(engine)
    return engine


def _immediate_transactions(engine: AsyncEngine) -> None:
    """SQLite: take the write lock at BEGIN. A deferred transaction that reads and then writes
    fails with SQLITE_BUSY when another writer committed in between; IMMEDIATE waits its turn."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a 202 promises the request survives power loss
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upsert(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT for the connection's dialect (both speak it; the builders differ)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class Store:
    def __init__(self, engine: AsyncEngine, clock: Any = time.time) -> None:
        self.engine = engine
        self.clock = clock

    @classmethod
    def open(cls, url: str) -> Store:
        """A store on a database migrated by relayer.migrate.upgrade (run that first)."""
        return cls(make_engine(url))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    # ------------------------------------------------------------------ keys
    async def add_key(self, key: NewKey, name: str, quota_jobs: int, rate_per_minute: int) -> None:
        async with self._tx() as conn:
            await conn.execute(api_keys.insert().values(
                key_id=key.key_id, name=name, secret_hash=key.secret_hash, quota_jobs=quota_jobs, used_jobs=0,
                rate_per_minute=rate_per_minute, revoked=False, created_at=self.clock()))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id))).first()
        if row is None:
            return None
        return KeyRecord(row.key_id, row.name, row.secret_hash, int(row.quota_jobs), int(row.used_jobs),
                         int(row.rate_per_minute), bool(row.revoked))

    # --------------------------------------------------------------- enqueue
    async def enqueue(self, key_id: str, model: str, model_id: int, texts: Sequence[str],
                      idempotency_key: str | None = None) -> tuple[str, bool]:
        """Store a request durably (committed before this returns) and charge the key's quota.
        Returns (request id, created); a replay of an idempotency key returns the first request
        and created False, charging nothing."""
        digest = body_hash(model, texts)
        if idempotency_key is not None:
            found = await self._by_idempotency(key_id, idempotency_key, digest)
            if found is not None:
                return found, False
        request_id = str(uuid.uuid4())
        now = self.clock()
        try:
            async with self._tx() as conn:
                charged = await conn.execute(
                    api_keys.update()
                    .where(api_keys.c.key_id == key_id, api_keys.c.used_jobs + len(texts) <= api_keys.c.quota_jobs)
                    .values(used_jobs=api_keys.c.used_jobs + len(texts)))
                if charged.rowcount != 1:
                    key = (await conn.execute(sa.select(api_keys.c.used_jobs, api_keys.c.quota_jobs)
                                              .where(api_keys.c.key_id == key_id))).one()
                    raise QuotaExceeded(int(key.used_jobs), int(key.quota_jobs), len(texts))
                await conn.execute(requests.insert().values(
                    id=request_id, key_id=key_id, idempotency_key=idempotency_key, body_hash=digest, model=model,
                    model_id=model_id, n_texts=len(texts), state="queued", attempts=0, next_attempt_at=now,
                    created_at=now, updated_at=now))
                await conn.execute(jobs.insert(), [
                    {"request_id": request_id, "idx": i, "text": t, "status": "pending", "updated_at": now}
                    for i, t in enumerate(texts)])
        except IntegrityError:
            # Two calls with one idempotency key raced; the other one's request stands.
            if idempotency_key is None:
                raise
            found = await self._by_idempotency(key_id, idempotency_key, digest)
            if found is None:
                raise
            return found, False
        return request_id, True

    async def enqueue_gasless(self, signer: str, forward_nonce: int, model: str, model_id: int, texts: Sequence[str],
                              signed: dict[str, Any]) -> str:
        """Store a verified gasless request durably; NonceQueued when one with the same signer
        and forwarder nonce is queued already (only one of them could ever run)."""
        request_id = str(uuid.uuid4())
        now = self.clock()
        try:
            async with self._tx() as conn:
                await conn.execute(requests.insert().values(
                    id=request_id, key_id=None, kind="gasless", signer=signer, forward_nonce=forward_nonce,
                    signed=signed, body_hash=body_hash(model, texts), model=model, model_id=model_id,
                    n_texts=len(texts), state="queued", attempts=0, next_attempt_at=now, created_at=now,
                    updated_at=now))
                await conn.execute(jobs.insert(), [
                    {"request_id": request_id, "idx": i, "text": t, "status": "pending", "updated_at": now}
                    for i, t in enumerate(texts)])
        except IntegrityError:
            raise NonceQueued(f"a request of {signer} with forwarder nonce {forward_nonce} is queued already") from None
        return request_id

    async def gasless_replay(self, signer: str, forward_nonce: int, signature: str) -> str | None:
        """The request stored for this very signed request (same signer, forwarder nonce and
        signature), if any: posting it again, after a lost answer, is a replay, not a conflict."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(requests.c.id, requests.c.signed).where(
                requests.c.signer == signer, requests.c.forward_nonce == forward_nonce))).first()
        if row is None or not isinstance(row.signed, dict) or row.signed.get("signature") != signature:
            return None
        return str(row.id)

    async def _by_idempotency(self, key_id: str, idempotency_key: str, digest: str) -> str | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(requests.c.id, requests.c.body_hash).where(
                requests.c.key_id == key_id, requests.c.idempotency_key == idempotency_key))).first()
        if row is None:
            return None
        if row.body_hash != digest:
            raise IdempotencyConflict(f"idempotency key {idempotency_key!r} was used for a different request")
        return str(row.id)

    # ----------------------------------------------------------------- claim
    async def claim(self, instance: str, max_jobs: int, linger: float = 0.0,
                    lease: Lease | None = None) -> Batch | None:
        """Take the oldest due requests of one model, whole, up to `max_jobs` texts, into a new
        batch of this instance. None when nothing is due, or when a batch that is not full has
        not lingered long enough yet. With a lease, the lease is renewed in the same transaction
        (LeaseLost when it was taken over) and the batch carries its generation."""
        now = self.clock()
        async with self._tx() as conn:
            if lease is not None:
                await self._renew(conn, lease, now)
            candidates = (await conn.execute(
                sa.select(requests.c.id, requests.c.model_id, requests.c.n_texts, requests.c.created_at,
                          requests.c.kind, requests.c.signed)
                .where(requests.c.state == "queued", requests.c.next_attempt_at <= now)
                .order_by(requests.c.created_at, requests.c.id)
                .limit(max_jobs)
                .with_for_update(skip_locked=True))).all()
            if not candidates:
                return None
            model_id, kind = int(candidates[0].model_id), str(candidates[0].kind)
            chosen: list[str] = []
            signed: dict[str, Any] = {}
            total = 0
            for row in candidates:
                if row.model_id != model_id or row.kind != kind or total + row.n_texts > max_jobs:
                    break
                chosen.append(str(row.id))
                signed[str(row.id)] = row.signed
                total += int(row.n_texts)
            if total < max_jobs and now - float(candidates[0].created_at) < linger:
                return None
            batch_id = str(uuid.uuid4())
            await conn.execute(batches.insert().values(
                id=batch_id, instance=instance, model_id=model_id, state="claimed", n_jobs=total,
                created_at=now, updated_at=now, generation=None if lease is None else lease.generation))
            taken = await conn.execute(
                requests.update().where(requests.c.id.in_(chosen), requests.c.state == "queued")
                .values(state="claimed", batch_id=batch_id, updated_at=now))
            if taken.rowcount != len(chosen):
                raise RuntimeError(f"claimed {taken.rowcount} of {len(chosen)} locked requests")
            rows = (await conn.execute(
                sa.select(jobs.c.request_id, jobs.c.text).where(jobs.c.request_id.in_(chosen))
                .order_by(jobs.c.request_id, jobs.c.idx))).all()
        texts: dict[str, list[str]] = {r: [] for r in chosen}
        for job in rows:
            texts[str(job.request_id)].append(str(job.text))
        return Batch(batch_id, model_id, [ClaimedRequest(r, texts[r], signed[r]) for r in chosen], kind)

    # ---------------------------------------------------------------- leases
    async def acquire_lease(self, instance: str) -> Lease:
        """Start (or restart) this instance's lease with a new generation: claims of an earlier
        generation of the same name can no longer be sent under it."""
        now = self.clock()
        async with self._tx() as conn:
            await conn.execute(_upsert(conn, instances).values(id=instance, generation=1, heartbeat_at=now, started_at=now)
                               .on_conflict_do_update(index_elements=[instances.c.id], set_={
                                   "generation": instances.c.generation + 1, "heartbeat_at": now, "started_at": now}))
            generation = (await conn.execute(sa.select(instances.c.generation)
                                              .where(instances.c.id == instance))).scalar_one()
        return Lease(instance, int(generation))

    async def renew_lease(self, lease: Lease) -> None:
        """The heartbeat; LeaseLost when another instance took this one's claims over."""
        async with self._tx() as conn:
            await self._renew(conn, lease, self.clock())

    @staticmethod
    async def _renew(conn: AsyncConnection, lease: Lease, now: float) -> None:
        renewed = await conn.execute(instances.update().where(
            instances.c.id == lease.instance, instances.c.generation == lease.generation).values(heartbeat_at=now))
        if renewed.rowcount != 1:
            raise LeaseLost(f"instance {lease.instance!r}: lease generation {lease.generation} was taken over")

    async def begin_send(self, batch_id: str, lease: Lease) -> bool:
        """The fence before a batch's transaction may exist: in one transaction, renew the lease
        (LeaseLost if it was taken over) and move the batch from claimed to sending, only if it
        is still this lease's claim. False: the claim is gone (taken over); send nothing.
        From "sending" on, no other instance takes the batch: only its owner can tell whether
        its TxManager holds (and broadcast) the transaction."""
        now = self.clock()
        async with self._tx() as conn:
            await self._renew(conn, lease, now)
            moved = await conn.execute(batches.update().where(
                batches.c.id == batch_id, batches.c.state == "claimed", batches.c.instance == lease.instance,
                batches.c.generation == lease.generation).values(state="sending", updated_at=now))
            return moved.rowcount == 1

    async def take_over_claims(self, me: str, lease_timeout: float, legacy_timeout: float | None = None) -> int:
        """Release to the queue the unsent claims of every other instance whose heartbeat is older
        than `lease_timeout` seconds, fencing each such instance (generation + 1) in the same
        transaction; returns how many requests went back. Claims of instances without a lease
        row (made before migration 0002) are released once older than `legacy_timeout`
        (default: lease_timeout). Sending and sent batches stay with their instance."""
        now = self.clock()
        cutoff = now - lease_timeout
        legacy_cutoff = now - (lease_timeout if legacy_timeout is None else legacy_timeout)
        async with self._tx() as conn:
            # Row locks serialize this with the owner's renewals: a lease renewed meanwhile is
            # re-read as fresh (PostgreSQL re-checks the WHERE of a locked row) or skipped.
            expired = [str(i) for i in (await conn.execute(
                sa.select(instances.c.id).where(instances.c.heartbeat_at < cutoff, instances.c.id != me)
                .with_for_update(skip_locked=True))).scalars().all()]
            if expired:
                await conn.execute(instances.update().where(instances.c.id.in_(expired))
                                   .values(generation=instances.c.generation + 1))
            leased = sa.select(instances.c.id)
            owners = sa.or_(batches.c.instance.in_(expired),
                            sa.and_(batches.c.instance.not_in(leased), batches.c.instance != me,
                                    batches.c.updated_at < legacy_cutoff))
            stale = (await conn.execute(sa.select(batches.c.id).where(batches.c.state == "claimed", owners)
                                        .with_for_update(skip_locked=True))).scalars().all()
            released = 0
            for batch_id in stale:
                released += await self._release(conn, str(batch_id), "claim taken over: its instance's lease expired",
                                                0.0, count_attempt=False, only_state="claimed")
            return released

    async def prune_leases(self, me: str, older_than: float) -> int:
        """Delete the lease rows of other instances whose heartbeat is older than `older_than`
        seconds and that own no batch still claimed, sending or sent (instances that are gone:
        every restart under a new name, hostname:pid by default, leaves one). Returns how many.
        An instance with unsettled batches keeps its row, so its fence stays; one pruned and
        alive after all only learns at its next renewal (LeaseLost) and takes a new lease: it
        held no claim that could be sent under the new one."""
        cutoff = self.clock() - older_than
        async with self._tx() as conn:
            busy = sa.select(batches.c.instance).where(batches.c.state.in_(("claimed", "sending", "sent")))
            dead = (await conn.execute(
                sa.select(instances.c.id).where(instances.c.heartbeat_at < cutoff, instances.c.id != me,
                                                instances.c.id.not_in(busy))
                .with_for_update(skip_locked=True))).scalars().all()
            if not dead:
                return 0
            pruned = await conn.execute(instances.delete().where(instances.c.id.in_(list(dead)),
                                                                 instances.c.heartbeat_at < cutoff))
            return int(pruned.rowcount)

    async def mark_sent(self, batch_id: str, nonce: int, tx_hash: str) -> None:
        now = self.clock()
        async with self._tx() as conn:
            await conn.execute(batches.update().where(batches.c.id == batch_id)
                               .values(state="sent", nonce=nonce, tx_hash=tx_hash, updated_at=now))
            await conn.execute(requests.update().where(requests.c.batch_id == batch_id)
                               .values(state="sent", submit_tx=tx_hash, updated_at=now))

    async def release(self, batch_id: str, error: str | None, backoff: float = 0.0, count_attempt: bool = True) -> int:
        """Put a batch's requests back in the queue (never dropped), due again after `backoff`
        seconds; returns how many. count_attempt False: the batch never reached the chain."""
        async with self._tx() as conn:
            return await self._release(conn, batch_id, error, backoff, count_attempt)

    async def _release(self, conn: AsyncConnection, batch_id: str, error: str | None, backoff: float,
                       count_attempt: bool, only_state: str | None = None) -> int:
        """release() inside a transaction; only_state: release only a batch still in that state."""
        now = self.clock()
        failed = batches.update().where(batches.c.id == batch_id)
        if only_state is not None:
            failed = failed.where(batches.c.state == only_state)
        if (await conn.execute(failed.values(state="failed", updated_at=now))).rowcount != 1:
            return 0
        values: dict[str, Any] = {"state": "queued", "batch_id": None, "submit_tx": None, "last_error": error,
                                  "next_attempt_at": now + backoff, "updated_at": now}
        if count_attempt:
            values["attempts"] = requests.c.attempts + 1
        released = await conn.execute(requests.update().where(
            requests.c.batch_id == batch_id, requests.c.state.in_(("claimed", "sent"))).values(**values))
        return int(released.rowcount)

    async def batch_attempts(self, batch_id: str) -> int:
        """The most refusals any request of the batch has had (sets the back-off)."""
        async with self.engine.connect() as conn:
            value = (await conn.execute(sa.select(sa.func.max(requests.c.attempts))
                                        .where(requests.c.batch_id == batch_id))).scalar()
        return int(value or 0)

    async def mark_mined(self, batch_id: str, tx_hash: str, block: int, job_ids: Sequence[int]) -> None:
        """The batch's transaction is mined: its jobs, in submission order, got `job_ids`. Run
        again after a reorg re-mined it, with the new ids: what the tracker stored under the old
        ids (a status, a result, a completed request) belonged to other jobs, and is dropped."""
        now = self.clock()
        async with self._tx() as conn:
            order = (await conn.execute(
                sa.select(requests.c.id, requests.c.n_texts).where(requests.c.batch_id == batch_id)
                .order_by(requests.c.created_at, requests.c.id))).all()
            expected = sum(int(r.n_texts) for r in order)
            if expected != len(job_ids):
                raise RuntimeError(f"batch {batch_id}: {len(job_ids)} JobSubmitted events for {expected} texts")
            it = iter(job_ids)
            for row in order:
                for idx in range(int(row.n_texts)):
                    await conn.execute(jobs.update().where(jobs.c.request_id == row.id, jobs.c.idx == idx)
                                       .values(job_id=next(it), submit_block=block, status="drawing", result=None,
                                               updated_at=now))
            await conn.execute(requests.update().where(requests.c.batch_id == batch_id)
                               .values(state="submitted", submit_tx=tx_hash, last_error=None, updated_at=now))
            await conn.execute(batches.update().where(batches.c.id == batch_id)
                               .values(state="mined", tx_hash=tx_hash, updated_at=now))

    async def mark_mined_gasless(self, batch_id: str, block: int,
                                 outcomes: dict[str, tuple[str, list[int]] | str]) -> None:
        """A gasless batch's transaction is mined: each request either ran, in this transaction
        or in another one that relayed the same signed request first, as (that transaction, its
        job ids), or did not run (the reason): it is failed and its forwarder nonce freed. Run
        again, as mark_mined is, when a reorg re-mines the transaction (what was tracked under
        the old ids is dropped)."""
        now = self.clock()
        async with self._tx() as conn:
            for request_id, outcome in outcomes.items():
                if isinstance(outcome, str):
                    await conn.execute(requests.update().where(requests.c.id == request_id).values(
                        state="failed", last_error=outcome, forward_nonce=None, updated_at=now))
                    continue
                tx_hash, job_ids = outcome
                for idx, job_id in enumerate(job_ids):
                    await conn.execute(jobs.update().where(jobs.c.request_id == request_id, jobs.c.idx == idx)
                                       .values(job_id=job_id, submit_block=block, status="drawing", result=None,
                                               updated_at=now))
                await conn.execute(requests.update().where(requests.c.id == request_id).values(
                    state="submitted", submit_tx=tx_hash, last_error=None, updated_at=now))
            await conn.execute(batches.update().where(batches.c.id == batch_id)
                               .values(state="mined", updated_at=now))

    async def gasless_of_batch(self, batch_id: str) -> list[tuple[str, dict[str, Any]]]:
        """The gasless requests of a batch, in claim order: (request id, signed request)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(requests.c.id, requests.c.signed).where(
                requests.c.batch_id == batch_id, requests.c.kind == "gasless")
                .order_by(requests.c.created_at, requests.c.id))).all()
        return [(str(r.id), dict(r.signed)) for r in rows]

    async def open_batches(self, instance: str) -> list[OpenBatch]:
        """This instance's batches that were claimed, sending or sent but not seen mined (to resume)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(batches.c.id, batches.c.state, batches.c.nonce).where(
                batches.c.instance == instance, batches.c.state.in_(("claimed", "sending", "sent"))))).all()
        return [OpenBatch(str(r.id), str(r.state), None if r.nonce is None else int(r.nonce)) for r in rows]

    # --------------------------------------------------------------- tracking
    async def open_jobs(self, limit: int = 500) -> list[OpenJob]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                sa.select(jobs.c.request_id, jobs.c.idx, jobs.c.job_id, jobs.c.submit_block, jobs.c.status)
                .where(jobs.c.job_id.is_not(None), jobs.c.status.not_in(TERMINAL))
                .order_by(jobs.c.job_id).limit(limit))).all()
        return [OpenJob(str(r.request_id), int(r.idx), int(r.job_id), None if r.submit_block is None else int(r.submit_block),
                        str(r.status)) for r in rows]

    async def update_jobs(self, updates: Sequence[tuple[OpenJob, str, dict[str, Any] | None]]) -> None:
        """New statuses (and, for final ones, results) of open jobs; a request whose jobs are all
        final is completed."""
        if not updates:
            return
        now = self.clock()
        async with self._tx() as conn:
            for job, status, result in updates:
                await conn.execute(jobs.update().where(jobs.c.request_id == job.request_id, jobs.c.idx == job.idx,
                                                       jobs.c.job_id == job.job_id)
                                   .values(status=status, result=result, updated_at=now))
            touched = sorted({job.request_id for job, _, _ in updates})
            still_open = sa.select(jobs.c.request_id).where(jobs.c.request_id.in_(touched),
                                                            jobs.c.status.not_in(TERMINAL))
            await conn.execute(requests.update().where(requests.c.id.in_(touched), requests.c.state == "submitted",
                                                       requests.c.id.not_in(still_open))
                               .values(state="completed", updated_at=now))
            await conn.execute(requests.update().where(requests.c.id.in_(touched)).values(updated_at=now))

    # ------------------------------------------------------------------ reads
    async def get_request(self, request_id: str) -> RequestRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(requests).where(requests.c.id == request_id))).first()
            if row is None:
                return None
            job_rows = (await conn.execute(sa.select(jobs).where(jobs.c.request_id == request_id)
                                           .order_by(jobs.c.idx))).all()
        return RequestRecord(
            str(row.id), None if row.key_id is None else str(row.key_id), str(row.model), int(row.model_id), str(row.state), int(row.attempts),
            float(row.next_attempt_at), row.last_error, row.submit_tx, float(row.created_at), float(row.updated_at),
            [JobRow(int(j.idx), str(j.text), None if j.job_id is None else int(j.job_id), str(j.status), j.result)
             for j in job_rows], str(row.kind), row.signer)

    async def stats(self) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            by_state = {r[0]: r[1] for r in (await conn.execute(sa.select(requests.c.state, sa.func.count())
                                                .group_by(requests.c.state))).all()}
            by_job = {r[0]: r[1] for r in (await conn.execute(sa.select(jobs.c.status, sa.func.count())
                                              .group_by(jobs.c.status))).all()}
            oldest = (await conn.execute(sa.select(sa.func.min(requests.c.created_at))
                                         .where(requests.c.state == "queued"))).scalar()
            mined = (await conn.execute(sa.select(sa.func.count(), sa.func.sum(batches.c.n_jobs))
                                        .where(batches.c.state == "mined"))).one()
        return {
            "requests": {str(k): int(v) for k, v in by_state.items()},
            "jobs": {str(k): int(v) for k, v in by_job.items()},
            "oldest_queued_age_s": None if oldest is None else round(self.clock() - float(oldest), 3),
            "batches_mined": int(mined[0] or 0),
            "jobs_in_mined_batches": int(mined[1] or 0),
        }
