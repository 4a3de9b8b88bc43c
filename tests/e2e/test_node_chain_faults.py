"""The chain misbehaves under real node processes: a reorg of the blocks holding an assignment and
a commit, a commit dropped from the pool, and a commit priced out by a jump of the base fee, one
after another on the same three nodes.

Mining is driven by hand (automine off) so that each fault hits exactly the transactions it is
meant to; afterwards mining resumes and every job must end accepted with no node slashed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infera.devnet import rpc_call
from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork
from support.network import results, stakes, submit

TEXT = "Reorgs, dropped and stuck transactions must not cost an honest node anything."


def _rpc(net: LocalNetwork, method: str, *params: object) -> Any:
    return rpc_call(net.rpc_url, method, list(params))


def _pause_mining(net: LocalNetwork) -> None:
    _rpc(net, "evm_setAutomine", False)
    _rpc(net, "evm_setIntervalMining", 0)


def _resume_mining(net: LocalNetwork) -> None:
    _rpc(net, "evm_setAutomine", True)
    _rpc(net, "evm_setIntervalMining", 1)


def _pool(net: LocalNetwork) -> list[dict[str, Any]]:
    content = _rpc(net, "txpool_content")
    return [tx for by_nonce in content["pending"].values() for tx in by_nonce.values()]


def _selector(net: LocalNetwork, name: str) -> str:
    assert net.deployment is not None
    from web3 import Web3

    from infera.abi import load_abi

    abi = next(f for f in load_abi("JobRegistry") if f.get("name") == name and f["type"] == "function")
    signature = f"{name}({','.join(i['type'] for i in abi['inputs'])})"
    return "0x" + Web3.keccak(text=signature)[:4].hex()


def _wait_pool(net: LocalNetwork, selector: str, count: int = 1, timeout: float = 90.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [tx for tx in _pool(net) if str(tx["input"]).startswith(selector)]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"no {selector} transaction reached the pool: {_pool(net)}"
        time.sleep(0.1)


def _submit_while_paused(net: LocalNetwork) -> int:
    """Submit with mining paused: the requester waits for its receipt while the test mines."""
    out: dict[str, int] = {}
    thread = threading.Thread(target=lambda: out.update(job=submit(net, [TEXT])[0]))
    thread.start()
    deadline = time.monotonic() + 60
    while thread.is_alive():
        _rpc(net, "evm_mine")
        time.sleep(0.3)
        assert time.monotonic() < deadline, "submit never mined"
    return out["job"]


@pytest.fixture(scope="module")
def net3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """One devnet with three running nodes for every fault here: each test leaves mining as it
    found it, and the nodes must ride out the faults one after another anyway."""
    with LocalNetwork(tmp_path_factory.mktemp("chain-faults") / "net") as net:
        net.start_devnet()
        net.deploy()
        asyncio.run(net.register_nodes([1, 2, 3]))
        for i in (1, 2, 3):
            net.start_node(i)
        net.wait_nodes_ready()
        yield net


@dataclass
class Before:
    """What held before the fault: stakes, a job accepted, and where each node's log stood."""

    staked: dict[str, int]
    job_id: int
    log_marks: dict[int, int]


def _before_the_fault(net: LocalNetwork) -> Before:
    job_id = submit(net, ["Submitted before the fault."])[0]
    assert results(net, [job_id])[0].status is JobStatus.ACCEPTED
    return Before(stakes(net), job_id, {n.index: len(n.log_text()) for n in net.nodes})


def _accepted_without_slashing(net: LocalNetwork, before: Before, during: int, log_line: str) -> None:
    """The jobs before and during the fault, and one submitted after it, end accepted by all three nodes."""
    for result in results(net, [before.job_id, during, *submit(net, ["Submitted after the fault."])]):
        assert result.status is JobStatus.ACCEPTED, result.job_id
        assert len(result.agreeing) == 3, f"job {result.job_id}: a node was left out: {result.agreeing}"
    assert stakes(net) == before.staked, "an honest node lost stake"
    logged = [n.log_text()[before.log_marks[n.index]:] for n in net.nodes]
    assert any(log_line in text for text in logged), f"no node logged {log_line} during this fault"


async def _job_status(net: LocalNetwork, job_id: int) -> JobStatus:
    chain = await net.connect()
    try:
        return (await chain.get_job(job_id)).status
    finally:
        await chain.close()


def _mine_until_drawn(net: LocalNetwork, job_id: int, timeout: float = 60.0) -> None:
    """Mine one block at a time until the job's committee is drawn, so the draw's block is the head."""
    deadline = time.monotonic() + timeout
    while asyncio.run(_job_status(net, job_id)) is JobStatus.DRAWING:
        assert time.monotonic() < deadline, "the committee was never drawn"
        _rpc(net, "evm_mine")
        time.sleep(0.3)


def _with_commits_caught(net: LocalNetwork, fault: Callable[[list[dict[str, Any]]], None]) -> int:
    """Pause mining, submit, mine until the draw, let all three commits reach the pool, apply `fault`."""
    _pause_mining(net)
    job_id = _submit_while_paused(net)
    _mine_until_drawn(net, job_id)
    fault(_wait_pool(net, _selector(net, "commitBatch"), count=3))
    return job_id


def test_a_reorg_of_the_assignment_and_commit_blocks_is_ridden_out(net3: LocalNetwork) -> None:
    network = net3
    before = _before_the_fault(network)

    def reorg(commits: list[dict[str, Any]]) -> None:
        _rpc(network, "evm_mine")  # the commits are mined: three blocks hold the draw and the commits
        receipts = [_rpc(network, "eth_getTransactionReceipt", tx["hash"]) for tx in commits]
        assert all(r is not None and int(r["status"], 16) == 1 for r in receipts)
        _rpc(network, "anvil_reorg", 3, [])

    job_id = _with_commits_caught(network, reorg)
    _resume_mining(network)
    _accepted_without_slashing(network, before, job_id, '"transaction reorged out; re-sending"')


def test_a_dropped_commit_is_sent_again(net3: LocalNetwork) -> None:
    network = net3
    before = _before_the_fault(network)

    def drop(commits: list[dict[str, Any]]) -> None:
        _rpc(network, "anvil_dropTransaction", commits[0]["hash"])

    job_id = _with_commits_caught(network, drop)
    _resume_mining(network)
    _accepted_without_slashing(network, before, job_id, '"transaction not in the pool; re-sending"')


def test_commits_priced_out_by_a_base_fee_jump_are_replaced(net3: LocalNetwork) -> None:
    network = net3
    before = _before_the_fault(network)

    def price_out(commits: list[dict[str, Any]]) -> None:
        highest = max(int(tx["maxFeePerGas"], 16) for tx in commits)
        _rpc(network, "anvil_setNextBlockBaseFeePerGas", hex(highest * 20))
        _rpc(network, "evm_mine")
        for tx in commits:
            assert _rpc(network, "eth_getTransactionReceipt", tx["hash"]) is None, "a commit got in at the old fee"

    job_id = _with_commits_caught(network, price_out)
    _resume_mining(network)
    _accepted_without_slashing(network, before, job_id, '"transaction replaced"')
