"""NodeRegistry: registration, stake and unbonding, selection weights, seats and slashing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import ape
import pytest

from contract_helpers import MIN_STAKE, ONE, STAKE_CAP, UNBONDING, model_params, reverts_with, time_travel

REP_ONE = 10_000


@pytest.fixture
def nodes(project: Any, deployer: Any, token: Any, models: Any) -> Any:
    """A NodeRegistry of its own per test, wired to a harness instead of the JobRegistry."""
    return deployer.deploy(project.NodeRegistry, token, models, deployer, MIN_STAKE, UNBONDING, STAKE_CAP)


@pytest.fixture
def manager(project: Any, nodes: Any, deployer: Any) -> Any:
    """The wired job manager: a harness that forwards draws and settlements to the registry."""
    harness = deployer.deploy(project.JobManagerHarness, nodes)
    nodes.wireJobManager(harness, sender=deployer)
    return harness


def test_register_bonds_stake_and_lists_weight(nodes: Any, token: Any, node_accounts: list[Any]) -> None:
    node = node_accounts[0]
    before = token.balanceOf(node)
    token.approve(nodes, 500 * ONE, sender=node)
    tx = nodes.register(500 * ONE, [1], 4, sender=node)
    event = tx.decode_logs(nodes.NodeRegistered)[0]
    assert (event.node, event.stake, list(event.modelIds), event.capacity) == (node.address, 500 * ONE, [1], 4)
    assert token.balanceOf(node) == before - 500 * ONE
    info = nodes.getNode(node)
    assert (info.stake, info.capacity, info.openJobs, info.reputation, info.index) == (500 * ONE, 4, 0, REP_ONE, 1)
    assert info.listedWeight == 500 * ONE
    assert nodes.totalWeight(1) == 500 * ONE
    assert nodes.eligibleNodes(1) == 1
    assert nodes.nodeCount() == 1
    assert nodes.nodeAt(1) == node.address
    assert list(nodes.modelsOf(node)) == [1]


def test_register_reverts(nodes: Any, token: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    token.approve(nodes, 10_000 * ONE, sender=node)
    with ape.reverts(nodes.NodeRegistryStakeBelowMinimum):
        nodes.register(MIN_STAKE - 1, [1], 1, sender=node)
    with ape.reverts(nodes.NodeRegistryZeroCapacity):
        nodes.register(MIN_STAKE, [1], 0, sender=node)
    with ape.reverts(nodes.NodeRegistryUnknownModel):
        nodes.register(MIN_STAKE, [2], 1, sender=node)
    with ape.reverts(nodes.NodeRegistryInvalidModels):
        nodes.register(MIN_STAKE, [], 1, sender=node)
    with ape.reverts(nodes.NodeRegistryInvalidModels):
        nodes.register(MIN_STAKE, [1, 1], 1, sender=node)
    with ape.reverts(nodes.NodeRegistryInvalidModels):
        nodes.register(MIN_STAKE, [1] * 9, 1, sender=node)
    register(node)
    with ape.reverts(nodes.NodeRegistryAlreadyRegistered):
        nodes.register(MIN_STAKE, [1], 1, sender=node)


def test_register_without_allowance_reverts(nodes: Any, token: Any, node_accounts: list[Any]) -> None:
    with ape.reverts(token.ERC20InsufficientAllowance):
        nodes.register(MIN_STAKE, [1], 1, sender=node_accounts[0])


def test_registry_full_reverts(nodes: Any, token: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    register(node_accounts[0])
    register(node_accounts[1])
    # Find the _nodeCount slot (it holds 2 now) and pretend every leaf is taken.
    slot = next(
        s for s in range(64)
        if int(chain.provider.make_request("eth_getStorageAt", [nodes.address, hex(s), "latest"]), 16) == 2
    )
    chain.provider.make_request("anvil_setStorageAt", [nodes.address, hex(slot), "0x" + (4096).to_bytes(32, "big").hex()])
    assert nodes.nodeCount() == 4096
    token.approve(nodes, MIN_STAKE, sender=node_accounts[2])
    with ape.reverts(nodes.NodeRegistryFull):
        nodes.register(MIN_STAKE, [1], 1, sender=node_accounts[2])


def test_add_stake_raises_weight(nodes: Any, token: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=MIN_STAKE)
    token.approve(nodes, 50 * ONE, sender=node)
    tx = nodes.addStake(50 * ONE, sender=node)
    assert tx.decode_logs(nodes.StakeAdded)[0].stake == MIN_STAKE + 50 * ONE
    assert nodes.getNode(node).listedWeight == MIN_STAKE + 50 * ONE
    with ape.reverts(nodes.NodeRegistryZeroAmount):
        nodes.addStake(0, sender=node)
    with ape.reverts(nodes.NodeRegistryNotRegistered):
        nodes.addStake(ONE, sender=node_accounts[1])


def test_update_service_moves_weight_between_models(nodes: Any, models: Any, deployer: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    models.registerModel(model_params(name="second"), sender=deployer)
    node = node_accounts[0]
    register(node)
    tx = nodes.updateService([2], 3, sender=node)
    assert list(tx.decode_logs(nodes.ServiceUpdated)[0].modelIds) == [2]
    assert (nodes.totalWeight(1), nodes.eligibleNodes(1)) == (0, 0)
    assert (nodes.totalWeight(2), nodes.eligibleNodes(2)) == (1_000 * ONE, 1)
    assert nodes.getNode(node).capacity == 3
    with ape.reverts(nodes.NodeRegistryZeroCapacity):
        nodes.updateService([1], 0, sender=node)
    with ape.reverts(nodes.NodeRegistryUnknownModel):
        nodes.updateService([3], 1, sender=node)
    with ape.reverts(nodes.NodeRegistryNotRegistered):
        nodes.updateService([1], 1, sender=node_accounts[1])


def test_unstake_and_withdraw_after_unbonding(nodes: Any, token: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=300 * ONE)
    tx = nodes.requestUnstake(100 * ONE, sender=node)
    event = tx.decode_logs(nodes.UnstakeRequested)[0]
    assert (event.amount, event.stake, event.unbonding) == (100 * ONE, 200 * ONE, 100 * ONE)
    assert nodes.getNode(node).listedWeight == 200 * ONE
    with ape.reverts(nodes.NodeRegistryNothingToWithdraw):
        nodes.withdraw(sender=node)
    time_travel(chain, UNBONDING + 1)
    before = token.balanceOf(node)
    tx = nodes.withdraw(sender=node)
    assert tx.decode_logs(nodes.StakeWithdrawn)[0].amount == 100 * ONE
    assert token.balanceOf(node) == before + 100 * ONE
    with ape.reverts(nodes.NodeRegistryNothingToWithdraw):
        nodes.withdraw(sender=node)


def test_unstake_reverts(nodes: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=150 * ONE)
    with ape.reverts(nodes.NodeRegistryZeroAmount):
        nodes.requestUnstake(0, sender=node)
    with ape.reverts(nodes.NodeRegistryInsufficientStake):
        nodes.requestUnstake(151 * ONE, sender=node)
    with ape.reverts(nodes.NodeRegistryStakeBelowMinimum):
        nodes.requestUnstake(60 * ONE, sender=node)  # would leave 90 < 100
    with ape.reverts(nodes.NodeRegistryNotRegistered):
        nodes.requestUnstake(ONE, sender=node_accounts[1])
    with ape.reverts(nodes.NodeRegistryNotRegistered):
        nodes.withdraw(sender=node_accounts[1])


def test_full_exit_removes_node_from_selection(nodes: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=150 * ONE)
    nodes.requestUnstake(150 * ONE, sender=node)
    assert nodes.getNode(node).listedWeight == 0
    assert nodes.eligibleNodes(1) == 0


def test_job_manager_functions_are_restricted(nodes: Any, manager: Any, deployer: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    register(node_accounts[0])
    for caller in (node_accounts[5], deployer):  # the admin included: only the wired manager
        with reverts_with(nodes.NodeRegistryNotJobManager, caller=caller.address):
            nodes.drawCommittee(1, 1, 1, [], sender=caller)
        with reverts_with(nodes.NodeRegistryNotJobManager, caller=caller.address):
            nodes.settleSeat(node_accounts[0], 0, 10_000, sender=caller)
    with reverts_with(nodes.NodeRegistryJobManagerWired, jobManager=manager.address):
        nodes.wireJobManager(deployer, sender=deployer)


def test_draw_takes_capacity_and_settle_releases_it(nodes: Any, deployer: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    for account in node_accounts[:3]:
        register(account, capacity=1)
    manager.drawCommittee(1, 12345, 3, [], sender=deployer)
    assert [nodes.getNode(a).openJobs for a in node_accounts[:3]] == [1, 1, 1]
    # Every node is at capacity: none is eligible until a seat is settled.
    assert nodes.eligibleNodes(1) == 0 and nodes.totalWeight(1) == 0
    with ape.reverts(nodes.NodeRegistryNotEnoughNodes):
        manager.drawCommittee(1, 1, 1, [], sender=deployer)
    tx = manager.settleSeat(node_accounts[0], 0, 0, sender=deployer)
    assert tx.decode_logs(nodes.SeatReleased)[0].openJobs == 0
    assert nodes.eligibleNodes(1) == 1


def test_draw_skips_excluded_nodes(nodes: Any, deployer: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    for account in node_accounts[:4]:
        register(account)
    excluded = [node_accounts[0].address, node_accounts[1].address]
    for seed in range(20):
        drawn = manager.drawCommittee.call(1, seed, 2, excluded, sender=deployer)
        assert set(drawn) == {node_accounts[2].address, node_accounts[3].address}
    with ape.reverts(nodes.NodeRegistryNotEnoughNodes):
        manager.drawCommittee(1, 1, 3, excluded, sender=deployer)


def test_settle_slashes_stake_then_unbonding(nodes: Any, deployer: Any, token: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=1_000 * ONE)
    nodes.requestUnstake(900 * ONE, sender=node)  # 100 bonded, 900 unbonding
    before = token.balanceOf(manager)
    tx = manager.settleSeat(node, 0, 5_000, sender=deployer)  # half of 1,000
    event = tx.decode_logs(nodes.NodeSlashed)[0]
    assert (event.amount, event.stake, event.unbonding) == (500 * ONE, 0, 500 * ONE)
    assert token.balanceOf(manager) == before + 500 * ONE
    tx = manager.settleSeat(node, 0, 10_000, sender=deployer)
    assert tx.decode_logs(nodes.NodeSlashed)[0].amount == 500 * ONE
    info = nodes.getNode(node)
    assert (info.stake, info.unbonding) == (0, 0)
    with ape.reverts(nodes.NodeRegistryInvalidBps):
        manager.settleSeat(node, 0, 10_001, sender=deployer)
    with ape.reverts(nodes.NodeRegistryNotRegistered):
        manager.settleSeat(node_accounts[3], 0, 0, sender=deployer)


def test_reputation_is_clamped_and_ejects_below_threshold(nodes: Any, deployer: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node)
    tx = manager.settleSeat(node, 30_000, 0, sender=deployer)
    assert tx.decode_logs(nodes.ReputationChanged)[0].current == 20_000
    # Reputation is applied when drawing, so a change above the ejection line writes no tree path.
    assert not tx.decode_logs(nodes.WeightChanged)
    assert nodes.getNode(node).listedWeight == 1_000 * ONE
    manager.settleSeat(node, -20_000 + 2_000, 0, sender=deployer)  # down to 0.2 < 0.25
    assert nodes.getNode(node).reputation == 2_000
    assert nodes.getNode(node).listedWeight == 0
    manager.settleSeat(node, -50_000, 0, sender=deployer)
    assert nodes.getNode(node).reputation == 0


def test_set_params_bounds_and_refresh(nodes: Any, deployer: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    register(node_accounts[0], stake=150 * ONE)
    with ape.reverts(nodes.AccessControlUnauthorizedAccount):
        nodes.setParams(MIN_STAKE, UNBONDING, 0, STAKE_CAP, sender=node_accounts[0])
    for bad in [(0, UNBONDING, 0, STAKE_CAP), (MIN_STAKE, UNBONDING, REP_ONE + 1, STAKE_CAP),
                (MIN_STAKE, UNBONDING, 0, MIN_STAKE - 1)]:
        with ape.reverts(nodes.NodeRegistryInvalidParams):
            nodes.setParams(*bad, sender=deployer)
    with reverts_with(nodes.NodeRegistryUnbondingTooShort, unbondingPeriod=UNBONDING - 1, maxJobLifetime=UNBONDING):
        nodes.setParams(MIN_STAKE, UNBONDING - 1, 0, STAKE_CAP, sender=deployer)
    tx = nodes.setParams(200 * ONE, UNBONDING, 0, STAKE_CAP, sender=deployer)
    assert tx.decode_logs(nodes.StakingParamsChanged)[0].minStake == 200 * ONE
    nodes.refreshWeight(node_accounts[0], sender=node_accounts[5])
    assert nodes.getNode(node_accounts[0]).listedWeight == 0  # 150 < new minimum 200
    with ape.reverts(nodes.NodeRegistryNotRegistered):
        nodes.refreshWeight(node_accounts[5], sender=node_accounts[5])


def test_selection_is_proportional_to_stake(nodes: Any, deployer: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    """A node with 3x the stake of another is drawn about 3x as often (sybil resistance)."""
    register(node_accounts[0], stake=300 * ONE)
    register(node_accounts[1], stake=100 * ONE)
    draws = 400
    counts = Counter(manager.drawCommittee.call(1, seed, 1, [], sender=deployer)[0] for seed in range(draws))
    share = counts[node_accounts[0].address] / draws
    # Binomial(400, 0.75): 5 standard deviations is about +-0.11.
    assert 0.64 < share < 0.86, counts


def test_selection_is_proportional_to_reputation_too(nodes: Any, deployer: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    """Equal stakes, reputation 2.0 against 0.5: the first is drawn about 4x as often, though
    the tree holds only stake (draws reject a pick with probability 1 - reputation / 2.0)."""
    good, poor = node_accounts[0], node_accounts[1]
    register(good)
    register(poor)
    manager.settleSeat(good, 10_000, 0, sender=deployer)
    manager.settleSeat(poor, -5_000, 0, sender=deployer)
    assert nodes.getNode(good).listedWeight == nodes.getNode(poor).listedWeight
    draws = 400
    counts = Counter(manager.drawCommittee.call(1, seed, 1, [], sender=deployer)[0] for seed in range(draws))
    share = counts[good.address] / draws
    # Binomial(400, 0.8): 5 standard deviations is 0.1.
    assert 0.7 < share < 0.9, counts


def test_stake_cap_bounds_selection_weight(nodes: Any, token: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    whale = node_accounts[0]
    register(whale, stake=STAKE_CAP * 3)
    assert nodes.getNode(whale).stake == STAKE_CAP * 3
    assert nodes.getNode(whale).listedWeight == STAKE_CAP


def test_ejection_and_the_way_back(nodes: Any, deployer: Any, chain: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node)
    with ape.reverts(nodes.NodeRegistryNotEjected):
        nodes.reinstate(sender=node)
    tx = manager.settleSeat(node, -8_000, 0, sender=deployer)  # 1.0 -> 0.2, below the 0.25 line
    assert tx.decode_logs(nodes.NodeEjected)[0].reputation == 2_000
    assert nodes.getNode(node).listedWeight == 0
    with ape.reverts(nodes.NodeRegistryEjectionCooldown):
        nodes.reinstate(sender=node)
    time_travel(chain, UNBONDING + 1)
    tx = nodes.reinstate(sender=node)
    assert tx.decode_logs(nodes.NodeReinstated)[0].reputation == 2_500 + (10_000 - 2_500) // 2
    assert nodes.getNode(node).listedWeight == 1_000 * ONE  # back in the tree; reputation 0.625 applies at draw time
    # An ejected node can still leave with its stake.
    manager.settleSeat(node, -10_000, 0, sender=deployer)
    nodes.requestUnstake(1_000 * ONE, sender=node)


def test_eligible_excluding_counts_what_a_draw_could_pick(nodes: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    for account in node_accounts[:4]:
        register(account)
    assert nodes.eligibleExcluding(1, []) == 4
    assert nodes.eligibleExcluding(1, [node_accounts[0], node_accounts[1]]) == 2
    assert nodes.eligibleExcluding(1, [node_accounts[5]]) == 4  # unregistered: nothing to skip


def test_many_small_sybils_win_seats_only_in_proportion_to_stake(nodes: Any, deployer: Any, manager: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    """Splitting 600 INFER over six identities buys the same share of seats as one 600 stake."""
    honest = node_accounts[0]
    register(honest, stake=600 * ONE)
    sybils = node_accounts[1:7]
    for sybil in sybils:
        register(sybil, stake=100 * ONE)
    draws = 400
    counts = Counter(manager.drawCommittee.call(1, seed, 1, [], sender=deployer)[0] for seed in range(draws))
    sybil_share = sum(counts[s.address] for s in sybils) / draws
    assert 0.39 < sybil_share < 0.61, counts  # expected 0.5; 5 sd of Binomial(400, .5) is 0.125


# ------------------------------------------------------------- draws read a frozen state
def test_no_weight_change_while_a_draw_is_due(nodes: Any, token: Any, manager: Any, deployer: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    """Once a draw's block hash is public, nobody may move the weights it reads (grinding)."""
    node, other = node_accounts[0], node_accounts[1]
    register(node, stake=1_000 * ONE)
    token.approve(nodes, 10_000 * ONE, sender=node)
    token.approve(nodes, 10_000 * ONE, sender=other)
    manager.setDrawsDue(True, sender=deployer)
    attempts = [
        (nodes.addStake, (1,), node),
        (nodes.register, (MIN_STAKE, [1], 1), other),
        (nodes.updateService, ([1], 2), node),
        (nodes.requestUnstake, (1 * ONE,), node),
        (nodes.reinstate, (), node),
        (nodes.withdraw, (), node),
        (nodes.refreshWeight, (node,), other),
        (nodes.releaseSlot, (node,), other),
        (nodes.setParams, (MIN_STAKE, UNBONDING, 0, STAKE_CAP), deployer),
    ]
    for fn, args, sender in attempts:
        with reverts_with(nodes.NodeRegistryDrawsDue):
            fn(*args, sender=sender)
    manager.setDrawsDue(False, sender=deployer)
    nodes.addStake(1, sender=node)
    assert nodes.getNode(node).stake == 1_000 * ONE + 1


