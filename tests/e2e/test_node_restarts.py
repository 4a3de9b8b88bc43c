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

from infera.localnet import LocalNetwork, NodeProcess
from infera.types import JobStatus
from support.network import results, stakes, submit

TEXTS = ["A node must survive kill -9 at any moment.", "Its salt is on disk before its commit is sent.",
         "Nonces and attempts are in SQLite too."]
DOWN_S = 5.0


def _wait_killed(node: NodeProcess, timeout: float = 180.0) -> int:
    deadline = time.monotonic() + timeout
    while node.process.poll() is None:
        assert time.monotonic() < deadline, f"node {node.index} never reached its crash point:\n{node.log_text()[-3000:]}"
        time.sleep(0.2)
    return node.process.returncode


@pytest.mark.parametrize("point", ["after-seal", "after-commit", "after-reveal"])
def test_a_node_killed_at_any_phase_resumes_its_jobs_after_a_restart(network: LocalNetwork, point: str) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    network.start_node(1)
    network.start_node(2)
    victim = network.start_node(3, crash_at=point)
    network.wait_nodes_ready()
    stakes_before = stakes(network)

    job_ids = submit(network, TEXTS)
    assert _wait_killed(victim) == -9, victim.log_text()[-3000:]
    time.sleep(DOWN_S)
    network.nodes.remove(victim)
    restarted = network.start_node(3)  # same key, same state_dir, no drill
    network.wait_nodes_ready()
    later = submit(network, ["Submitted after the restart."])

    done = results(network, job_ids + later)
    assert [r.status for r in done] == [JobStatus.ACCEPTED] * 4
    for result in done:
        assert restarted.address in result.agreeing, f"job {result.job_id}: the restarted node was left out"
    assert stakes(network) == stakes_before, "an honest node lost stake"
    assert '"resuming transactions"' in restarted.own_log_text() or point == "after-seal"
