"""SumTree (the Fenwick tree behind committee draws) against a plain list, with hypothesis.

The tree spans only the smallest power of two holding its highest leaf and doubles as higher
leaves arrive, so the cases mix small indices with jumps up to SumTree.SIZE and check the span,
the total and the leaf `find` returns for targets on every boundary, with and without excluded
leaves.
"""

from __future__ import annotations

import itertools
from typing import Any

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_helpers import web3_view

SIZE = 4096  # SumTree.SIZE
INDEX = st.one_of(st.integers(1, 12), st.integers(1, SIZE))
WEIGHT = st.integers(1, 2**128 - 1)
Update = tuple[int, int, bool]  # leaf, amount, subtract


@st.composite
def update_batches(draw: st.DrawFn) -> list[Update]:
    """Adds, and subtractions of at most what a leaf holds, so every batch is valid."""
    leaves: dict[int, int] = {}
    updates: list[Update] = []
    for _ in range(draw(st.integers(1, 24))):
        if leaves and draw(st.integers(0, 3)) == 0:
            index = draw(st.sampled_from(sorted(leaves)))
            amount = draw(st.integers(0, leaves[index]))
            leaves[index] -= amount
            updates.append((index, amount, True))
        else:
            index, amount = draw(INDEX), draw(WEIGHT)
            leaves[index] = leaves.get(index, 0) + amount
            updates.append((index, amount, False))
    return updates


def reference_leaves(updates: list[Update]) -> dict[int, int]:
    leaves: dict[int, int] = {}
    for index, amount, subtract in updates:
        leaves[index] = leaves.get(index, 0) + (-amount if subtract else amount)
    return leaves


def reference_find(leaves: dict[int, int], target: int, excluded: set[int]) -> int:
    """The leaf whose cumulative range holds `target`, counting only leaves not excluded."""
    cumulative = 0
    for index in sorted(leaves):
        if index in excluded:
            continue
        cumulative += leaves[index]
        if target < cumulative:
            return index
    raise AssertionError("target beyond the total")


def boundary_targets(leaves: dict[int, int], excluded: set[int]) -> list[int]:
    """0, the last unit of every leaf's range and the first unit of the next one."""
    weights = [leaves[i] for i in sorted(leaves) if i not in excluded and leaves[i] > 0]
    edges = list(itertools.accumulate(weights))
    return sorted({0, *(e - 1 for e in edges), *(e for e in edges[:-1])})


@pytest.fixture
def deploy_tree(project: Any, deployer: Any, chain: Any) -> Any:
    def _deploy(updates: list[Update]) -> tuple[Any, Any]:
        tree = deployer.deploy(project.SumTreeHarness)
        indices, amounts, subtract = (list(column) for column in zip(*updates, strict=True))
        tree.update(indices, amounts, subtract, sender=deployer)
        return tree, web3_view(chain, tree).functions

    return _deploy


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(updates=update_batches(), data=st.data())
def test_tree_matches_a_plain_list(deploy_tree: Any, updates: list[Update], data: st.DataObject) -> None:
    _, view = deploy_tree(updates)
    leaves = reference_leaves(updates)
    total, size = view.shape().call()
    assert total == sum(leaves.values())
    highest = max(index for index, _, subtract in updates if not subtract)
    assert size == 1 << (highest - 1).bit_length(), f"span {size} for highest leaf {highest}"

    positive = sorted(i for i, w in leaves.items() if w > 0)
    excluded = set(data.draw(st.lists(st.sampled_from(positive), max_size=3, unique=True))) if positive else set()
    if sum(w for i, w in leaves.items() if i not in excluded) == 0:
        return
    skip = sorted(excluded)
    for target in boundary_targets(leaves, excluded):
        got = view.find(target, skip, [leaves[i] for i in skip]).call()
        assert got == reference_find(leaves, target, excluded), f"target {target}, excluded {skip}"


def test_index_bounds_and_underflow(deploy_tree: Any, deployer: Any) -> None:
    tree, _ = deploy_tree([(3, 10, False)])
    for index in (0, SIZE + 1):
        with ape.reverts(tree.SumTreeIndexOutOfRange):
            tree.update([index], [1], [False], sender=deployer)
    # A leaf beyond the span was never added: subtracting from it is out of range, not a no-op.
    with ape.reverts(tree.SumTreeIndexOutOfRange):
        tree.update([5], [1], [True], sender=deployer)
    with ape.reverts():
        tree.update([3], [11], [True], sender=deployer)
    with ape.reverts(tree.SumTreeTargetOutOfRange):
        tree.find(10, [], [])
