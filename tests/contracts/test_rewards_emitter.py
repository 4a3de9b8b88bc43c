"""RewardsEmitter: the published decaying schedule, points from accepted work, pull claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ape
import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3.exceptions import ContractLogicError as Web3ContractLogicError

from contract_helpers import DECAY_BPS, EPOCH, INITIAL_EMISSION, ONE, near, random_vector, time_travel


@pytest.fixture
def creditor(rewards: Any, deployer: Any, accounts: Any) -> Any:
    account = accounts[7]
    rewards.grantRole(rewards.CREDITOR_ROLE(), account, sender=deployer)
    return account


def test_schedule_decays_geometrically(rewards: Any) -> None:
    assert rewards.emissionFor(0) == INITIAL_EMISSION
    assert rewards.emissionFor(1) == INITIAL_EMISSION * DECAY_BPS // 10_000
    expected = INITIAL_EMISSION
    for epoch in range(1, 40):
        expected = expected * DECAY_BPS / 10_000
        assert abs(rewards.emissionFor(epoch) - expected) <= expected * 1e-12 + 2
        assert rewards.emissionFor(epoch) <= rewards.emissionFor(epoch - 1)
    assert rewards.emissionFor(10_000) == 0


def test_only_creditor_credits(rewards: Any, accounts: Any, creditor: Any) -> None:
    with ape.reverts(rewards.AccessControlUnauthorizedAccount):
        rewards.creditPoints([accounts[1]], [1], sender=accounts[1])
    with ape.reverts(rewards.RewardsLengthMismatch):
        rewards.creditPoints([accounts[1]], [1, 2], sender=creditor)
    tx = rewards.creditPoints([accounts[1], accounts[2]], [3, 1], sender=creditor)
    events = tx.decode_logs(rewards.PointsCredited)
    assert [e.points for e in events] == [3, 1] and events[-1].totalPoints == 4


def test_claims_split_by_points_after_epoch_closes(rewards: Any, token: Any, chain: Any, accounts: Any, creditor: Any) -> None:
    epoch = rewards.currentEpoch()
    rewards.creditPoints([accounts[1], accounts[2]], [3, 1], sender=creditor)
    with ape.reverts(rewards.RewardsEpochOpen):
        rewards.claim([epoch], sender=accounts[1])
    time_travel(chain, EPOCH)
    emission = rewards.emissionFor(epoch)
    assert rewards.pendingRewards(accounts[1], [epoch]) == emission * 3 // 4
    before = token.balanceOf(accounts[1])
    tx = rewards.claim([epoch], sender=accounts[1])
    assert tx.decode_logs(rewards.RewardsClaimed)[0].amount == emission * 3 // 4
    assert token.balanceOf(accounts[1]) == before + emission * 3 // 4
    assert rewards.claimed(epoch, accounts[1])
    assert rewards.pendingRewards(accounts[1], [epoch]) == 0
    with ape.reverts(rewards.RewardsAlreadyClaimed):
        rewards.claim([epoch], sender=accounts[1])
    rewards.claim([epoch], sender=accounts[2])
    assert rewards.emitted(epoch) <= emission
    with ape.reverts(rewards.RewardsNothingToClaim):
        rewards.claim([epoch], sender=accounts[3])  # earned no points


def test_epoch_without_work_emits_nothing(rewards: Any, chain: Any, accounts: Any) -> None:
    epoch = rewards.currentEpoch()
    time_travel(chain, EPOCH)
    assert rewards.totalPoints(epoch) == 0
    with ape.reverts(rewards.RewardsNothingToClaim):
        rewards.claim([epoch], sender=accounts[1])


@pytest.mark.parametrize(
    ("epoch_length", "initial", "decay"),
    [(0, ONE, 9_000), (3600, 0, 9_000), (3600, ONE, 0), (3600, ONE, 10_000), (3600, 10**9 * ONE, 9_999)],
)
def test_invalid_schedules_are_rejected(project: Any, deployer: Any, token: Any, chain: Any, epoch_length: int, initial: int, decay: int) -> None:
    # Ape's deploy() cannot report a constructor's custom error, so simulate the creation directly.
    args = encode(["address", "address", "uint256", "uint256", "uint256", "uint256"],
                  [token.address, deployer.address, 0, epoch_length, initial, decay])
    creation = project.RewardsEmitter.contract_type.deployment_bytecode.bytecode + args.hex()
    with pytest.raises(Web3ContractLogicError) as raised:
        chain.provider.web3.eth.call({"from": deployer.address, "data": creation})
    assert str(raised.value.data).startswith("0x" + keccak(text="RewardsInvalidSchedule()")[:4].hex())


def test_accepted_job_credits_reputation_weighted_points(rewards: Any, jobs: Any, nodes: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    base = random_vector(7)
    vectors = [base, near(base, 1), random_vector(99)]
    seats = run_job(1, vectors)
    epoch = rewards.currentEpoch()
    jobs.finalize(1, vectors, sender=seats[0])
    for seat in seats[:2]:
        assert rewards.pointsOf(epoch, seat) == nodes.getNode(seat).reputation == 10_100
    assert rewards.pointsOf(epoch, seats[2]) == 0
    assert rewards.totalPoints(epoch) == 20_200
