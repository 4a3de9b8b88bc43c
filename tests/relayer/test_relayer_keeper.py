"""The relayer's keeper ends jobs whose whole committee is dead, with nobody else moving them.

Three nodes are registered and staked but no node process ever runs, so nobody but the relayer
draws, advances, finalizes or draws again; one request carries two jobs, both drawn to them:
1. Nobody commits to the first: after its outsider's grace (2.5x to 3.5x
   INFERA_RELAYER_KEEPER_GRACE) the relayer advances it past its commit deadline, and the redraw
   it then makes finds no untried node and refunds it.
2. The committee commits to and reveals the second (the test sends each node's own
   transactions, as a node process would, with no model to load) and dies before anyone
   finalizes: the relayer finalizes it with the vectors it reads from the chain; accepted.
GET /v1/jobs/{id} reports both ends. With the keeper switched off
(INFERA_RELAYER_KEEPER_ENABLED=false) both jobs stay in their draw.

Deadlines are reached by moving the devnet's clock forward, not by waiting them out."""

from __future__ import annotations

import asyncio
import re

import requests
from eth_account import Account

from infera.chain import commitment_of
from infera.devnet import DEVNET_KEYS
from infera.types import Job, JobStatus, Seat
from infera_testing.localnet import LocalNetwork
from relayer.process import RELAYER_KEY
from relayer.process import LocalRelayer as Relayer
from support.relayer_http import job_view, wait_until

MODEL = "all-MiniLM-L6-v2"
DEAD = [1, 2, 3]


def _job(net: LocalNetwork, job_id: int) -> Job:
    async def go() -> Job:
        chain = await net.connect()
        try:
            return await chain.get_job(job_id)
        finally:
            await chain.close()

    return asyncio.run(go())


def _seats(net: LocalNetwork, job_id: int) -> list[Seat]:
    async def go() -> list[Seat]:
        chain = await net.connect()
        try:
            return await chain.get_seats(job_id)
        finally:
            await chain.close()

    return asyncio.run(go())


def _senders(net: LocalNetwork, job_id: int) -> dict[str, set[str]]:
    """Who sent the transaction of each step of the job (the seats' draws, the advance, the refund)."""

    async def go() -> dict[str, set[str]]:
        chain = await net.connect()
        try:
            out: dict[str, set[str]] = {}
            start = chain.deployment.deployment_block
            for event in ("SeatSettled", "JobAccepted", "JobRefunded", "JobReassigned"):
                for e in await chain.logs(chain.jobs, event, start, jobId=job_id):
                    tx = await chain.w3.eth.get_transaction(e["transactionHash"])
                    out.setdefault(event, set()).add(str(tx["from"]))
            return out
        finally:
            await chain.close()

    return asyncio.run(go())


def _chain_time(net: LocalNetwork) -> int:
    async def go() -> int:
        chain = await net.connect()
        try:
            return await chain.timestamp()
        finally:
            await chain.close()

    return asyncio.run(go())


async def _commit_reveal_and_die(net: LocalNetwork, job_id: int) -> bytes:
    """Each seated node commits, then reveals one shared vector, then sends nothing more."""
    vector = bytes((i * 37 + 11) % 251 for i in range(384))  # any non-zero int8 vector, the same for all
    chain = await net.connect()
    try:
        seated = {s.node for s in await chain.get_seats(job_id)}
    finally:
        await chain.close()
    keys = [k for k in DEVNET_KEYS[1:4] if Account.from_key(k).address in seated]
    salts = {k: bytes([i + 1]) * 32 for i, k in enumerate(keys)}
    for step in ("commit", "reveal"):
        for key in keys:
            node = await net.connect(key)
            try:
                if step == "commit":
                    digest = commitment_of(node.deployment.chain_id, node.jobs.address, job_id, node.address, vector,
                                           salts[key])
                    await node.transact(node.jobs.functions.commit(job_id, digest))
                else:
                    await node.transact(node.jobs.functions.reveal(job_id, vector, salts[key]))
            finally:
                await node.close()
    return vector


def test_the_relayer_ends_jobs_whose_whole_committee_is_dead(network: LocalNetwork, relayer: Relayer) -> None:
    """One request, two jobs, one dead committee (nodes 1 to 3, staked, never started): the first
    job nobody commits to, the second is committed and revealed before its nodes die."""
    asyncio.run(network.register_nodes(DEAD))
    dead = {Account.from_key(DEVNET_KEYS[i]).address for i in DEAD}
    auth = {"Authorization": "Bearer " + relayer.cli("keys", "create", "--name", "keeper", "--quota", "5")}
    relayer.env.update(INFERA_RELAYER_KEEPER_GRACE="0.5", INFERA_RELAYER_KEEPER_INTERVAL="0.3")  # waits 1.25-1.75 s
    relayer.start()
    texts = ["Nobody is alive to run this.", "Revealed, then nobody."]
    posted = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": texts}, headers=auth, timeout=10)
    assert posted.status_code == 202, posted.text
    request_id = posted.json()["request_id"]
    unserved, revealed = wait_until("submitted", relayer, lambda: (v := job_view(relayer, request_id, auth))["status"]
                                == "submitted" and [j["job_id"] for j in v["jobs"]])

    # Only the relayer can draw the committees: no node runs.
    wait_until("drawn", relayer, lambda: all(_job(network, j).status is JobStatus.COMMITTING for j in (unserved, revealed)))
    assert {s.node for s in _seats(network, unserved)} == dead
    vector = asyncio.run(_commit_reveal_and_die(network, revealed))
    job = _job(network, revealed)
    assert job.status is JobStatus.REVEALING and job.revealed == 3
    # Past the first job's commit deadline and the second's reveal deadline, and so past whatever
    # next look the keeper scheduled (a draw's recheck, or a deadline plus its grace).
    assert network.devnet is not None
    network.devnet.advance_time(job.reveal_deadline - _chain_time(network) + 5)

    done = wait_until("final", relayer, lambda: (v := job_view(relayer, request_id, auth))["status"] == "completed" and v)
    first, second = done["jobs"]
    # 1. Advanced past its commit deadline (the dead seats settled as missed commits), redrawn,
    #    and refunded by that redraw, which found no untried node: all of it the relayer's.
    assert first["status"] == "refunded" and _job(network, unserved).status is JobStatus.REFUNDED, done
    relayer_address = Account.from_key(RELAYER_KEY).address
    senders = _senders(network, unserved)
    assert senders["SeatSettled"] == {relayer_address} and senders["JobRefunded"] == {relayer_address}, senders
    # 2. Finalized by the relayer with the vectors it read from the chain: accepted.
    assert second["status"] == "accepted", done
    assert second["vector"] == [b - 256 if b > 127 else b for b in vector]
    assert set(second["agreeing"]) == dead
    assert _senders(network, revealed)["JobAccepted"] == {relayer_address}
    metrics = requests.get(f"{relayer.url}/metrics", timeout=10).text
    assert 'infera_relayer_keeper_jobs_total{action="advanced"} 1.0' in metrics
    assert 'infera_relayer_keeper_jobs_total{action="finalized"} 1.0' in metrics
    assert float(re.findall(r'infera_relayer_keeper_txs_total\{action="assign"\} (\S+)', metrics)[0]) >= 1
