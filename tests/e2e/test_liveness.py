"""Dead and withholding nodes never strand a job: real node processes, one node registered but never
started (misses the commit deadline) and one that commits and then withholds its reveal. The honest
node's reveal alone is no quorum, so the withholder is slashed and a whole fresh committee, staked
after the job was submitted, is drawn; the job is accepted and the first honest node is paid too.

Deadlines are reached by moving the devnet's clock forward instead of waiting out the windows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from eth_account import Account

from infera.chain import Chain
from infera.client import InferaClient
from infera.devnet import DEVNET_KEYS
from infera.types import Job, JobStatus
from infera_testing.localnet import LocalNetwork

WITHHELD, MISSED_COMMIT = 2, 3  # JobRegistry.SeatOutcome


async def _wait_job(chain: Chain, job_id: int, ready: Callable[[Job], bool], what: str, timeout: float = 120) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await chain.get_job(job_id)
        if ready(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} never {what}: {job}"
        await asyncio.sleep(0.3)


async def _warp_past(net: LocalNetwork, chain: Chain, timestamp: int) -> None:
    assert net.devnet is not None
    net.devnet.advance_time(max(0, timestamp - await chain.timestamp() + 1))


async def _dead_and_withholding_nodes(net: LocalNetwork) -> dict[str, object]:
    chain = await net.connect()
    client = InferaClient(chain)
    try:
        job_id = (await client.submit_texts(["A job must outlive the nodes first drawn for it."]))[0]
        # The committee is drawn by a running node's assign() once the next block exists.
        await _wait_job(chain, job_id, lambda j: j.status is not JobStatus.DRAWING, "drawn")
        first_round = [s.node for s in await chain.get_seats(job_id)]
        # Staked only now, so only a redraw can give them a seat.
        await net.register_nodes([4, 5, 6])
        for index in (4, 5, 6):
            net.start_node(index)
        net.wait_nodes_ready()
        stakes = {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}

        job = await _wait_job(chain, job_id, lambda j: j.committed == 2, "got two commits")
        await _warp_past(net, chain, job.commit_deadline)  # the live nodes advance it: node 3 is dropped
        job = await _wait_job(chain, job_id, lambda j: j.status is JobStatus.REVEALING and j.revealed == 1, "got a reveal")
        await _warp_past(net, chain, job.reveal_deadline)  # node 1 finalizes: no quorum, committee redrawn

        result = await client.wait_for_result(job_id, timeout=240)
        # An ended job keeps no seats on chain (their slots go to later jobs): who sat where is
        # in JobAssigned, how each seat ended in SeatSettled and JobAccepted.
        seats = [str(e["args"]["node"]) for e in sorted(
            await chain.logs(chain.jobs, "JobAssigned", chain.deployment.deployment_block, jobId=job_id),
            key=lambda e: int(e["args"]["seat"]))]
        settled = {
            (str(e["args"]["node"]), int(e["args"]["outcome"])): int(e["args"]["slashed"])
            for e in await chain.logs(chain.jobs, "SeatSettled", chain.deployment.deployment_block, jobId=job_id)
        }
        redraws = await chain.logs(chain.jobs, "JobReassigned", chain.deployment.deployment_block, jobId=job_id)
        after = {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
        return {"result": result, "first_round": first_round, "seats": seats, "settled": settled,
                "redraws": redraws, "stakes": stakes, "after": after, "final": await chain.get_job(job_id)}
    finally:
        await chain.close()


def test_dead_and_withholding_nodes_never_strand_a_job(network: LocalNetwork) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    honest = network.start_node(1)
    withholder = network.start_node(2, fault="withhold-reveal")
    dead = Account.from_key(DEVNET_KEYS[3]).address  # registered, never started
    network.wait_nodes_ready()

    out = asyncio.run(_dead_and_withholding_nodes(network))
    result, seats, settled = out["result"], out["seats"], out["settled"]
    assert set(out["first_round"]) == {honest.address, withholder.address, dead}
    assert result.status is JobStatus.ACCEPTED, result
    fresh = {n.address for n in network.nodes if n.index in (4, 5, 6)}
    assert set(result.agreeing) == {honest.address} | fresh
    assert seats[:3] == out["first_round"] and set(seats[3:]) == fresh and len(seats) == 6
    # The first round: the honest node's reveal was judged with the fresh committee's (agreeing,
    # above); the dead node missed its commit and the withholder its reveal (settled, below).
    assert {n for (n, _) in settled} == {dead, withholder.address}
    assert len(out["redraws"]) == 1 and out["final"].round == 1 and out["final"].vote_from == 3
    assert "committee redrawn" in honest.log_text()  # only node 1 could finalize round 0
    # The dead node loses reputation only; the withholder also loses stake; nobody else is slashed.
    assert settled[(dead, MISSED_COMMIT)] == 0
    assert settled[(withholder.address, WITHHELD)] > 0
    assert out["stakes"][withholder.address] - out["after"][withholder.address] == settled[(withholder.address, WITHHELD)]
    for node in {honest.address} | fresh:
        assert out["after"][node] == out["stakes"][node], f"honest node {node} lost stake"



async def _whole_committee_dead(net: LocalNetwork) -> tuple[list[str], object, Job]:
    chain = await net.connect()
    client = InferaClient(chain)
    try:
        job_id = (await client.submit_texts(["Nobody drawn for this job is alive."]))[0]
        while (await chain.get_job(job_id)).status is JobStatus.DRAWING:
            await chain.assign_due()  # no node runs yet: the requester draws the committee itself
            await asyncio.sleep(0.3)
        first_round = [s.node for s in await chain.get_seats(job_id)]
        await net.register_nodes([4, 5, 6])
        for index in (4, 5, 6):
            net.start_node(index)
        net.wait_nodes_ready()
        await _warp_past(net, chain, (await chain.get_job(job_id)).commit_deadline)
        result = await client.wait_for_result(job_id, timeout=240)
        return first_round, result, await chain.get_job(job_id)
    finally:
        await chain.close()


def test_a_job_whose_whole_committee_died_is_still_moved_on(network: LocalNetwork) -> None:
    """Nodes 1 to 3 are drawn and never run; nodes 4 to 6, staked later, are on no seat of the job,
    yet one of them advances it past its commit deadline (keeper duty), which redraws it to them."""
    asyncio.run(network.register_nodes([1, 2, 3]))
    dead = {Account.from_key(DEVNET_KEYS[i]).address for i in (1, 2, 3)}
    first_round, result, final = asyncio.run(_whole_committee_dead(network))
    assert set(first_round) == dead
    fresh = {n.address for n in network.nodes}
    assert result.status is JobStatus.ACCEPTED, result  # type: ignore[attr-defined]
    assert set(result.agreeing) == fresh  # type: ignore[attr-defined]
    assert final.round == 1
    assert any('"keeper moved stuck jobs on"' in n.log_text() for n in network.nodes)
