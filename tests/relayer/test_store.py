"""The durable queue on SQLite and on the real PostgreSQL server: storing, quotas, idempotency,
claiming (two instances never take one request), back-off and completion."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import sqlalchemy as sa

from relayer.keys import new_key
from relayer.migrate import upgrade
from relayer.schema import batches, instances, requests
from relayer.store import IdempotencyConflict, LeaseLost, QuotaExceeded, Store

T = TypeVar("T")


def run(database_url: str, body: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = Store.open(database_url)
        try:
            return await body(store)
        finally:
            await store.close()
    return asyncio.run(main())


async def _key(store: Store, quota: int = 1_000) -> str:
    key = new_key()
    await store.add_key(key, "test", quota, 60)
    return key.key_id


def test_migrations_run_twice_without_change(database_url: str) -> None:
    upgrade(database_url)  # the fixture already ran it once: head is head


def test_a_stored_request_survives_a_new_connection_and_charges_the_quota(database_url: str) -> None:
    async def body(store: Store) -> tuple[str, str]:
        key_id = await _key(store, quota=5)
        request_id, created = await store.enqueue(key_id, "m", 1, ["a", "b"])
        assert created
        return key_id, request_id

    key_id, request_id = run(database_url, body)

    async def reread(store: Store) -> None:
        record = await store.get_request(request_id)
        assert record is not None and record.state == "queued"
        assert [j.text for j in record.jobs] == ["a", "b"]
        key = await store.get_key(key_id)
        assert key is not None and key.used_jobs == 2

    run(database_url, reread)


def test_quota_is_never_exceeded(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store, quota=3)
        await store.enqueue(key_id, "m", 1, ["a", "b"])
        with pytest.raises(QuotaExceeded):
            await store.enqueue(key_id, "m", 1, ["c", "d"])
        await store.enqueue(key_id, "m", 1, ["c"])
        key = await store.get_key(key_id)
        assert key is not None and key.used_jobs == 3

    run(database_url, body)


def test_idempotency_key_replays_and_refuses_a_different_body(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        first, created = await store.enqueue(key_id, "m", 1, ["a"], idempotency_key="k1")
        again, created_again = await store.enqueue(key_id, "m", 1, ["a"], idempotency_key="k1")
        assert created and not created_again and first == again
        with pytest.raises(IdempotencyConflict):
            await store.enqueue(key_id, "m", 1, ["b"], idempotency_key="k1")
        # Concurrent replays: one request, charged once.
        racers = await asyncio.gather(*(store.enqueue(key_id, "m", 1, ["z"], idempotency_key="k2") for _ in range(5)))
        assert len({r for r, _ in racers}) == 1 and sum(c for _, c in racers) == 1
        key = await store.get_key(key_id)
        assert key is not None and key.used_jobs == 2

    run(database_url, body)


def test_claim_takes_whole_requests_of_one_model_up_to_the_bound(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        r1, _ = await store.enqueue(key_id, "m", 1, ["a", "b", "c"])
        r2, _ = await store.enqueue(key_id, "m", 1, ["d", "e"])
        r3, _ = await store.enqueue(key_id, "other", 2, ["f"])
        batch = await store.claim("i1", max_jobs=4)
        assert batch is not None and [r.request_id for r in batch.requests] == [r1]  # r2 would overflow
        assert batch.texts == ["a", "b", "c"]
        batch = await store.claim("i1", max_jobs=4)
        assert batch is not None and [r.request_id for r in batch.requests] == [r2]  # r3 is another model
        batch = await store.claim("i1", max_jobs=4)
        assert batch is not None and batch.model_id == 2 and [r.request_id for r in batch.requests] == [r3]
        assert await store.claim("i1", max_jobs=4) is None

    run(database_url, body)


def test_a_batch_that_is_not_full_lingers(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        await store.enqueue(key_id, "m", 1, ["a"])
        assert await store.claim("i1", max_jobs=4, linger=60) is None
        assert await store.claim("i1", max_jobs=1, linger=60) is not None  # full: no wait

    run(database_url, body)


def test_two_instances_claiming_at_once_never_take_the_same_request(database_url: str) -> None:
    n_requests = 120

    async def main() -> None:
        seed = Store.open(database_url)
        key_id = await _key(seed, quota=10_000)
        expected = {(await seed.enqueue(key_id, "m", 1, [f"t{i}"]))[0] for i in range(n_requests)}
        await seed.close()
        instances = [Store.open(database_url) for _ in range(2)]

        async def drain(store: Store, name: str) -> list[str]:
            taken: list[str] = []
            while (batch := await store.claim(name, max_jobs=3)) is not None:
                taken.extend(r.request_id for r in batch.requests)
                await asyncio.sleep(0)  # let the other instance in between claims
            return taken

        try:
            results = await asyncio.gather(*(drain(s, f"i{n}") for n, s in enumerate(instances)))
        finally:
            for s in instances:
                await s.close()
        a, b = (set(r) for r in results)
        assert not a & b
        assert a | b == expected
        assert len(results[0]) + len(results[1]) == n_requests
        if database_url.startswith("postgresql"):
            # SKIP LOCKED lets both work at once; SQLite runs writers one at a time, so there
            # one instance may take everything, which is still correct.
            assert results[0] and results[1], "both instances should have taken work"

    asyncio.run(main())


def test_a_refused_batch_goes_back_to_the_queue_with_back_off(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        request_id, _ = await store.enqueue(key_id, "m", 1, ["a"])
        batch = await store.claim("i1", max_jobs=4)
        assert batch is not None
        assert await store.release(batch.batch_id, "JobRegistryNotEnoughNodes", backoff=30) == 1
        record = await store.get_request(request_id)
        assert record is not None and record.state == "queued" and record.attempts == 1
        assert record.last_error == "JobRegistryNotEnoughNodes"
        assert await store.claim("i1", max_jobs=4) is None  # backing off
        store.clock = lambda: record.next_attempt_at + 1
        assert await store.claim("i1", max_jobs=4) is not None

    run(database_url, body)


def test_mined_batch_gets_job_ids_and_completes_when_every_job_is_final(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        r1, _ = await store.enqueue(key_id, "m", 1, ["a", "b"])
        r2, _ = await store.enqueue(key_id, "m", 1, ["c"])
        batch = await store.claim("i1", max_jobs=4)
        assert batch is not None
        await store.mark_sent(batch.batch_id, 7, "0x" + "ab" * 32)
        assert [b.batch_id for b in await store.open_batches("i1")] == [batch.batch_id]
        await store.mark_mined(batch.batch_id, "0x" + "ab" * 32, 12, [10, 11, 12])
        assert await store.open_batches("i1") == []
        open_jobs = await store.open_jobs()
        assert [(j.request_id, j.idx, j.job_id) for j in open_jobs] == [(r1, 0, 10), (r1, 1, 11), (r2, 0, 12)]
        await store.update_jobs([(open_jobs[0], "accepted", {"agreeing": ["0x1"]}), (open_jobs[2], "refunded", None)])
        first = await store.get_request(r1)
        second = await store.get_request(r2)
        assert first is not None and first.state == "submitted"
        assert first.jobs[0].result == {"agreeing": ["0x1"]}
        assert second is not None and second.state == "completed"
        await store.update_jobs([(open_jobs[1], "accepted", {})])
        first = await store.get_request(r1)
        assert first is not None and first.state == "completed"
        stats = await store.stats()
        assert stats["requests"] == {"completed": 2} and stats["batches_mined"] == 1

    run(database_url, body)


def test_a_batch_re_mined_after_a_reorg_drops_what_was_tracked_under_its_old_ids(database_url: str) -> None:
    """A reorg renumbered a submit: the ids first recorded were other jobs, maybe final already.
    Recording the new ids forgets their status and result and reopens the request; a tracker
    update still carrying an old id changes nothing."""
    async def body(store: Store) -> None:
        key_id = await _key(store)
        request_id, _ = await store.enqueue(key_id, "m", 1, ["a"])
        batch = await store.claim("i1", max_jobs=4)
        assert batch is not None
        await store.mark_sent(batch.batch_id, 1, "0x" + "ab" * 32)
        await store.mark_mined(batch.batch_id, "0x" + "ab" * 32, 12, [5])
        [stale] = await store.open_jobs()
        await store.update_jobs([(stale, "accepted", {"agreeing": ["0x1"]})])
        record = await store.get_request(request_id)
        assert record is not None and record.state == "completed"
        await store.mark_mined(batch.batch_id, "0x" + "ab" * 32, 13, [6])  # re-mined, renumbered
        await store.update_jobs([(stale, "refunded", {"late": True})])  # an update for the old id
        record = await store.get_request(request_id)
        assert record is not None and record.state == "submitted"
        assert [(j.job_id, j.status, j.result) for j in record.jobs] == [(6, "drawing", None)]

    run(database_url, body)


def test_a_claim_whose_instance_died_is_released_to_others(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        request_id, _ = await store.enqueue(key_id, "m", 1, ["a"])
        assert await store.claim("dead", max_jobs=4) is not None  # no lease row: a claim from before 0002
        assert await store.take_over_claims("alive", lease_timeout=30, legacy_timeout=60) == 0
        now = store.clock()
        store.clock = lambda: now + 61
        assert await store.take_over_claims("alive", lease_timeout=30, legacy_timeout=60) == 1
        record = await store.get_request(request_id)
        assert record is not None and record.state == "queued" and record.attempts == 0
        batch = await store.claim("alive", max_jobs=4)
        assert batch is not None and batch.requests[0].request_id == request_id

    run(database_url, body)


def test_a_claimer_skips_rows_another_instance_holds_locked(postgres_url: str) -> None:
    """What SKIP LOCKED buys: while one instance is inside its claim transaction (rows locked,
    nothing committed), another claims the next rows at once instead of waiting or taking them."""

    async def main() -> None:
        store = Store.open(postgres_url)
        holder = Store.open(postgres_url)
        try:
            key_id = await _key(store)
            ids = [(await store.enqueue(key_id, "m", 1, [f"t{i}"]))[0] for i in range(4)]
            async with holder.engine.begin() as conn:
                locked = (await conn.execute(
                    sa.select(requests.c.id).where(requests.c.state == "queued")
                    .order_by(requests.c.created_at, requests.c.id).limit(2).with_for_update())).scalars().all()
                assert list(locked) == ids[:2]
                batch = await asyncio.wait_for(store.claim("other", max_jobs=64), timeout=5)
                assert batch is not None and [r.request_id for r in batch.requests] == ids[2:]
            # Released by the holder (it claimed nothing): the first two are there for anyone.
            batch = await store.claim("other", max_jobs=64)
            assert batch is not None and [r.request_id for r in batch.requests] == ids[:2]
        finally:
            await holder.close()
            await store.close()

    asyncio.run(main())


def test_a_live_lease_keeps_its_claims_and_an_expired_one_loses_them(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        await store.enqueue(key_id, "m", 1, ["a"])
        a = await store.acquire_lease("a")
        assert await store.claim("a", max_jobs=4, lease=a) is not None
        now = store.clock()
        store.clock = lambda: now + 25
        await store.renew_lease(a)  # the heartbeat, in time
        store.clock = lambda: now + 50
        assert await store.take_over_claims("b", lease_timeout=30) == 0  # renewed 25 s ago: alive
        store.clock = lambda: now + 56
        assert await store.take_over_claims("b", lease_timeout=30) == 1
        with pytest.raises(LeaseLost):
            await store.renew_lease(a)  # fenced: the owner learns it at its next heartbeat

    run(database_url, body)


def test_a_stalled_instance_cannot_send_a_claim_another_took_over(database_url: str) -> None:
    """The race a time-based release alone allowed: A claims, stalls past its lease, B takes the
    request over and sends it; A wakes up with its batch in hand. The fence (lease generation and
    claim state, checked in begin_send's transaction) stops A before anything is signed."""
    async def body(store: Store) -> None:
        key_id = await _key(store)
        request_id, _ = await store.enqueue(key_id, "m", 1, ["once"])
        a = await store.acquire_lease("a")
        stalled = await store.claim("a", max_jobs=4, lease=a)
        assert stalled is not None
        now = store.clock()
        store.clock = lambda: now + 31
        b = await store.acquire_lease("b")
        assert await store.take_over_claims("b", lease_timeout=30) == 1
        taken = await store.claim("b", max_jobs=4, lease=b)
        assert taken is not None and taken.requests[0].request_id == request_id
        assert await store.begin_send(taken.batch_id, b)
        with pytest.raises(LeaseLost):
            await store.begin_send(stalled.batch_id, a)
        # Even under a fresh lease, A's old claim is not its to send any more.
        a2 = await store.acquire_lease("a")
        assert not await store.begin_send(stalled.batch_id, a2)
        async with store.engine.connect() as conn:
            states = dict((await conn.execute(sa.select(batches.c.id, batches.c.state))).all())
        assert states == {stalled.batch_id: "failed", taken.batch_id: "sending"}

    run(database_url, body)


def test_a_restart_under_the_same_name_fences_the_earlier_generation(database_url: str) -> None:
    async def body(store: Store) -> None:
        key_id = await _key(store)
        await store.enqueue(key_id, "m", 1, ["a"])
        old = await store.acquire_lease("one")
        batch = await store.claim("one", max_jobs=4, lease=old)
        assert batch is not None
        new = await store.acquire_lease("one")
        assert new.generation == old.generation + 1
        with pytest.raises(LeaseLost):
            await store.claim("one", max_jobs=4, lease=old)
        assert not await store.begin_send(batch.batch_id, new)  # the new generation resumes it instead

    run(database_url, body)


def test_lease_rows_of_instances_gone_long_ago_are_pruned(database_url: str) -> None:
    """Each restart under a new name leaves a lease row; once its heartbeat is older than the
    prune age and it owns no unsettled batch, it goes. An instance whose sending batch only it can
    settle keeps its row (and fence); the pruner's own and live rows stay; a pruned instance
    that comes back learns at its next renewal and takes a new lease."""
    async def body(store: Store) -> None:
        key_id = await _key(store)
        await store.enqueue(key_id, "m", 1, ["a"])
        gone = await store.acquire_lease("gone")
        sending = await store.acquire_lease("sending")
        batch = await store.claim("sending", max_jobs=4, lease=sending)
        assert batch is not None and await store.begin_send(batch.batch_id, sending)
        await store.acquire_lease("me")
        now = store.clock()
        store.clock = lambda: now + 100
        live = await store.acquire_lease("live")
        assert await store.prune_leases("me", older_than=200) == 0  # nobody is that old yet
        store.clock = lambda: now + 250
        assert await store.prune_leases("me", older_than=200) == 1
        async with store.engine.connect() as conn:
            left = set((await conn.execute(sa.select(instances.c.id))).scalars().all())
        assert left == {"sending", "me", "live"}
        await store.renew_lease(live)
        with pytest.raises(LeaseLost):
            await store.renew_lease(gone)
        assert (await store.acquire_lease("gone")).instance == "gone"

    run(database_url, body)


def test_a_sending_batch_is_never_taken_over(database_url: str) -> None:
    """Once the owner passed the fence its TxManager may hold the transaction: the batch stays
    the owner's however long its lease has been expired."""
    async def body(store: Store) -> None:
        key_id = await _key(store)
        await store.enqueue(key_id, "m", 1, ["a"])
        a = await store.acquire_lease("a")
        batch = await store.claim("a", max_jobs=4, lease=a)
        assert batch is not None and await store.begin_send(batch.batch_id, a)
        now = store.clock()
        store.clock = lambda: now + 3600
        assert await store.take_over_claims("b", lease_timeout=30) == 0
        assert [b.batch_id for b in await store.open_batches("a")] == [batch.batch_id]

    run(database_url, body)
