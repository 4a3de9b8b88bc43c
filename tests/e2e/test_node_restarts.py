"""`kill -9` at each phase, then a restart: the node resumes every job it held and is not slashed.

Before the transaction manager and the persisted scan cursor, a node killed and restarted 15 s
later (windows 120 s) never resumed some of its jobs and was slashed for them. Here each node
kills itself with SIGKILL at an exact point (the `crash_at` drill): node 1 right after it sealed
its vector and salt but before the commit went out, node 2 right after it sent the commit, node 3
right after it sent the reveal. Each is restarted a few seconds after it died; every job must end
accepted by all three, and no node may lose stake."""

from __future__ import annotations

import asyncio
import time

from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork, NodeProcess
from support.network import results, stakes, submit

TEXTS = ["A node must survive kill -9 at any moment.", "Its salt is on disk before its commit is sent.",
         "Nonces and attempts are in SQLite too."]
DOWN_S = 5.0
# Each node dies at its own point: node 1 after sealing (its commit never went out), node 2 right
# after sending its commit, node 3 right after sending its reveal.
CRASH_POINTS = {1: "after-seal", 2: "after-commit", 3: "after-reveal"}


def test_nodes_killed_at_each_phase_resume_their_jobs_after_a_restart(network: LocalNetwork) -> None:
    asyncio.run(network.register_nodes(list(CRASH_POINTS)))
    victims = {i: network.start_node(i, crash_at=point) for i, point in CRASH_POINTS.items()}
    network.wait_nodes_ready()
    stakes_before = stakes(network)

    job_ids = submit(network, TEXTS)
    restarted = _restart_each_when_killed(network, victims)
    everyone = {n.address for n in restarted.values()}
    # Final before anything new is submitted: a restarted node must resume on its own, not only
    # when a fresh assignment happens to wake it (the landed node sent sealed commits only then).
    for result in results(network, job_ids):
        assert result.status is JobStatus.ACCEPTED, result.job_id
        assert set(result.agreeing) == everyone, f"job {result.job_id}: a node was left out"
    network.wait_nodes_ready()
    later = results(network, submit(network, ["Submitted after the restarts."]))
    assert [r.status for r in later] == [JobStatus.ACCEPTED] and set(later[0].agreeing) == everyone
    assert stakes(network) == stakes_before, "an honest node lost stake"
    for i in (2, 3):  # killed with a transaction just sent: picked up from the store
        assert '"resuming transactions"' in restarted[i].own_log_text()


def _restart_each_when_killed(net: LocalNetwork, victims: dict[int, NodeProcess], timeout: float = 240.0
                              ) -> dict[int, NodeProcess]:
    """Restart each node DOWN_S after it killed itself (same key and state_dir, no drill)."""
    restarted: dict[int, NodeProcess] = {}
    deadline = time.monotonic() + timeout
    while len(restarted) < len(victims):
        for i, victim in victims.items():
            if i in restarted or victim.process.poll() is None:
                continue
            assert victim.process.returncode == -9, victim.log_text()[-3000:]
            time.sleep(DOWN_S)
            net.nodes.remove(victim)
            restarted[i] = net.start_node(i)
        assert time.monotonic() < deadline, f"not every node reached its crash point: {sorted(restarted)} restarted"
        time.sleep(0.2)
    return restarted
