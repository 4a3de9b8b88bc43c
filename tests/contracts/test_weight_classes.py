"""WeightClasses (the pools behind committee draws) against a plain dict, with hypothesis.

A pool lists members in power-of-two weight classes; a draw names a member and a coin from one
number r below its total. The draw is exact when, for every member left in it, exactly
min(weight, cap) values of r propose that member with a coin below its weight, and no value of r
proposes a member taken out. The tally walks every r, so these cases use small weights; the
bookkeeping case uses the whole 96-bit range.
"""

from __future__ import annotations

from typing import Any

import ape
import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_helpers import web3_view

MEMBERS = [to_checksum_address(f"0x{k + 1:040x}") for k in range(8)]
Update = tuple[str, int, int]  # member, listed weight before (0 = unlisted), weight after


@st.composite
def update_batches(draw: st.DrawFn, weights: st.SearchStrategy[int]) -> tuple[list[Update], dict[str, int]]:
    """Inserts, removals and reweighs that are each valid for the pool as it stands, and the
    weights the pool lists at the end."""
    listed: dict[str, int] = {}
    updates: list[Update] = []
    for _ in range(draw(st.integers(1, 24))):
        member = draw(st.sampled_from(MEMBERS))
        previous = listed.get(member, 0)
        current = draw(weights) if previous == 0 or draw(st.booleans()) else 0
        updates.append((member, previous, current))
        if current:
            listed[member] = current
        else:
            listed.pop(member, None)
    return updates, listed


SMALL = st.one_of(st.integers(1, 40), st.sampled_from([1, 2, 3, 4, 7, 8, 15, 16, 31, 32]))
ANY_WEIGHT = st.one_of(st.integers(1, 2**96 - 1), st.sampled_from([1, 2**95, 2**96 - 1]))


@pytest.fixture
def deploy_pool(project: Any, deployer: Any, chain: Any) -> Any:
    def _deploy(updates: list[Update]) -> tuple[Any, Any]:
        pool = deployer.deploy(project.WeightClassesHarness)
        members, previous, current = (list(column) for column in zip(*updates, strict=True))
        pool.update(members, previous, current, sender=deployer)
        return pool, web3_view(chain, pool).functions

    return _deploy


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=update_batches(ANY_WEIGHT))
def test_the_pool_lists_what_a_plain_dict_lists(deploy_pool: Any, batch: tuple[list[Update], dict[str, int]]) -> None:
    updates, listed = batch
    _, view = deploy_pool(updates)
    assert tuple(view.shape().call()) == (len(listed), sum(listed.values()))
    for member in MEMBERS:
        assert view.isListed(member).call() == (member in listed), member


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=update_batches(SMALL), data=st.data())
def test_every_draw_keeps_each_member_in_proportion_to_its_capped_weight(
    deploy_pool: Any, batch: tuple[list[Update], dict[str, int]], data: st.DataObject
) -> None:
    updates, listed = batch
    _, view = deploy_pool(updates)
    if not listed:
        return
    cap = data.draw(st.integers(1, 48), label="cap")
    # Excluded: listed or not, repeated or not; then up to three draws taken out by proposal.
    exclude = data.draw(st.lists(st.sampled_from(MEMBERS), max_size=5), label="exclude")
    expected_out = list(dict.fromkeys(m for m in exclude if m in listed))
    room = len(listed) - len(expected_out)
    takes = data.draw(st.lists(st.integers(0, 2**64), max_size=min(3, max(room - 1, 0))), label="takes")
    weights = [listed.get(m, 0) for m in MEMBERS]

    kept, proposed, left, total, out = view.tally(cap, exclude, takes, MEMBERS, weights).call()

    out = [to_checksum_address(m) for m in out]
    assert out[: len(expected_out)] == expected_out
    taken = out[len(expected_out):]
    assert len(taken) == len(takes) and len(set(out)) == len(out) and set(taken) <= set(listed)
    assert left == len(listed) - len(out)
    assert sum(proposed) == total
    for member, k, p in zip(MEMBERS, kept, proposed, strict=True):
        if member in listed and member not in out:
            assert k == min(listed[member], cap), f"{member}: kept by {k} values of r, weight {listed[member]}, cap {cap}"
            assert k <= p < 2 * k, "a try keeps its proposal with probability above 1/2"
        else:
            assert (k, p) == (0, 0), f"{member} is out of the draw but was proposed"


def test_excluding_a_member_the_draw_already_moved_takes_out_that_member(deploy_pool: Any) -> None:
    # One class (weights 4..7). Excluding the first member moves the last into its place; the
    # last must then be found where the draw moved it, not where storage still says it is.
    weights = [5, 6, 7, 4]
    _, view = deploy_pool([(m, 0, w) for m, w in zip(MEMBERS, weights, strict=False)])
    padded = weights + [0] * (len(MEMBERS) - len(weights))
    kept, proposed, left, total, out = view.tally(100, [MEMBERS[0], MEMBERS[3]], [], MEMBERS, padded).call()
    assert [to_checksum_address(m) for m in out] == [MEMBERS[0], MEMBERS[3]]
    assert (left, total) == (2, 2 * 7)
    assert kept[:4] == [0, 6, 7, 0] and proposed[:4] == [0, 7, 7, 0]


def test_invalid_updates_revert(deploy_pool: Any, deployer: Any) -> None:
    pool, _ = deploy_pool([(MEMBERS[0], 0, 5)])
    for weight in (0, 2**96):
        with ape.reverts(pool.WeightClassesInvalidWeight):
            pool.update([MEMBERS[1]], [0], [weight], sender=deployer)
    with ape.reverts(pool.WeightClassesListed):
        pool.update([MEMBERS[0]], [0], [5], sender=deployer)
    with ape.reverts(pool.WeightClassesNotListed):
        pool.update([MEMBERS[1]], [5], [0], sender=deployer)
    # The weight names the class: a removal with another class's weight is refused, not guessed.
    with ape.reverts(pool.WeightClassesNotListed):
        pool.update([MEMBERS[0]], [9], [0], sender=deployer)
