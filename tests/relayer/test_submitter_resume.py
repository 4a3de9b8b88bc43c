"""The submitter's crash points, on a real devnet (nodes registered, no node processes needed:
a submit only needs eligible nodes). A relayer process that dies at any step between claiming a
batch and recording its job ids is replaced by a fresh Submitter and TxManager on the same
stores, as a restart would; every request is then submitted exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from infera.chain import Chain
from infera.devnet import DEVNET_KEYS
from infera.txmanager import TxManager, TxStore
from infera_testing.localnet import DeployedState, LocalNetwork
from relayer.keys import new_key
from relayer.metrics import RelayerMetrics
from relayer.settings import RelayerSettings
from relayer.store import LeaseLost, Store
from relayer.submitter import ACTION, Submitter

RELAYER_KEY = DEVNET_KEYS[9]
SECOND_KEY = DEVNET_KEYS[8]  # funded by the deploy script's devnet faucet, as key 9 is


@pytest.fixture
def network(tmp_path: Path, deployed_state: DeployedState) -> Iterator[LocalNetwork]:
    with LocalNetwork(tmp_path / "net") as net:
        net.start_deployed(deployed_state)
        asyncio.run(net.register_nodes([1, 2, 3]))
        yield net


def _submitter(chain: Chain, store: Store, tx_path: Path, url: str, instance: str = "one") -> Submitter:
    """What `infera-relayer run` builds at start: a new TxManager over the persisted TxStore."""
    settings = RelayerSettings(database_url=url, confirmations=1, batch_linger=0, lease_timeout=30)
    return Submitter(chain, TxManager(chain, TxStore(tx_path), confirmations=1), store, settings, RelayerMetrics(),
                     instance=instance)


async def _submitted_texts(chain: Chain) -> list[str]:
    return [str(e["args"]["input"]) for e in await chain.logs(chain.jobs, "JobSubmitted", chain.deployment.deployment_block)]


async def _until_submitted(sub: Submitter, store: Store, request_id: str) -> list[int | None]:
    for _ in range(100):
        await sub.tick()
        record = await store.get_request(request_id)
        assert record is not None
        if record.state == "submitted":
            return [j.job_id for j in record.jobs]
        await asyncio.sleep(0.1)
    raise AssertionError(f"request {request_id} not submitted")


async def _scenario(net: LocalNetwork, url: str, tx_path: Path) -> None:
    chain = await net.connect(RELAYER_KEY)
    store = Store.open(url)
    try:
        key = new_key()
        await store.add_key(key, "t", 100, 60)
        first = _submitter(chain, store, tx_path, url)
        await first.start()

        # 1. Died after the TxManager persisted (and broadcast) the transaction, before the
        #    batch was marked sent: the restart finds the transaction by its tag and its receipt.
        r1, _ = await store.enqueue(key.key_id, "m", 1, ["crash after persist a", "crash after persist b"])
        batch = await store.claim("one", 64)
        assert batch is not None
        fee = (await chain.get_model(1)).fee
        await first.txm.send(ACTION + batch.batch_id, [], chain.jobs.functions.submit(1, batch.texts, fee, False))
        first.txm.store.close()
        second = _submitter(chain, store, tx_path, url)
        await second.start()
        record = await store.get_request(r1)
        assert record is not None and record.state == "submitted", record
        assert [j.job_id for j in record.jobs] == [1, 2]

        # 2. Died after claiming, before sending: the claim is released (no attempt counted) and
        #    the next tick sends it.
        r2, _ = await store.enqueue(key.key_id, "m", 1, ["crash after claim"])
        assert await store.claim("one", 64) is not None
        second.txm.store.close()
        third = _submitter(chain, store, tx_path, url)
        await third.start()
        record = await store.get_request(r2)
        assert record is not None and record.state == "queued" and record.attempts == 0
        assert await _until_submitted(third, store, r2) == [3]

        # 3. Died after poll() reported the receipt, before it was recorded: poll never reports
        #    it again, so the restart reads the receipt itself.
        r3, _ = await store.enqueue(key.key_id, "m", 1, ["crash after receipt"])
        assert await third.tick() > 0  # claims and sends
        for _ in range(50):
            if [o for o in await third.txm.poll() if o.tx.action.startswith(ACTION)]:
                break  # the outcome is dropped here, as a crash would drop it
            await asyncio.sleep(0.1)
        record = await store.get_request(r3)
        assert record is not None and record.state == "sent"
        third.txm.store.close()
        fourth = _submitter(chain, store, tx_path, url)
        await fourth.start()
        record = await store.get_request(r3)
        assert record is not None and record.state == "submitted" and [j.job_id for j in record.jobs] == [4]

        for _ in range(5):  # nothing is left to send
            await fourth.tick()
        fourth.txm.store.close()
        assert sorted(await _submitted_texts(chain)) == sorted(
            ["crash after persist a", "crash after persist b", "crash after claim", "crash after receipt"])
    finally:
        await store.close()
        await chain.close()


def test_every_crash_point_submits_exactly_once(network: LocalNetwork, database_url: str, tmp_path: Path) -> None:
    asyncio.run(_scenario(network, database_url, tmp_path / "tx.db"))


async def _takeover(net: LocalNetwork, url: str, tmp: Path) -> None:
    """Two instances, two keys, one queue. A claims and stalls past its lease; B takes the claim
    over and submits it; A wakes up and tries to send its batch: the fence stops it, and the
    text is on chain exactly once."""
    chain_a, chain_b = await net.connect(RELAYER_KEY), await net.connect(SECOND_KEY)
    store = Store.open(url)
    try:
        key = new_key()
        await store.add_key(key, "t", 100, 60)
        a, b = _submitter(chain_a, store, tmp / "a.db", url, "a"), _submitter(chain_b, store, tmp / "b.db", url, "b")
        await a.start()
        await b.start()
        request_id, _ = await store.enqueue(key.key_id, "m", 1, ["submitted once"])
        stalled = await store.claim("a", 64, lease=a.lease)
        assert stalled is not None
        now = store.clock()
        store.clock = lambda: now + 31  # A's heartbeat is 31 s old: past its 30 s lease
        await _until_submitted(b, store, request_id)
        with pytest.raises(LeaseLost):
            await a._send(stalled)  # noqa: SLF001 - the stalled instance resuming mid-send
        for _ in range(5):
            await a.tick()  # takes a new lease; nothing of its own is left to send
            await b.tick()
        record = await store.get_request(request_id)
        assert record is not None and record.state == "submitted"
        assert await _submitted_texts(chain_a) == ["submitted once"]
        a.txm.store.close()
        b.txm.store.close()
    finally:
        await store.close()
        await chain_a.close()
        await chain_b.close()


def test_a_stalled_instance_does_not_resubmit_a_taken_over_claim(network: LocalNetwork, database_url: str,
                                                                    tmp_path: Path) -> None:
    asyncio.run(_takeover(network, database_url, tmp_path))
