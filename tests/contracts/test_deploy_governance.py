"""The real deploy script leaves the deployer key powerless; governance goes through the timelock.

Threat covered: an admin key that can take stake or mint. `scripts/deploy.py` runs here exactly as
`ape run deploy` runs it (devnet branch), into a temporary deployments folder; the tests then read
the addresses from the record it wrote and try, as the deployer, every privileged function.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract_helpers import MIN_STAKE, STAKE_CAP, model_params, policy_tuple, reverts_with, time_travel
from infera.deployment import CONTRACTS

DEFAULT_ADMIN = b"\x00" * 32
ZERO = "0x" + "00" * 20
SALT = b"\x5a" * 32
NO_PREDECESSOR = b"\x00" * 32
READY_BITMAP = (1 << 2).to_bytes(32, "big")  # TimelockController.OperationState.Ready


def _load_deploy_script(root: Path) -> Any:
    spec = importlib.util.spec_from_file_location("infera_deploy_script", root / "scripts" / "deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deployed(project: Any, chain: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run scripts/deploy.py's main() and bind the contracts its record names."""
    snapshot = chain.provider.make_request("evm_snapshot", [])
    out_dir = tmp_path_factory.mktemp("deployments")
    script = _load_deploy_script(Path(project.path))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFERA_DEPLOYMENTS_DIR", str(out_dir))
        mp.delenv("INFERA_TREASURY", raising=False)
        script.main()
    record = json.loads((out_dir / "infera-devnet.json").read_text())
    c = record["contracts"]
    yield {
        "script": script,
        "record": record,
        "token": project.InferToken.at(c["InferToken"]),
        "models": project.ModelRegistry.at(c["ModelRegistry"]),
        "nodes": project.NodeRegistry.at(c["NodeRegistry"]),
        "jobs": project.JobRegistry.at(c["JobRegistry"]),
        "rewards": project.RewardsEmitter.at(c["RewardsEmitter"]),
        "timelock": project.InferaTimelock.at(c["InferaTimelock"]),
    }
    chain.provider.make_request("evm_revert", [snapshot])


def test_deployer_holds_no_privilege_after_deploy(deployed: dict[str, Any], deployer: Any, accounts: Any) -> None:
    d = deployed
    token, models, nodes, jobs, rewards, timelock = (
        d[k] for k in ("token", "models", "nodes", "jobs", "rewards", "timelock")
    )
    assert set(d["record"]["contracts"]) == {*CONTRACTS, "InferaTimelock"}
    assert d["record"]["deployer"] == deployer.address

    # Wiring happened, once: only JobRegistry settles and slashes nodes, only RewardsEmitter mints.
    assert nodes.jobManager() == jobs.address
    assert token.minter() == rewards.address
    # The faucet was paid from the genesis allocation; nothing else exists yet.
    assert token.totalSupply() == d["script"].FAUCET_ACCOUNTS * d["script"].FAUCET_AMOUNT
    assert token.balanceOf(deployer) == 0
    assert all(token.balanceOf(accounts[i]) == d["script"].FAUCET_AMOUNT for i in range(1, 10))

    # Every admin and parameter role: held by the timelock, not by the deployer.
    roles = [
        (token, [DEFAULT_ADMIN]),
        (models, [DEFAULT_ADMIN, models.MODEL_ADMIN_ROLE()]),
        (nodes, [DEFAULT_ADMIN, nodes.PARAMS_ROLE()]),
        (rewards, [DEFAULT_ADMIN]),
        (jobs, [DEFAULT_ADMIN, jobs.PARAMS_ROLE()]),
    ]
    for contract, contract_roles in roles:
        for role in contract_roles:
            assert contract.hasRole(role, timelock), (contract, role)
            assert not contract.hasRole(role, deployer), (contract, role)
            # The deployer can neither take a role back nor strip the timelock of one.
            with reverts_with(contract.AccessControlUnauthorizedAccount, account=deployer, neededRole=DEFAULT_ADMIN):
                contract.grantRole(role, deployer, sender=deployer)
            with reverts_with(contract.AccessControlUnauthorizedAccount, account=deployer, neededRole=DEFAULT_ADMIN):
                contract.revokeRole(role, timelock, sender=deployer)

    # Parameters.
    with reverts_with(jobs.AccessControlUnauthorizedAccount, account=deployer, neededRole=jobs.PARAMS_ROLE()):
        jobs.setPolicy(policy_tuple(deployer, slash_bps=10_000), sender=deployer)
    with reverts_with(nodes.AccessControlUnauthorizedAccount, account=deployer, neededRole=nodes.PARAMS_ROLE()):
        nodes.setParams(MIN_STAKE, 86_400, 9_000, STAKE_CAP, sender=deployer)
    model_admin = models.MODEL_ADMIN_ROLE()
    with reverts_with(models.AccessControlUnauthorizedAccount, account=deployer, neededRole=model_admin):
        models.registerModel(model_params(name="evil"), sender=deployer)
    with reverts_with(models.AccessControlUnauthorizedAccount, account=deployer, neededRole=model_admin):
        models.updateModel(1, model_params(digest=b"\x13" * 32), sender=deployer)
    with reverts_with(models.AccessControlUnauthorizedAccount, account=deployer, neededRole=model_admin):
        models.setActive(1, False, sender=deployer)

    # Re-wiring (would hand slashing, emission credit or minting to the deployer).
    with reverts_with(nodes.AccessControlUnauthorizedAccount, account=deployer, neededRole=DEFAULT_ADMIN):
        nodes.wireJobManager(deployer, sender=deployer)
    with reverts_with(rewards.AccessControlUnauthorizedAccount, account=deployer, neededRole=DEFAULT_ADMIN):
        rewards.wireCreditor(deployer, sender=deployer)
    with reverts_with(token.AccessControlUnauthorizedAccount, account=deployer, neededRole=DEFAULT_ADMIN):
        token.wireMinter(deployer, sender=deployer)

    # Taking stake and minting directly.
    with reverts_with(nodes.NodeRegistryNotJobManager, caller=deployer):
        nodes.settleSeat(accounts[1], 0, 10_000, sender=deployer)
    with reverts_with(token.InferTokenNotMinter, caller=deployer):
        token.mint(deployer, 1, sender=deployer)

    # The timelock administers itself; the deployer (its devnet proposer) has no shortcut.
    assert not timelock.hasRole(DEFAULT_ADMIN, deployer)
    assert timelock.hasRole(DEFAULT_ADMIN, timelock)
    with reverts_with(timelock.AccessControlUnauthorizedAccount, account=deployer, neededRole=DEFAULT_ADMIN):
        timelock.grantRole(DEFAULT_ADMIN, deployer, sender=deployer)
    with reverts_with(timelock.TimelockUnauthorizedCaller, caller=deployer):
        timelock.updateDelay(0, sender=deployer)


