"""Governance: every parameter role can sit behind a timelock, and every change is announced."""

from __future__ import annotations

from typing import Any

import ape

from contract_helpers import MIN_STAKE, STAKE_CAP, UNBONDING, model_params, policy_tuple, time_travel

DELAY = 3_600
ZERO = "0x" + "00" * 20


def test_parameter_roles_behind_a_timelock(project: Any, deployer: Any, chain: Any, jobs: Any, nodes: Any, models: Any, treasury: Any) -> None:
    timelock = deployer.deploy(project.InferaTimelock, DELAY, [deployer], [deployer], ZERO)
    handover = [
        (jobs, jobs.PARAMS_ROLE()),
        (nodes, nodes.PARAMS_ROLE()),
        (models, models.MODEL_ADMIN_ROLE()),
    ]
    for contract, role in handover:
        contract.grantRole(role, timelock, sender=deployer)
        contract.revokeRole(role, deployer, sender=deployer)
    with ape.reverts(jobs.AccessControlUnauthorizedAccount):
        jobs.setPolicy(policy_tuple(treasury, slash_bps=2_000), sender=deployer)

    calls = [
        (jobs, jobs.setPolicy.encode_input(policy_tuple(treasury, slash_bps=2_000))),
        (nodes, nodes.setParams.encode_input(MIN_STAKE * 2, UNBONDING, 2_500, STAKE_CAP)),
        (models, models.updateModel.encode_input(1, model_params(fee=5))),
    ]
    salt = b"\x00" * 32
    for target, data in calls:
        timelock.schedule(target, 0, data, b"\x00" * 32, salt, DELAY, sender=deployer)
    with ape.reverts(timelock.TimelockUnexpectedOperationState):
        timelock.execute(jobs, 0, calls[0][1], b"\x00" * 32, salt, sender=deployer)
    time_travel(chain, DELAY + 1)
    receipts = [timelock.execute(t, 0, d, b"\x00" * 32, salt, sender=deployer) for t, d in calls]
    assert receipts[0].decode_logs(jobs.PolicyChanged)[0].policy[2] == 2_000  # slashBps
    assert jobs.policy().slashBps == 2_000
    assert receipts[1].decode_logs(nodes.StakingParamsChanged)[0].minStake == MIN_STAKE * 2
    assert receipts[2].decode_logs(models.ModelConfigured)[0].fee == 5
