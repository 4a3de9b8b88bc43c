"""Three real node processes, one of them lying: the job is accepted by the honest two and the
liar is slashed and unpaid. Then a node that crashes between commit and reveal still reveals
after a restart, from the vector and salt it persisted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infera.chain import Chain
from infera.client import InferaClient
from infera.devnet import DEVNET_KEYS
from infera.operator import claim_rewards
from infera.types import JobStatus, SeatOutcome
from infera_testing.localnet import LocalNetwork

TEXTS = ["Verifiable inference on an OP-stack L3.", "Le chat dort sur le canapé du salon.", "print('hello') if ready else wait()"]


async def _jobs_with_cheat(net: LocalNetwork) -> dict[str, Any]:
    chain = await net.connect()
    client = InferaClient(chain)
    try:
        liar = net.nodes[2].address
        stake_before = {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
        job_ids = await client.submit_texts(TEXTS)
        results = [await client.wait_for_result(j, timeout=240) for j in job_ids]
        details = [await client.verification(j) for j in job_ids]
        paid = await chain.logs(chain.jobs, "JobAccepted", chain.deployment.deployment_block)
        sent: dict[str, dict[str, set[str]]] = {"Committed": {}, "Revealed": {}}
        for event, by_node in sent.items():
            for e in await chain.logs(chain.jobs, event, chain.deployment.deployment_block):
                by_node.setdefault(str(e["args"]["node"]), set()).add(bytes(e["transactionHash"]).hex())
        stake_after = {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
        outcomes = {n.address: await chain.seat_outcomes(job_ids, n.address) for n in net.nodes}
        await _raw_decoding_matches_web3(chain)
        # Close the emission epoch, then every node pulls its share: only honest work earned any.
        assert net.devnet is not None
        net.devnet.advance_time(3_600)
        emission = {}
        for node in net.nodes:
            node_chain = await net.connect(DEVNET_KEYS[node.index])
            try:
                emission[node.address] = await claim_rewards(node_chain)
            finally:
                await node_chain.close()
        return {"liar": liar, "results": results, "details": details, "paid": paid, "sent": sent,
                "stake_before": stake_before, "stake_after": stake_after, "emission": emission,
                "outcomes": outcomes}
    finally:
        await chain.close()


async def _raw_decoding_matches_web3(chain: Chain) -> None:
    """The node's hot paths decode these events from raw logs with eth_abi (Chain.decode_log):
    on a run with a slashed liar, every one must read exactly as web3's own event decoding."""
    for name in ("JobAssigned", "Revealed", "SeatSettled", "JobAccepted"):
        event = getattr(chain.jobs.events, name)()
        raw = await chain.w3.eth.get_logs({"address": chain.jobs.address, "topics": [event.topic],
                                           "fromBlock": chain.deployment.deployment_block})
        assert raw, name
        assert [chain.decode_log(name, e) for e in raw] == [dict(event.process_log(e)["args"]) for e in raw], name


@pytest.mark.parametrize("fault", ["random-vector", "cheaper-model", "truncate-input"])
def test_cheating_node_is_outvoted_slashed_and_unpaid(network: LocalNetwork, fault: str) -> None:
    """One node answers wrongly (random output, MiniLM cut to 3 of 6 layers, or half the input)."""
    asyncio.run(network.register_nodes([1, 2, 3]))
    network.start_node(1)
    network.start_node(2)
    network.start_node(3, fault=fault)
    network.wait_nodes_ready()
    out = asyncio.run(_jobs_with_cheat(network))
    liar = out["liar"]
    honest = {n.address for n in network.nodes} - {liar}
    for result, detail in zip(out["results"], out["details"], strict=True):
        assert result.status is JobStatus.ACCEPTED, result
        assert set(result.agreeing) == honest
        assert detail.min_agreeing_cosine >= detail.threshold
        assert detail.pairwise[(liar, next(iter(honest)))] < detail.threshold
    paid_nodes = {str(n) for e in out["paid"] if e["args"]["feeEach"] > 0 for n in e["args"]["agreeing"]}
    assert paid_nodes == honest
    # What each node's metrics read: agreed (from JobAccepted, agreed seats have no SeatSettled)
    # for the honest, disagreed and slashed for the liar, on every job.
    for node in honest:
        assert set(out["outcomes"][node].values()) == {(SeatOutcome.AGREED, 0)}, out["outcomes"][node]
    assert {o for o, _ in out["outcomes"][liar].values()} == {SeatOutcome.DISAGREED}
    assert all(slashed > 0 for _, slashed in out["outcomes"][liar].values())
    slashed = out["stake_before"][liar] - out["stake_after"][liar]
    assert slashed > 0
    for node in honest:
        assert out["stake_after"][node] == out["stake_before"][node]
        assert out["emission"][node] > 0
    assert out["emission"][liar] == 0
    # The three jobs were drawn together, so each node committed them in one batched transaction,
    # and each honest node revealed them in one.
    assert all(len(txs) == 1 for txs in out["sent"]["Committed"].values()), out["sent"]["Committed"]
    assert all(len(out["sent"]["Revealed"][node]) == 1 for node in honest), out["sent"]["Revealed"]
    # Each node says it is alive and what it holds (every 5 s on the local network).
    assert all('"heartbeat"' in node.log_text() for node in network.nodes)


async def _one_job(net: LocalNetwork, text: str) -> int:
    chain = await net.connect()
    try:
        return (await InferaClient(chain).submit_texts([text]))[0]
    finally:
        await chain.close()


async def _status(net: LocalNetwork, job_id: int) -> JobStatus:
    chain = await net.connect()
    try:
        return (await chain.get_job(job_id)).status
    finally:
        await chain.close()


async def _wait_agreeing(net: LocalNetwork, job_id: int, timeout: float) -> tuple[str, ...]:
    chain = await net.connect()
    try:
        result = await InferaClient(chain).wait_for_result(job_id, timeout=timeout)
        assert result.status is JobStatus.ACCEPTED, result
        slashed = await chain.logs(chain.nodes, "NodeSlashed", chain.deployment.deployment_block)
        assert slashed == [], "an honest node was slashed"
        return result.agreeing
    finally:
        await chain.close()


def test_node_restarted_between_commit_and_reveal_still_reveals(network: LocalNetwork) -> None:
    import time

    asyncio.run(network.register_nodes([1, 2, 3]))
    network.start_node(1)
    network.start_node(2)
    flaky = network.start_node(3, fault="withhold-reveal")  # commits, then "crashes" before revealing
    network.wait_nodes_ready()
    job_id = asyncio.run(_one_job(network, "a node restarts mid-job"))
    deadline = time.monotonic() + 120
    while '"committed"' not in flaky.log_text() or asyncio.run(_status(network, job_id)) is not JobStatus.REVEALING:
        assert time.monotonic() < deadline, flaky.log_text()[-2000:]
        time.sleep(0.3)
    network.stop_node(flaky)
    restarted = network.start_node(3)  # same key and state folder, honest now
    # All three agree: the restarted node revealed its persisted vector within the reveal window.
    assert len(asyncio.run(_wait_agreeing(network, job_id, timeout=180))) == 3
    assert '"revealed"' in restarted.log_text()
