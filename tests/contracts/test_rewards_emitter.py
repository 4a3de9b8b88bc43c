"""RewardsEmitter: the published decaying schedule as a ceiling, emission following paid work
(points are INFER fees earned), a creditor wired once, pull claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ape
import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError as Web3ContractLogicError

from contract_helpers import (
    DECAY_BPS,
    EMISSION_PER_FEE_BPS,
    EPOCH,
    INITIAL_EMISSION,
    ONE,
    POLICY,
    near,
    random_vector,
    time_travel,
    web3_view,
)

BPS = 10_000
ZERO_ADDRESS = "0x" + "00" * 20


def deploy_emitter(project: Any, deployer: Any, token: Any, chain: Any, emission_per_fee_bps: int = EMISSION_PER_FEE_BPS) -> Any:
    return deployer.deploy(project.RewardsEmitter, token, deployer, chain.pending_timestamp, EPOCH, INITIAL_EMISSION,
                           DECAY_BPS, emission_per_fee_bps)


@pytest.fixture
def creditor(accounts: Any) -> Any:
    """A plain account standing in for the JobRegistry."""
    return accounts[7]


@pytest.fixture
def emission_token(project: Any, deployer: Any) -> Any:
    """A fresh INFER whose minter is still free to wire (the session token's minter is `rewards`)."""
    return deployer.deploy(project.InferToken, 10**9 * ONE, deployer, deployer, 0)


@pytest.fixture
def emitter(project: Any, deployer: Any, emission_token: Any, chain: Any, creditor: Any) -> Any:
    """A FRESH RewardsEmitter wired to `creditor` (the session's `rewards` gets wired to the JobRegistry,
    for good) and minting a fresh token. Deployed inside the test's snapshot, so it is gone after the test."""
    e = deploy_emitter(project, deployer, emission_token, chain)
    e.wireCreditor(creditor, sender=deployer)
    emission_token.wireMinter(e, sender=deployer)
    return e


def fee_bound(points: int, emission_per_fee_bps: int = EMISSION_PER_FEE_BPS) -> int:
    return points * emission_per_fee_bps // BPS


# ------------------------------------------------------------------ schedule and parameters
def test_schedule_decays_geometrically(rewards: Any) -> None:
    assert rewards.emissionFor(0) == INITIAL_EMISSION
    assert rewards.emissionFor(1) == INITIAL_EMISSION * DECAY_BPS // 10_000
    expected = INITIAL_EMISSION
    for epoch in range(1, 40):
        expected = expected * DECAY_BPS / 10_000
        assert abs(rewards.emissionFor(epoch) - expected) <= expected * 1e-12 + 2
        assert rewards.emissionFor(epoch) <= rewards.emissionFor(epoch - 1)
    assert rewards.emissionFor(10_000) == 0


def test_emission_per_fee_keeps_self_dealing_unprofitable_under_the_policy(rewards: Any) -> None:
    assert rewards.emissionPerFeeBps() == EMISSION_PER_FEE_BPS
    protocol_fee_bps = POLICY["protocol_fee_bps"]
    assert EMISSION_PER_FEE_BPS * (BPS - protocol_fee_bps) < protocol_fee_bps * BPS


@pytest.mark.parametrize(
    ("epoch_length", "initial", "decay", "per_fee"),
    [(0, ONE, 9_000, 400), (3600, 0, 9_000, 400), (3600, ONE, 0, 400), (3600, ONE, 10_000, 400),
     (3600, 10**9 * ONE, 9_999, 400), (3600, ONE, 9_000, 0), (3600, ONE, 9_000, 10_000), (3600, ONE, 9_000, 2**255)],
)
def test_invalid_schedules_are_rejected(project: Any, deployer: Any, token: Any, chain: Any, epoch_length: int, initial: int, decay: int, per_fee: int) -> None:
    # Ape's deploy() cannot report a constructor's custom error, so simulate the creation directly.
    args = encode(["address", "address", "uint256", "uint256", "uint256", "uint256", "uint256"],
                  [token.address, deployer.address, 0, epoch_length, initial, decay, per_fee])
    creation = project.RewardsEmitter.contract_type.deployment_bytecode.bytecode + args.hex()
    with pytest.raises(Web3ContractLogicError) as raised:
        chain.provider.web3.eth.call({"from": deployer.address, "data": creation})
    assert str(raised.value.data).startswith("0x" + keccak(text="RewardsInvalidSchedule()")[:4].hex())


# ------------------------------------------------------------------ the creditor, wired once
def test_creditor_is_wired_once_and_never_changes(project: Any, deployer: Any, token: Any, chain: Any, accounts: Any) -> None:
    e = deploy_emitter(project, deployer, token, chain)
    assert e.creditor() == ZERO_ADDRESS
    with ape.reverts(e.RewardsNotCreditor):
        e.creditPoints([accounts[1]], [ONE], sender=deployer)  # not even the admin, before wiring
    with ape.reverts(e.AccessControlUnauthorizedAccount):
        e.wireCreditor(accounts[1], sender=accounts[1])
    with ape.reverts(e.RewardsCreditorWired):
        e.wireCreditor(ZERO_ADDRESS, sender=deployer)
    tx = e.wireCreditor(accounts[7], sender=deployer)
    assert [ev.creditor for ev in tx.decode_logs(e.CreditorWired)] == [accounts[7].address]
    assert e.creditor() == accounts[7].address
    for other in (accounts[1], accounts[7]):
        with ape.reverts(e.RewardsCreditorWired):
            e.wireCreditor(other, sender=deployer)
    assert e.creditor() == accounts[7].address
    with ape.reverts(e.RewardsNotCreditor):
        e.creditPoints([accounts[1]], [ONE], sender=deployer)  # the admin still cannot credit


def test_only_creditor_credits(emitter: Any, deployer: Any, accounts: Any, creditor: Any) -> None:
    for outsider in (accounts[1], deployer):
        with ape.reverts(emitter.RewardsNotCreditor):
            emitter.creditPoints([accounts[1]], [1], sender=outsider)
    with ape.reverts(emitter.RewardsLengthMismatch):
        emitter.creditPoints([accounts[1]], [1, 2], sender=creditor)
    tx = emitter.creditPoints([accounts[1], accounts[2]], [3, 1], sender=creditor)
    events = tx.decode_logs(emitter.PointsCredited)
    assert [e.points for e in events] == [3, 1] and events[-1].totalPoints == 4


# ------------------------------------------------------------------ claims
def test_claims_split_by_points_after_epoch_closes(emitter: Any, emission_token: Any, chain: Any, accounts: Any, creditor: Any) -> None:
    """A busy epoch: fees earned are large enough that the schedule is the binding bound."""
    epoch = emitter.currentEpoch()
    emitter.creditPoints([accounts[1], accounts[2]], [30_000 * ONE, 10_000 * ONE], sender=creditor)
    with ape.reverts(emitter.RewardsEpochOpen):
        emitter.claim([epoch], sender=accounts[1])
    time_travel(chain, EPOCH)
    emission = emitter.emissionFor(epoch)
    assert fee_bound(40_000 * ONE) > emission
    assert emitter.epochEmission(epoch) == emission
    assert emitter.pendingRewards(accounts[1], [epoch]) == emission * 3 // 4
    before = emission_token.balanceOf(accounts[1])
    tx = emitter.claim([epoch], sender=accounts[1])
    assert tx.decode_logs(emitter.RewardsClaimed)[0].amount == emission * 3 // 4
    assert emission_token.balanceOf(accounts[1]) == before + emission * 3 // 4
    assert emitter.claimed(epoch, accounts[1])
    assert emitter.pendingRewards(accounts[1], [epoch]) == 0
    with ape.reverts(emitter.RewardsAlreadyClaimed):
        emitter.claim([epoch], sender=accounts[1])
    emitter.claim([epoch], sender=accounts[2])
    assert emitter.emitted(epoch) <= emission
    with ape.reverts(emitter.RewardsNothingToClaim):
        emitter.claim([epoch], sender=accounts[3])  # earned no points


def test_fee_bound_binds_in_a_quiet_epoch_and_splits_pro_rata(emitter: Any, emission_token: Any, chain: Any, accounts: Any, creditor: Any) -> None:
    epoch = emitter.currentEpoch()
    emitter.creditPoints([accounts[1], accounts[2]], [3 * ONE, 1 * ONE], sender=creditor)
    time_travel(chain, EPOCH)
    emission = fee_bound(4 * ONE)
    assert emission < emitter.emissionFor(epoch)
    assert emitter.epochEmission(epoch) == emission
    assert emitter.pendingRewards(accounts[1], [epoch]) == emission * 3 // 4
    assert emitter.pendingRewards(accounts[2], [epoch]) == emission // 4
    emitter.claim([epoch], sender=accounts[1])
    emitter.claim([epoch], sender=accounts[2])
    assert emitter.emitted(epoch) == emission


def test_shares_round_down_within_both_bounds(emitter: Any, chain: Any, accounts: Any, creditor: Any) -> None:
    """Odd points in both regimes (fee bound binding, schedule binding): the shares are floored, never add up
    to more than the epoch's emission, and that emission is at most both bounds."""
    for points in ([7 * ONE + 1, 11 * ONE + 3, 13 * ONE + 5], [10_007 * ONE + 1, 20_011 * ONE + 3, 13 * ONE + 5]):
        epoch = emitter.currentEpoch()
        holders = accounts[1:4]
        emitter.creditPoints(holders, points, sender=creditor)
        time_travel(chain, EPOCH)
        total = sum(points)
        emission = emitter.epochEmission(epoch)
        assert emission == min(emitter.emissionFor(epoch), fee_bound(total))
        paid = 0
        for holder, p in zip(holders, points, strict=True):
            tx = emitter.claim([epoch], sender=holder)
            amount = tx.decode_logs(emitter.RewardsClaimed)[0].amount
            assert amount == emission * p // total
            paid += amount
        assert emitter.emitted(epoch) == paid <= emission
        assert emission - paid < len(points)  # at most one wei of dust per node


def test_epoch_without_work_emits_nothing(rewards: Any, chain: Any, accounts: Any) -> None:
    epoch = rewards.currentEpoch()
    time_travel(chain, EPOCH)
    assert rewards.totalPoints(epoch) == 0
    assert rewards.epochEmission(epoch) == 0
    with ape.reverts(rewards.RewardsNothingToClaim):
        rewards.claim([epoch], sender=accounts[1])


# ------------------------------------------------------------------ the farming attack ("Emission can be farmed")
@pytest.mark.parametrize("fee", [1, ONE])
def test_quiet_epoch_self_paid_job_cannot_take_the_schedule(emitter: Any, emission_token: Any, chain: Any, accounts: Any, creditor: Any, fee: int) -> None:
    """One self-paid job in an otherwise empty epoch: before, its node took the epoch's whole schedule
    (1,000 INFER here); now it gets at most emissionPerFeeBps of the fee, and the rest is never minted."""
    node = accounts[1]
    epoch = emitter.currentEpoch()
    emitter.creditPoints([node], [fee], sender=creditor)
    time_travel(chain, EPOCH)
    schedule = emitter.emissionFor(epoch)
    pending = emitter.pendingRewards(node, [epoch])
    assert pending <= fee_bound(fee) < schedule, f"fee {fee} wei earned {pending} wei of a {schedule} wei schedule"
    assert emitter.epochEmission(epoch) == fee_bound(fee)
    supply = emission_token.totalSupply()
    if pending == 0:
        with ape.reverts(emitter.RewardsNothingToClaim):
            emitter.claim([epoch], sender=node)
    else:
        emitter.claim([epoch], sender=node)
    assert emission_token.totalSupply() - supply == fee_bound(fee)
    # The unspent schedule never comes back: the epoch is done, and later epochs follow their own schedule.
    assert emitter.pendingRewards(node, [epoch]) == 0
    assert emitter.emitted(epoch) == fee_bound(fee)
    assert emitter.emissionFor(epoch + 1) == schedule * DECAY_BPS // BPS


def test_zero_fee_work_earns_no_emission(emitter: Any, chain: Any, accounts: Any, creditor: Any) -> None:
    """A model's fee may be 0: its accepted jobs credit 0 points, which earn nothing, even in an
    empty epoch. A zero entry is skipped (no event: nothing was credited)."""
    epoch = emitter.currentEpoch()
    tx = emitter.creditPoints([accounts[1], accounts[2]], [0, 0], sender=creditor)
    assert list(tx.decode_logs(emitter.PointsCredited)) == []
    time_travel(chain, EPOCH)
    assert emitter.totalPoints(epoch) == 0
    assert emitter.epochEmission(epoch) == 0
    assert emitter.pendingRewards(accounts[1], [epoch]) == 0
    with ape.reverts(emitter.RewardsNothingToClaim):
        emitter.claim([epoch], sender=accounts[1])


def self_dealer_net(fee: int, protocol_fee_bps: int, seats: int, emission: int) -> tuple[int, int]:
    """(fees back, net) for a requester who owns every seat: pays `fee`, gets the seats' fees (split
    as the JobRegistry pays them, rounding down) plus `emission`."""
    fees_back = fee * (BPS - protocol_fee_bps) // BPS // seats * seats
    return fees_back, fees_back + emission - fee


def test_self_dealing_is_unprofitable_with_numbers(emitter: Any, emission_token: Any, chain: Any, accounts: Any, creditor: Any) -> None:
    fee = 1_000 * ONE
    protocol_fee_bps = POLICY["protocol_fee_bps"]
    seats = accounts[1:4]  # the self-dealer controls every seat of the committee
    fee_each = fee * (BPS - protocol_fee_bps) // BPS // len(seats)
    epoch = emitter.currentEpoch()
    emitter.creditPoints(seats, [fee_each] * len(seats), sender=creditor)
    time_travel(chain, EPOCH)
    supply = emission_token.totalSupply()
    emission = sum(emitter.claim([epoch], sender=s).decode_logs(emitter.RewardsClaimed)[0].amount for s in seats)
    assert emission_token.totalSupply() - supply == emission
    fees_back, net = self_dealer_net(fee, protocol_fee_bps, len(seats), emission)
    numbers = (f"paid {fee / ONE:,.6f} INFER, fees back {fees_back / ONE:,.6f}, emission {emission / ONE:,.6f} "
               f"(schedule {emitter.emissionFor(epoch) / ONE:,.6f}), net {net / ONE:,.6f}")
    assert emission <= fee_bound(fees_back), numbers
    assert net < 0, numbers
    assert abs(net + 12 * ONE) <= 10, numbers  # 950 back + 38 emission - 1,000 paid, less a few wei of rounding


@st.composite
def _fee_and_rate(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """A fee, a protocol fee (the JobRegistry caps it at half), an emission rate satisfying
    rate * (BPS - protocolFee) < protocolFee * BPS, and honest work sharing the epoch."""
    protocol_fee_bps = draw(st.integers(1, BPS // 2))
    rate = draw(st.integers(1, min(BPS - 1, (protocol_fee_bps * BPS - 1) // (BPS - protocol_fee_bps))))
    fee = draw(st.integers(1, 10**9 * ONE))
    honest = draw(st.sampled_from([0, 0, 1, ONE, 10**6 * ONE]))
    return fee, protocol_fee_bps, rate, honest


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_fee_and_rate())
def test_self_dealing_is_unprofitable_for_any_fee_and_rate(project: Any, deployer: Any, token: Any, rewards: Any, chain: Any, accounts: Any, case: tuple[int, int, int, int]) -> None:
    """For any fee and any emissionPerFeeBps satisfying the relation documented on IRewardsEmitter, the
    self-dealer's emission (read from the contract) never makes up the protocol fee it paid, whether its
    job is alone in the epoch or shares it with honest work."""
    fee, protocol_fee_bps, rate, honest = case
    creditor, seats, honest_node = accounts[7].address, [a.address for a in accounts[1:4]], accounts[4].address
    # Plain web3 transactions from anvil's unlocked accounts: Ape's receipt handling would make this test slow.
    w3, contract_type = chain.provider.web3, project.RewardsEmitter.contract_type
    abi = web3_view(chain, rewards).abi
    factory = w3.eth.contract(abi=abi, bytecode=contract_type.deployment_bytecode.bytecode)
    args = (token.address, deployer.address, chain.pending_timestamp, EPOCH, INITIAL_EMISSION, DECAY_BPS, rate)
    def mined(tx_hash: Any) -> Any:  # anvil mines after answering: wait, or the clock may move first
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return receipt

    address = mined(factory.constructor(*args).transact({"from": deployer.address}))["contractAddress"]
    e = w3.eth.contract(address=address, abi=abi)
    mined(e.functions.wireCreditor(creditor).transact({"from": deployer.address}))
    fee_each = fee * (BPS - protocol_fee_bps) // BPS // len(seats)
    mined(e.functions.creditPoints([*seats, honest_node], [fee_each] * len(seats) + [honest]).transact({"from": creditor}))
    time_travel(chain, EPOCH)
    assert e.functions.totalPoints(0).call() == fee_each * len(seats) + honest
    emission = sum(e.functions.pendingRewards(s, [0]).call() for s in seats)
    fees_back, net = self_dealer_net(fee, protocol_fee_bps, len(seats), emission)
    numbers = f"fee {fee}, protocolFeeBps {protocol_fee_bps}, rate {rate}, fees back {fees_back}, emission {emission}, net {net}"
    assert emission <= fee_bound(fees_back, rate), numbers
    assert net < 0, numbers


# ------------------------------------------------------------------ through the JobRegistry
def test_accepted_job_credits_the_fees_paid(rewards: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    base = random_vector(7)
    vectors = [base, near(base, 1), random_vector(99)]
    seats = run_job(1, vectors)
    epoch = rewards.currentEpoch()
    tx = jobs.finalize(1, vectors, sender=seats[0])
    accepted = tx.decode_logs(jobs.JobAccepted)[0]
    paid = dict.fromkeys(accepted.agreeing, accepted.feeEach)
    for seat in seats[:2]:
        assert paid[seat.address] > 0
        assert rewards.pointsOf(epoch, seat) == paid[seat.address]
    assert rewards.pointsOf(epoch, seats[2]) == 0
    assert rewards.totalPoints(epoch) == sum(paid.values())
