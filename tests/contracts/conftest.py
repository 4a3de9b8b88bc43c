"""Contract fixtures: one deployment per session on the devnet, a snapshot per test.

Ape's own per-test isolation does not work against anvil through the `node` provider, so each
test runs between evm_snapshot and evm_revert (run with --disable-isolation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from contract_helpers import (
    DECAY_BPS,
    EMISSION_PER_FEE_BPS,
    EPOCH,
    FEE,
    INITIAL_EMISSION,
    MAX_JOB_LIFETIME,
    MIN_STAKE,
    ONE,
    SALT,
    STAKE_CAP,
    UNBONDING,
    assign_all,
    commit_for,
    model_params,
    policy_tuple,
    seat_nodes,
)


@pytest.fixture(autouse=True)
def _isolate(chain: Any) -> Iterator[None]:
    snapshot = chain.provider.make_request("evm_snapshot", [])
    yield
    chain.provider.make_request("evm_revert", [snapshot])


@pytest.fixture(scope="session")
def deployer(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="session")
def treasury(accounts: Any) -> Any:
    return accounts[8]


@pytest.fixture(scope="session")
def requester(accounts: Any) -> Any:
    return accounts[9]


@pytest.fixture(scope="session")
def node_accounts(accounts: Any) -> list[Any]:
    return [accounts[i] for i in range(1, 8)]


@pytest.fixture(scope="session")
def token(project: Any, deployer: Any, accounts: Any) -> Any:
    # The test accounts are funded from the genesis allocation: nobody but the emission contract mints.
    t = deployer.deploy(project.InferToken, 1_000_000_000 * ONE, deployer, deployer, 9 * 1_000_000 * ONE)
    for i in range(1, 10):
        t.transfer(accounts[i], 1_000_000 * ONE, sender=deployer)
    return t


@pytest.fixture(scope="session")
def models(project: Any, deployer: Any) -> Any:
    m = deployer.deploy(project.ModelRegistry, deployer, MAX_JOB_LIFETIME)
    m.registerModel(model_params(), sender=deployer)
    return m


@pytest.fixture(scope="session")
def nodes(project: Any, deployer: Any, token: Any, models: Any) -> Any:
    return deployer.deploy(project.NodeRegistry, token, models, deployer, MIN_STAKE, UNBONDING, STAKE_CAP)


@pytest.fixture(scope="session")
def rewards(project: Any, deployer: Any, token: Any, chain: Any) -> Any:
    r = deployer.deploy(project.RewardsEmitter, token, deployer, chain.pending_timestamp, EPOCH, INITIAL_EMISSION, DECAY_BPS,
                        EMISSION_PER_FEE_BPS)
    token.wireMinter(r, sender=deployer)
    return r


@pytest.fixture(scope="session")
def forwarder(project: Any, deployer: Any) -> Any:
    return deployer.deploy(project.InferaForwarder)


@pytest.fixture(scope="session")
def jobs(project: Any, deployer: Any, token: Any, models: Any, nodes: Any, rewards: Any, treasury: Any,
         forwarder: Any) -> Any:
    j = deployer.deploy(project.JobRegistry, token, models, nodes, rewards, deployer, policy_tuple(treasury), forwarder)
    nodes.wireJobManager(j, sender=deployer)
    rewards.wireCreditor(j, sender=deployer)
    return j


@pytest.fixture(scope="session")
def cosine_harness(project: Any, deployer: Any) -> Any:
    return deployer.deploy(project.CosineHarness)


@pytest.fixture
def register(token: Any, nodes: Any) -> Callable[..., None]:
    def _register(account: Any, stake: int = 1_000 * ONE, capacity: int = 16, model_ids: list[int] | None = None) -> None:
        token.approve(nodes, stake, sender=account)
        nodes.register(stake, model_ids or [1], capacity, sender=account)

    return _register


@pytest.fixture
def three_nodes(register: Callable[..., None], node_accounts: list[Any]) -> list[Any]:
    for account in node_accounts[:3]:
        register(account)
    return node_accounts[:3]


@pytest.fixture
def draw(jobs: Any, deployer: Any) -> Callable[[], Any]:
    """Draw every queued committee (anyone may; the deployer plays the keeper here)."""

    def _draw() -> Any:
        return assign_all(jobs, deployer)

    return _draw


@pytest.fixture
def submit(token: Any, jobs: Any, requester: Any, draw: Callable[[], Any]) -> Callable[..., Any]:
    """Submit jobs for model 1 and, unless `assign=False`, draw their committees in the next
    block (anvil mines one block per transaction). Returns the submit receipt."""

    def _submit(inputs: list[str] | None = None, sender: Any = None, callback: bool = False, max_fee: int = FEE,
                assign: bool = True) -> Any:
        sender = sender or requester
        inputs = inputs or ["hello world"]
        token.approve(jobs, FEE * len(inputs), sender=sender)
        tx = jobs.submit(1, inputs, max_fee, callback, sender=sender)
        if assign:
            draw()
        return tx

    return _submit


@pytest.fixture
def run_job(chain: Any, jobs: Any, accounts: Any) -> Callable[..., Any]:
    """Commit and reveal the given vectors (by seat order) for a job; returns the seats' accounts."""

    def _run(job_id: int, vectors: list[bytes | None], reveal: list[bool] | None = None) -> list[Any]:
        by_address = {a.address: a for a in accounts}
        seats = [by_address[n] for n in seat_nodes(jobs, job_id)]
        for account, vector in zip(seats, vectors, strict=False):
            if vector is not None:
                jobs.commit(job_id, commit_for(chain, jobs, job_id, account, vector), sender=account)
        for i, (account, vector) in enumerate(zip(seats, vectors, strict=False)):
            if vector is not None and (reveal is None or reveal[i]):
                jobs.reveal(job_id, vector, SALT, sender=account)
        return seats

    return _run
