"""The relayer's keeper ends a job whose whole committee is dead, with nobody else moving it.

1. Three nodes are registered and staked but no node process ever runs: nobody but the relayer
   can draw the committee, advance the job past its commit deadline or draw again. The relayer
   does all three after its outsider's grace (2.5x to 3.5x INFERA_RELAYER_KEEPER_GRACE), and the
   job, for which no untried node remains, is refunded; GET /v1/jobs/{id} reports it.
2. The committee commits and reveals (the test sends each node's own transactions, as a node
   process would, with no model to load) and dies before anyone finalizes: the relayer finalizes
   with the vectors it reads from the chain, and the job is accepted.
With the keeper switched off (INFERA_RELAYER_KEEPER_ENABLED=false) the job stays in its draw.

The commit deadline is reached by moving the devnet's clock forward, not by waiting it out."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import requests
from eth_account import Account

from infera.chain import commitment_of
from infera.devnet import DEVNET_KEYS
from infera.localnet import LocalNetwork
from infera.types import Job, JobStatus, Seat
from relayer.process import RELAYER_KEY
from relayer.process import LocalRelayer as Relayer

MODEL = "all-MiniLM-L6-v2"
DEAD = [1, 2, 3]


def _view(relayer: Relayer, request_id: str, auth: dict[str, str]) -> dict[str, Any]:
    view: dict[str, Any] = requests.get(f"{relayer.url}/v1/jobs/{request_id}", headers=auth, timeout=10).json()
    return view


def _until(what: str, relayer: Relayer, ready: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        assert time.monotonic() < deadline, f"never {what}\n{relayer.log()}"
        time.sleep(0.3)


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
            for event in ("SeatSettled", "JobRefunded", "JobReassigned"):
                for e in await chain.logs(chain.jobs, event, start, jobId=job_id):
                    tx = await chain.w3.eth.get_transaction(e["transactionHash"])
                    out.setdefault(event, set()).add(str(tx["from"]))
            return out
        finally:
            await chain.close()

    return asyncio.run(go())


def test_the_relayer_ends_a_job_whose_whole_committee_is_dead(network: LocalNetwork, relayer: Relayer) -> None:
    asyncio.run(network.register_nodes(DEAD))  # staked, never started
    dead = {Account.from_key(DEVNET_KEYS[i]).address for i in DEAD}
    auth = {"Authorization": "Bearer " + relayer.cli("keys", "create", "--name", "keeper", "--quota", "5")}
    relayer.env.update(INFERA_RELAYER_KEEPER_GRACE="0.5", INFERA_RELAYER_KEEPER_INTERVAL="0.3")  # waits 1.25-1.75 s
    relayer.start()

    posted = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": ["Nobody is alive to run this."]},
                           headers=auth, timeout=10)
    assert posted.status_code == 202, posted.text
    request_id = posted.json()["request_id"]
    job_id = _until("submitted", relayer, lambda: _view(relayer, request_id, auth)["jobs"][0]["job_id"])

    # Only the relayer can draw the committee: no node runs.
    job: Job = _until("drawn", relayer, lambda: (j := _job(network, job_id)).status is JobStatus.COMMITTING and j)
    assert network.devnet is not None
    network.devnet.advance_time(job.commit_deadline - _chain_time(network) + 1)

    assert {s.node for s in _seats(network, job_id)} == dead
    done = _until("final", relayer, lambda: (v := _view(relayer, request_id, auth))["status"] == "completed" and v)
    assert done["jobs"][0]["status"] == "refunded", done
    assert _job(network, job_id).status is JobStatus.REFUNDED
    relayer_address = Account.from_key(RELAYER_KEY).address
    senders = _senders(network, job_id)
    # The dead seats were settled (missed commit) by the relayer's advance, and the redraw that
    # found no untried node, which refunded the job, was the relayer's assign.
    assert senders["SeatSettled"] == {relayer_address} and senders["JobRefunded"] == {relayer_address}, senders
    metrics = requests.get(f"{relayer.url}/metrics", timeout=10).text
    assert 'infera_relayer_keeper_jobs_total{action="advanced"} 1.0' in metrics
    assert 'infera_relayer_keeper_txs_total{action="assign"} 2.0' in metrics, metrics


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


def test_the_relayer_finalizes_a_job_whose_committee_died_after_revealing(network: LocalNetwork,
                                                                          relayer: Relayer) -> None:
    asyncio.run(network.register_nodes(DEAD))
    auth = {"Authorization": "Bearer " + relayer.cli("keys", "create", "--name", "keeper", "--quota", "5")}
    relayer.env.update(INFERA_RELAYER_KEEPER_GRACE="0.5", INFERA_RELAYER_KEEPER_INTERVAL="0.3")
    relayer.start()
    posted = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": ["Revealed, then nobody."]},
                           headers=auth, timeout=10)
    request_id = posted.json()["request_id"]
    job_id = _until("submitted", relayer, lambda: _view(relayer, request_id, auth)["jobs"][0]["job_id"])
    _until("drawn", relayer, lambda: _job(network, job_id).status is JobStatus.COMMITTING)
    vector = asyncio.run(_commit_reveal_and_die(network, job_id))
    job = _job(network, job_id)
    assert job.status is JobStatus.REVEALING and job.revealed == 3
    # However the keeper last scheduled its next look (a draw's recheck, or the commit deadline
    # plus its grace, had it looked mid-commit), the clock is moved past it.
    assert network.devnet is not None
    network.devnet.advance_time(job.reveal_deadline - _chain_time(network) + 5)

    done = _until("final", relayer, lambda: (v := _view(relayer, request_id, auth))["status"] == "completed" and v)
    job = done["jobs"][0]
    assert job["status"] == "accepted", done
    assert job["vector"] == [b - 256 if b > 127 else b for b in vector]
    assert set(job["agreeing"]) == {Account.from_key(DEVNET_KEYS[i]).address for i in DEAD}
    assert _senders(network, job_id)["SeatSettled"] == {Account.from_key(RELAYER_KEY).address}
    metrics = requests.get(f"{relayer.url}/metrics", timeout=10).text
    assert 'infera_relayer_keeper_jobs_total{action="finalized"} 1.0' in metrics
