"""Gas per verified job, driven from Python on a fresh devnet per scenario (no node processes).

* three nodes (devnet accounts 1-3), one job per commit/reveal/finalize transaction ("single");
* the same with the batched calls ("batched"), when the deployed JobRegistry has them;
* batched (or single where batching is absent) with 10 and with 1000 registered nodes, and then
  ``LONE_DRAWS`` jobs drawn one per assign transaction: a lone draw reads every slot cold, so its
  gas is the whole cost of a committee draw, the figure that shows whether selection depends on
  how many nodes registered.

Each scenario submits its jobs in one submit, mines a block, draws every committee with assign,
then sends every node's commit, reveal and the finalize itself, with agreeing vectors. It does so
twice and counts the second round: a network in service has ended jobs whose seat slots new jobs
overwrite (JobRegistry's SeatPool) and nodes and emission epochs whose balances and points are
already non-zero, so the first round on a fresh chain pays for storage that service never writes
from zero again. The first round's figures are kept beside it (``first_round``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from benchmarks.chainops import gas_used, signer
from benchmarks.corpus import sentences
from benchmarks.fleet import fleet_accounts, register_fleet
from benchmarks.lifecycle import GasLedger, JobDriver, batched_available
from infera.chain import Chain
from infera.devnet import DEVNET_KEYS
from infera.operator import ONE
from infera_testing.localnet import LocalNetwork

log = structlog.get_logger("benchmarks.gas")

THREE_NODES = [1, 2, 3]
FUNDER_KEY = DEVNET_KEYS[8]  # holds 1,000,000 INFER from the deploy script's faucet
FLEET_STAKE = 500 * ONE
LONE_DRAWS = 16


@dataclass(frozen=True)
class GasResult:
    jobs: int
    mode: str  # "single" or "batched"
    ledger: GasLedger  # the measured (second) round
    nodes: int
    first_round: GasLedger  # the same jobs on the fresh deployment, before any job ended
    lone_draws: tuple[int, ...] = ()  # assign gas of jobs drawn one per transaction (fleets only)

    def lone_draw_mean(self) -> int | None:
        return round(sum(self.lone_draws) / len(self.lone_draws)) if self.lone_draws else None

    def per_job(self) -> dict[str, object]:
        return self.ledger.per_job(self.jobs)

    def total_per_job(self) -> int:
        return self.ledger.total_per_job(self.jobs)

    def transactions(self) -> dict[str, int]:
        return dict(self.ledger.txs)


def fresh_network(run_dir: Path, steps_tracing: bool = False) -> LocalNetwork:
    """A devnet with a fresh deployment; use it as a context manager. The devnet is stopped here
    when the deploy fails, since the caller's ``with`` never starts then."""
    net = LocalNetwork(run_dir)
    try:
        net.start_devnet(steps_tracing=steps_tracing)
        net.deploy()
    except BaseException:
        net.stop()
        raise
    return net


async def _run_round(requester: Chain, keys: dict[str, str], jobs: int, batched: bool) -> JobDriver:
    """Submit ``jobs`` jobs, draw, commit, reveal and finalize them all; every one must be accepted."""
    driver = JobDriver(requester, keys)
    model_id = next(iter(requester.deployment.models.values()))
    job_ids = await driver.submit(sentences(jobs), model_id)
    await driver.assign(job_ids)
    await (driver.settle_batched() if batched else driver.settle_single())
    await driver.check_accepted()
    return driver


async def measure(requester: Chain, keys: dict[str, str], jobs: int, batched: bool, nodes: int) -> GasResult:
    """Two rounds of ``jobs`` jobs on the same deployment; the second is the one measured."""
    first = await _run_round(requester, keys, jobs, batched)
    measured = await _run_round(requester, keys, jobs, batched)
    return GasResult(jobs, "batched" if batched else "single", measured.ledger, nodes, first.ledger)


async def lone_draws(requester: Chain, count: int) -> tuple[int, ...]:
    """Submit ``count`` jobs one at a time and draw each in an assign of its own; their assign gas."""
    driver = JobDriver(requester, {})
    model_id = next(iter(requester.deployment.models.values()))
    for text in sentences(count):
        await driver.assign(await driver.submit([text], model_id))
    return tuple(gas_used(receipt) for phase, receipt in driver.ledger.receipts if phase == "assign")


async def _three_nodes(net: LocalNetwork, jobs: int, batched: bool) -> GasResult | None:
    requester = await net.connect()
    try:
        if batched and not await batched_available(requester):
            return None
        await net.register_nodes(THREE_NODES, capacity=max(16, jobs))
        keys: dict[str, str] = {signer(requester, DEVNET_KEYS[i]).address: DEVNET_KEYS[i] for i in THREE_NODES}
        return await measure(requester, keys, jobs, batched, len(THREE_NODES))
    finally:
        await requester.close()


def three_node_gas(run_dir: Path, jobs: int, batched: bool) -> GasResult | None:
    """Gas per job with three nodes; None for batched when the deployment lacks the batched calls."""
    with fresh_network(run_dir) as net:
        result = asyncio.run(_three_nodes(net, jobs, batched))
    log.info("gas measured", scenario="three nodes", mode="batched" if batched else "single",
             per_job=result.total_per_job() if result else None)
    return result


async def _fleet(net: LocalNetwork, jobs: int, nodes: int) -> GasResult:
    requester = await net.connect()
    try:
        accounts = fleet_accounts(nodes)
        model_ids = list(requester.deployment.models.values())
        await register_fleet(signer(requester, FUNDER_KEY), accounts, FLEET_STAKE, max(16, jobs), model_ids)
        batched = await batched_available(requester)
        keys: dict[str, str] = {a.address: "0x" + bytes(a.key).hex() for a in accounts}
        result = await measure(requester, keys, jobs, batched, nodes)
        return replace(result, lone_draws=await lone_draws(requester, LONE_DRAWS))
    finally:
        await requester.close()


def fleet_gas(run_dir: Path, jobs: int, nodes: int) -> GasResult:
    """Gas per job with ``nodes`` registered nodes (batched when the deployment has it)."""
    with fresh_network(run_dir) as net:
        result = asyncio.run(_fleet(net, jobs, nodes))
    log.info("gas measured", scenario=f"{nodes} nodes", mode=result.mode, per_job=result.total_per_job(),
             lone_draw=result.lone_draw_mean())
    return result
