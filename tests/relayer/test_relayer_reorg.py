"""A reorg of the relayer's own submit transaction, on a real devnet and a real relayer process.

1. The block holding the relayer's submit is replaced by one where another requester's submit
   comes first and the relayer's same signed transaction second (what a competing block of a
   real chain often holds): the transaction never leaves the chain, but its jobs get new ids.
2. The block holding it is replaced by one without it: the relayer's TxManager sends the same
   signed transaction again, and it lands later, under yet other ids.
3. As 1, while the relayer is down (kill -9): the restarted process finds the transaction in
   another block than the one it persisted, and records the new ids.

Each time the relayer must end up reporting the canonical job ids, and every text must be on the
final chain exactly once. No node process runs (a submit only needs registered nodes) and the
keeper is off, so the relayer's submits are its only transactions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infera.chain import Chain
from infera.client import InferaClient
from infera.devnet import DEVNET_KEYS, rpc_call
from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork
from relayer.keys import new_key
from relayer.metrics import RelayerMetrics
from relayer.process import LocalRelayer as Relayer
from relayer.store import Store
from relayer.tracker import Tracker
from support.relayer_http import job_view, wait_until

MODEL = "all-MiniLM-L6-v2"
OTHER_KEY = DEVNET_KEYS[8]  # another requester, funded by the devnet faucet


def _rpc(net: LocalNetwork, method: str, *params: object) -> Any:
    return rpc_call(net.rpc_url, method, list(params))


async def _other_submits(net: LocalNetwork, texts: list[str]) -> list[str]:
    """Signed submits of one job each by the other requester, in nonce order, not broadcast (raw
    hex). Its approval is mined now, before any block that a reorg below replaces."""
    chain = await net.connect(OTHER_KEY)
    try:
        model_id = chain.deployment.model_id(MODEL)
        fee = (await chain.get_model(model_id)).fee
        await chain.transact(chain.token.functions.approve(chain.jobs.address, fee * len(texts)))
        nonce = await chain.w3.eth.get_transaction_count(chain.address, "pending")
        assert chain.account is not None
        out = []
        for i, text in enumerate(texts):
            built = await chain.jobs.functions.submit(model_id, [text], fee, False).build_transaction(
                {"from": chain.address, "nonce": nonce + i, "gas": 3_000_000, "maxFeePerGas": 10**11,
                 "maxPriorityFeePerGas": 10**9})
            out.append("0x" + bytes(chain.account.sign_transaction(built).raw_transaction).hex())
        return out
    finally:
        await chain.close()


def _canonical(net: LocalNetwork, texts: list[str]) -> dict[str, list[int]]:
    """Every job id the final chain holds for each text (one each, if submitted exactly once)."""

    async def go(chain: Chain) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {t: [] for t in texts}
        for e in await chain.logs(chain.jobs, "JobSubmitted", chain.deployment.deployment_block):
            if str(e["args"]["input"]) in out:
                out[str(e["args"]["input"])].append(int(e["args"]["jobId"]))
        return out

    async def run() -> dict[str, list[int]]:
        chain = await net.connect()
        try:
            return await go(chain)
        finally:
            await chain.close()

    return asyncio.run(run())


def _reorg_around(net: LocalNetwork, tx_hash: str, replacement: list[str]) -> None:
    """Replace every block from the one holding `tx_hash` up to the head; the first new block
    holds `replacement` (raw transactions, in order). Interval mining pauses meanwhile, so the
    depth is exact."""
    _rpc(net, "evm_setIntervalMining", 0)
    try:
        block = int(_rpc(net, "eth_getTransactionReceipt", tx_hash)["blockNumber"], 16)
        depth = int(_rpc(net, "eth_blockNumber"), 16) - block + 1
        _rpc(net, "anvil_reorg", depth, [[raw, 0] for raw in replacement])
    finally:
        _rpc(net, "evm_setIntervalMining", 1)


def _submit_tx_of(net: LocalNetwork, texts: list[str]) -> str:
    """The hash of the transaction that holds the first text on the chain now."""

    async def go() -> str:
        chain = await net.connect()
        try:
            for e in await chain.logs(chain.jobs, "JobSubmitted", chain.deployment.deployment_block):
                if str(e["args"]["input"]) == texts[0]:
                    return "0x" + bytes(e["transactionHash"]).hex()
            raise AssertionError(f"{texts[0]!r} is not on the chain")
        finally:
            await chain.close()

    return asyncio.run(go())


def _ids_settle(relayer: Relayer, request_id: str, auth: dict[str, str], net: LocalNetwork,
                texts: list[str]) -> list[int]:
    """Wait until the relayer reports, for each text, the one id the chain holds for it."""

    def settled() -> list[int] | None:
        canonical = _canonical(net, texts)
        if any(len(ids) != 1 for ids in canonical.values()):
            return None
        reported = [j["job_id"] for j in job_view(relayer, request_id, auth)["jobs"]]
        return reported if reported == [canonical[t][0] for t in texts] else None

    return list(wait_until("reporting the canonical job ids", relayer, settled))


@pytest.fixture(scope="module")
def chain_net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """One deployed devnet with nodes 1 to 3 registered (no node process) for this module's
    tests: each reads only what it submitted itself, so they share it and its setup time."""
    with LocalNetwork(tmp_path_factory.mktemp("reorg") / "net") as net:
        net.start_devnet()
        net.deploy()
        asyncio.run(net.register_nodes([1, 2, 3]))
        yield net


def test_a_reorged_submit_ends_with_the_canonical_job_ids_once(chain_net: LocalNetwork, tmp_path: Path) -> None:
    network = chain_net
    relayer = Relayer(network, tmp_path, confirmations="20", keeper_enabled="false", batch_linger="0")
    try:
        _scenario(network, relayer)
    finally:
        relayer.stop()


def _scenario(net: LocalNetwork, relayer: Relayer) -> None:
    auth = {"Authorization": "Bearer " + relayer.cli("keys", "create", "--name", "reorg", "--quota", "10")}
    other = asyncio.run(_other_submits(net, ["Another requester's job.", "A second competing job.", "A third."]))
    relayer.start()
    texts = ["Reorged but re-included.", "Renumbered by a competing block."]
    posted = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": texts}, headers=auth, timeout=10)
    assert posted.status_code == 202, posted.text
    request_id = posted.json()["request_id"]
    first = wait_until("submitted", relayer, lambda: (v := job_view(relayer, request_id, auth))["status"] == "submitted" and v)
    first_ids = [j["job_id"] for j in first["jobs"]]
    submit_tx = first["jobs"][0]["transactions"]["submit"]

    # 1. A competing block: the other requester's job first, the relayer's same transaction next.
    raw = str(_rpc(net, "eth_getRawTransactionByHash", submit_tx))
    _reorg_around(net, submit_tx, [other[0], raw])
    renumbered = _ids_settle(relayer, request_id, auth, net, texts)
    assert renumbered == [i + 1 for i in first_ids], (first_ids, renumbered)

    # 2. A competing block without it: sent again by the relayer, it lands later, renumbered again.
    view = job_view(relayer, request_id, auth)
    _reorg_around(net, view["jobs"][0]["transactions"]["submit"], other[:2])
    again = _ids_settle(relayer, request_id, auth, net, texts)
    assert again == [i + 2 for i in first_ids], (first_ids, again)

    # 3. Renumbered again while the relayer is dead; the restart finds out.
    relayer.kill9()
    submit_tx = _submit_tx_of(net, texts)
    _reorg_around(net, submit_tx, [*other, str(_rpc(net, "eth_getRawTransactionByHash", submit_tx))])
    relayer.start()
    last = _ids_settle(relayer, request_id, auth, net, texts)
    assert last == [i + 3 for i in first_ids], (first_ids, last)

    # Stable past the submit's confirmation depth: still the canonical ids, each text once.
    time.sleep(3)
    assert _ids_settle(relayer, request_id, auth, net, texts) == last
    assert job_view(relayer, request_id, auth)["status"] == "submitted"


async def _track_beside_an_unknown_id(net: LocalNetwork, url: str) -> None:
    chain = await net.connect()
    store = Store.open(url)
    try:
        [real] = await InferaClient(chain).submit_texts(["Tracked beside a reorged-away job."])
        while (await chain.get_job(real)).status is JobStatus.DRAWING:
            await chain.assign_due()  # no node runs: the test draws the committee itself
            await asyncio.sleep(0.3)
        key = new_key()
        await store.add_key(key, "t", 10, 60)
        request_id, _ = await store.enqueue(key.key_id, MODEL, 1, ["real", "reorged away"])
        batch = await store.claim("one", 64)
        assert batch is not None
        await store.mark_sent(batch.batch_id, 0, "0x" + "ab" * 32)
        await store.mark_mined(batch.batch_id, "0x" + "ab" * 32, 1, [real, real + 1000])
        assert await Tracker(chain, store, RelayerMetrics()).tick() == 1
        record = await store.get_request(request_id)
        assert record is not None
        assert [(j.job_id, j.status) for j in record.jobs] == [(real, "committing"), (real + 1000, "drawing")]
    finally:
        await store.close()
        await chain.close()


def test_a_job_id_the_chain_does_not_know_stops_no_other_job_s_tracking(chain_net: LocalNetwork,
                                                                      sqlite_url: str) -> None:
    """Between a reorg taking a submit away and its re-mining, the queue holds ids the chain does
    not know (or, after a deep reorg, for good): the other jobs are tracked all the same."""
    asyncio.run(_track_beside_an_unknown_id(chain_net, sqlite_url))