def test_one_slash_never_exceeds_the_stake_cap(nodes: Any, token: Any, manager: Any, deployer: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=3 * STAKE_CAP)
    tx = manager.settleSeat(node, 0, 10_000, sender=deployer)
    assert tx.decode_logs(nodes.NodeSlashed)[0].amount == STAKE_CAP
    assert nodes.getNode(node).stake == 2 * STAKE_CAP


def test_a_fully_exited_node_frees_its_slot(nodes: Any, token: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    first, second, third = node_accounts[:3]
    register(first, stake=MIN_STAKE)
    register(second, stake=MIN_STAKE)
    with reverts_with(nodes.NodeRegistrySlotInUse, node=first.address):
        nodes.releaseSlot(first, sender=third)
    nodes.requestUnstake(MIN_STAKE, sender=first)
    time_travel(chain, UNBONDING)
    tx = nodes.withdraw(sender=first)
    assert tx.decode_logs(nodes.SlotReleased)[0].index == 1
    assert nodes.getNode(first).index == 0 and nodes.nodeAt(1) == "0x" + "00" * 20
    register(third, stake=MIN_STAKE)  # takes the freed leaf, not a new one
    assert (nodes.getNode(third).index, nodes.nodeCount(), nodes.nodeAt(1)) == (1, 2, third.address)
    assert nodes.eligibleNodes(1) == 2
    register(first, stake=MIN_STAKE)  # the old address may come back, on a new slot
    assert nodes.getNode(first).index == 3


def test_a_node_keeps_its_permanent_id_across_exits_and_slots(nodes: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    """Slots are recycled, ids never: JobRegistry names a seat's node by its id for good."""
    first, second, third = node_accounts[:3]
    register(first, stake=MIN_STAKE)
    register(second, stake=MIN_STAKE)
    assert [nodes.idOf(a) for a in (first, second, third)] == [1, 2, 0]
    assert nodes.getNode(first).id == 1 and nodes.nodeById(2) == second.address
    nodes.requestUnstake(MIN_STAKE, sender=first)
    time_travel(chain, UNBONDING)
    nodes.withdraw(sender=first)  # slot 1 released
    register(third, stake=MIN_STAKE)  # slot 1 again, but a new id
    assert (nodes.getNode(third).index, nodes.idOf(third)) == (1, 3)
    register(first, stake=MIN_STAKE)  # back on slot 3, with the id it had
    assert (nodes.getNode(first).index, nodes.idOf(first), nodes.nodeById(1)) == (3, 1, first.address)
    assert nodes.nodeById(4) == "0x" + "00" * 20


def test_an_ejected_node_cannot_wash_its_reputation_by_exiting(nodes: Any, manager: Any, deployer: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    node = node_accounts[0]
    register(node, stake=MIN_STAKE)
    manager.settleSeat(node, -9_000, 0, sender=deployer)  # reputation 0.1: ejected
    nodes.requestUnstake(MIN_STAKE, sender=node)
    time_travel(chain, UNBONDING)
    nodes.withdraw(sender=node)
    register(node, stake=MIN_STAKE)
    info = nodes.getNode(node)
    assert info.reputation == 1_000 and info.listedWeight == 0
