"""`kill -9` at each phase, then a restart: the node resumes every job it held and is not slashed.

Before the transaction manager and the persisted scan cursor, a node killed and restarted 15 s
later (windows 120 s) never resumed some of its jobs and was slashed for them. Here node 3 kills
itself with SIGKILL at an exact point (the `crash_at` drill): right after it sealed its vector
and salt but before the commit went out, right after it sent the commit, and right after it sent
the reveal. It is restarted a few seconds later; every job must end accepted with node 3 among
the agreeing nodes, and no node may lose stake."""

from __future__ import annotations

import asyncio
import time

import pytest

from infera.client import InferaClient
from infera.localnet import LocalNetwork, NodeProcess
from infera.types import JobStatus

TEXTS = ["A node must survive kill -9 at any moment.", "Its salt is on disk before its commit is sent.",
         "Nonces and attempts are in SQLite too."]
DOWN_S = 5.0


def _wait_killed(node: NodeProcess, timeout: float = 180.0) -> int:
    deadline = time.monotonic() + timeout
    while node.process.poll() is None:
        assert time.monotonic() < deadline, f"node {node.index} never reached its crash point:\n{node.log_text()[-3000:]}"
        time.sleep(0.2)
    return node.process.returncode


async def _submit(net: LocalNetwork, texts: list[str]) -> list[int]:
    chain = await net.connect()
    try:
        return await InferaClient(chain).submit_texts(texts)
    finally:
        await chain.close()


async def _outcome(net: LocalNetwork, job_ids: list[int]) -> tuple[list[JobStatus], list[tuple[str, ...]], dict[str, int]]:
    chain = await net.connect()
    try:
        client = InferaClient(chain)
        results = [await client.wait_for_result(j, timeout=240) for j in job_ids]
        stakes = {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
        return [r.status for r in results], [tuple(r.agreeing) for r in results], stakes
    finally:
        await chain.close()


async def _stakes(net: LocalNetwork) -> dict[str, int]:
    chain = await net.connect()
    try:
        return {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
    finally:
        await chain.close()


@pytest.mark.parametrize("point", ["after-seal", "after-commit", "after-reveal"])
def test_a_node_killed_at_any_phase_resumes_its_jobs_after_a_restart(network: LocalNetwork, point: str) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    network.start_node(1)
    network.start_node(2)
    victim = network.start_node(3, crash_at=point)
    network.wait_nodes_ready()
    stakes_before = asyncio.run(_stakes(network))

    job_ids = asyncio.run(_submit(network, TEXTS))
    assert _wait_killed(victim) == -9, victim.log_text()[-3000:]
    time.sleep(DOWN_S)
    network.nodes.remove(victim)
    restarted = network.start_node(3)  # same key, same state_dir, no drill
    network.wait_nodes_ready()
    later = asyncio.run(_submit(network, ["Submitted after the restart."]))

    statuses, agreeing, stakes_after = asyncio.run(_outcome(network, job_ids + later))
    assert statuses == [JobStatus.ACCEPTED] * 4
    for job_id, members in zip(job_ids + later, agreeing, strict=True):
        assert restarted.address in members, f"job {job_id}: the restarted node was left out of {members}"
    assert stakes_after == stakes_before, "an honest node lost stake"
    assert '"resuming transactions"' in restarted.own_log_text() or point == "after-seal"