def test_timelock_proposal_executes_only_after_the_delay(deployed: dict[str, Any], deployer: Any, accounts: Any, chain: Any) -> None:
    d = deployed
    token, nodes, jobs, timelock = d["token"], d["nodes"], d["jobs"], d["timelock"]
    delay = timelock.getMinDelay()
    assert delay == d["script"].DEVNET_TIMELOCK_DELAY

    unbonding = nodes.unbondingPeriod()
    calls = [
        (nodes, nodes.setParams.encode_input(MIN_STAKE * 2, unbonding, 2_500, STAKE_CAP)),
        (jobs, jobs.setPolicy.encode_input(policy_tuple(deployer, slash_bps=2_000))),
    ]
    proposer_role = timelock.PROPOSER_ROLE()
    with reverts_with(timelock.AccessControlUnauthorizedAccount, account=accounts[5], neededRole=proposer_role):
        timelock.schedule(nodes, 0, calls[0][1], NO_PREDECESSOR, SALT, delay, sender=accounts[5])
    with reverts_with(timelock.TimelockInsufficientDelay, delay=delay - 1, minDelay=delay):
        timelock.schedule(nodes, 0, calls[0][1], NO_PREDECESSOR, SALT, delay - 1, sender=deployer)
    for target, data in calls:
        timelock.schedule(target, 0, data, NO_PREDECESSOR, SALT, delay, sender=deployer)

    # Too early: nothing changes.
    op = timelock.hashOperation(nodes, 0, calls[0][1], NO_PREDECESSOR, SALT)
    with reverts_with(timelock.TimelockUnexpectedOperationState, operationId=op, expectedStates=READY_BITMAP):
        timelock.execute(nodes, 0, calls[0][1], NO_PREDECESSOR, SALT, sender=deployer)
    assert nodes.minStake() == MIN_STAKE

    time_travel(chain, delay + 1)
    receipts = [timelock.execute(t, 0, data, NO_PREDECESSOR, SALT, sender=deployer) for t, data in calls]
    assert receipts[0].decode_logs(nodes.StakingParamsChanged)[0].minStake == MIN_STAKE * 2
    assert nodes.minStake() == MIN_STAKE * 2
    assert receipts[1].decode_logs(jobs.PolicyChanged)[0].policy[2] == 2_000  # slashBps
    assert jobs.policy().slashBps == 2_000

    # Even the timelock cannot mint or re-wire the minter: those powers do not exist.
    rewire = token.wireMinter.encode_input(deployer.address)
    mint = token.mint.encode_input(deployer.address, 1)
    for data in (rewire, mint):
        timelock.schedule(token, 0, data, NO_PREDECESSOR, SALT, delay, sender=deployer)
    time_travel(chain, delay + 1)
    with reverts_with(token.InferTokenMinterWired, minter=d["rewards"]):
        timelock.execute(token, 0, rewire, NO_PREDECESSOR, SALT, sender=deployer)
    with reverts_with(token.InferTokenNotMinter, caller=timelock):
        timelock.execute(token, 0, mint, NO_PREDECESSOR, SALT, sender=deployer)
    assert token.minter() == d["rewards"].address


def test_deploy_refuses_a_public_network_without_governors(deployed: dict[str, Any], deployer: Any) -> None:
    script = deployed["script"]
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("INFERA_GOVERNORS", raising=False)
        with pytest.raises(SystemExit, match="INFERA_GOVERNORS"):
            script.governors(False, deployer)
        mp.setenv("INFERA_GOVERNORS", "0x" + "ab" * 20 + ", not-an-address")
        with pytest.raises(SystemExit, match="not-an-address"):
            script.governors(False, deployer)
        mp.setenv("INFERA_GOVERNORS", " 0x" + "ab" * 20 + " ,0x" + "cd" * 20)
        proposers, delay = script.governors(False, deployer)
    assert [p.lower() for p in proposers] == ["0x" + "ab" * 20, "0x" + "cd" * 20]
    assert delay == 2 * 86_400
