"""JobRegistry's batched phases: many jobs per transaction, and one bad item never sinks the rest.

Each skipped item is reported with BatchItemSkipped and the reason the single-job call would
revert with; gas per item is the same in a batch of 4 as in a batch of 32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError

from contract_helpers import (
    COMMIT_WINDOW,
    FEE,
    SALT,
    commit_for,
    near,
    random_vector,
    reverts_with,
    seat_nodes,
    time_travel,
    web3_view,
)
from infera.chain import NO_SEAT_HINT

REVEALING, ACCEPTED = 3, 4
# IJobRegistry.Skip
(NONE, WRONG_STATUS, DEADLINE_PASSED, DEADLINE_NOT_REACHED, NOT_ASSIGNED, WRONG_SEAT_STATE, ZERO_COMMITMENT,
 INVALID_VECTOR_LENGTH, COMMITMENT_MISMATCH, REVEAL_PENDING, VECTOR_COUNT_MISMATCH, VECTOR_MISMATCH) = range(12)


def skipped(tx: Any, jobs: Any) -> dict[int, int]:
    return {e.jobId: e.reason for e in tx.decode_logs(jobs.BatchItemSkipped)}


def vectors_for(job_id: int) -> list[bytes]:
    """Three agreeing vectors, one per seat."""
    base = random_vector(job_id)
    return [base, near(base, 1000 + job_id), near(base, 2000 + job_id)]


@pytest.fixture
def wide_nodes(register: Callable[..., None], node_accounts: list[Any]) -> list[Any]:
    """Three nodes with room for many open jobs each."""
    for account in node_accounts[:3]:
        register(account, capacity=128)
    return node_accounts[:3]


def commit_all(chain: Any, jobs: Any, nodes: list[Any], job_ids: list[int]) -> None:
    for node in nodes:
        commitments = [commit_for(chain, jobs, j, node, vectors_for(j)[_seat(jobs, j, node)]) for j in job_ids]
        jobs.commitBatch(job_ids, seats_of(jobs, job_ids, node), commitments, sender=node)


def reveal_all(jobs: Any, nodes: list[Any], job_ids: list[int]) -> None:
    for node in nodes:
        jobs.revealBatch(job_ids, seats_of(jobs, job_ids, node), [vectors_for(j)[_seat(jobs, j, node)] for j in job_ids],
                         [SALT] * len(job_ids), sender=node)


def _seat(jobs: Any, job_id: int, node: Any) -> int:
    return seat_nodes(jobs, job_id).index(node.address)


def seats_of(jobs: Any, job_ids: list[int], node: Any) -> list[int]:
    """The node's seat index on each job (the batched calls' hints), NO_SEAT_HINT where it has none."""
    return [_seat(jobs, j, node) if j <= jobs.jobCount() and node.address in seat_nodes(jobs, j) else NO_SEAT_HINT
            for j in job_ids]


# ------------------------------------------------------------------------------- commit
def test_commit_batch_commits_the_callers_jobs_and_skips_the_rest_with_the_reason(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], requester: Any
) -> None:
    submit(["a", "b", "c"])
    node = three_nodes[0]
    c = {j: commit_for(chain, jobs, j, node, random_vector(j)) for j in (1, 2, 3)}
    jobs.commit(1, c[1], sender=node)

    tx = jobs.commitBatch([1, 2, 3, 99], seats_of(jobs, [1, 2, 3, 99], node), [c[1], c[2], b"\x00" * 32, c[1]], sender=node)

    assert [e.jobId for e in tx.decode_logs(jobs.Committed)] == [2]
    assert skipped(tx, jobs) == {1: WRONG_SEAT_STATE, 3: ZERO_COMMITMENT, 99: WRONG_STATUS}
    # Somebody without a seat: every item skipped, so the batch refuses to spend gas for nothing.
    with reverts_with(jobs.JobRegistryBatchNothingDone, count=1):
        jobs.commitBatch([2], [NO_SEAT_HINT], [c[2]], sender=requester)


def test_a_seat_hint_naming_another_nodes_seat_never_takes_it(
    chain: Any, jobs: Any, register: Callable[..., None], node_accounts: list[Any], submit: Callable[..., Any]
) -> None:
    """The hint only saves a search: the seat's digest (its node's tag, then the commitment that
    binds the node's address) decides whose seat it is."""
    for account in node_accounts[:4]:
        register(account)
    submit(["a"])
    by_address = {a.address: a for a in node_accounts[:4]}
    first, second, third = (by_address[n] for n in seat_nodes(jobs, 1))
    outsider = next(a for a in node_accounts[:4] if a.address not in seat_nodes(jobs, 1))
    vectors = vectors_for(1)
    before = [bytes(s.digest) for s in jobs.getSeats(1)]

    # A seated node pointing at seat 0 (not its own) commits its own seat, 1.
    tx = jobs.commitBatch([1], [0], [commit_for(chain, jobs, 1, second, vectors[1])], sender=second)
    assert [e.node for e in tx.decode_logs(jobs.Committed)] == [second.address]
    digests = [bytes(s.digest) for s in jobs.getSeats(1)]
    assert digests[0] == before[0] and digests[1] != before[1]
    # A registered node without a seat gets nothing, whatever it points at.
    with reverts_with(jobs.JobRegistryBatchNothingDone, count=1):
        jobs.commitBatch([1], [0], [commit_for(chain, jobs, 1, outsider, vectors[0])], sender=outsider)
    assert bytes(jobs.getSeats(1)[0].digest) == before[0]

    for node, seat in ((first, 0), (third, 2)):
        jobs.commit(1, commit_for(chain, jobs, 1, node, vectors[seat]), sender=node)
    # Reveal: pointing at another committed seat still opens only the caller's own commitment.
    tx = jobs.revealBatch([1], [0], [vectors[1]], [SALT], sender=second)
    assert [e.node for e in tx.decode_logs(jobs.Revealed)] == [second.address]
    assert [s.state for s in jobs.getSeats(1)] == [1, 2, 1]  # Committed, Revealed, Committed


def test_a_late_commit_in_a_batch_is_skipped_while_the_others_land(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any]
) -> None:
    submit(["early"])
    time_travel(chain, COMMIT_WINDOW + 1)
    submit(["fresh"])
    node = three_nodes[0]
    tx = jobs.commitBatch([1, 2], seats_of(jobs, [1, 2], node),
                          [commit_for(chain, jobs, j, node, random_vector(j)) for j in (1, 2)], sender=node)
    assert skipped(tx, jobs) == {1: DEADLINE_PASSED}
    assert [e.jobId for e in tx.decode_logs(jobs.Committed)] == [2]


def test_batches_check_their_shape(jobs: Any, three_nodes: list[Any], submit: Callable[..., Any]) -> None:
    submit(["a"])
    node = three_nodes[0]
    with reverts_with(jobs.JobRegistryInvalidBatch, count=0):
        jobs.commitBatch([], [], [], sender=node)
    with reverts_with(jobs.JobRegistryInvalidBatch, count=65):
        jobs.advanceBatch([1] * 65, sender=node)
    with reverts_with(jobs.JobRegistryBatchLengthMismatch, jobs=1, items=2):
        jobs.commitBatch([1], [0], [b"\x01" * 32] * 2, sender=node)
    with reverts_with(jobs.JobRegistryBatchLengthMismatch, jobs=1, items=0):
        jobs.commitBatch([1], [], [b"\x01" * 32], sender=node)
    with reverts_with(jobs.JobRegistryBatchLengthMismatch, jobs=1, items=0):
        jobs.revealBatch([1], [0], [random_vector(1)], [], sender=node)
    with reverts_with(jobs.JobRegistryBatchLengthMismatch, jobs=1, items=0):
        jobs.revealBatch([1], [], [random_vector(1)], [SALT], sender=node)
    with reverts_with(jobs.JobRegistryBatchLengthMismatch, jobs=2, items=1):
        jobs.finalizeBatch([1, 1], [[b"", b"", b""]], sender=node)


# ------------------------------------------------------------------------------- reveal
def test_reveal_batch_skips_a_wrong_salt_a_wrong_length_and_a_repeat(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any]
) -> None:
    submit(["a", "b", "c", "d"])
    ids = [1, 2, 3, 4]
    commit_all(chain, jobs, three_nodes, ids)
    assert all(jobs.getJob(j).status == REVEALING for j in ids)
    node = three_nodes[0]
    mine = {j: vectors_for(j)[_seat(jobs, j, node)] for j in ids}
    jobs.reveal(4, mine[4], SALT, sender=node)

    tx = jobs.revealBatch(ids, seats_of(jobs, ids, node), [mine[1], mine[2], mine[3][:-1], mine[4]],
                          [SALT, b"\x07" * 32, SALT, SALT], sender=node)

    assert [e.jobId for e in tx.decode_logs(jobs.Revealed)] == [1]
    assert skipped(tx, jobs) == {2: COMMITMENT_MISMATCH, 3: INVALID_VECTOR_LENGTH, 4: WRONG_SEAT_STATE}
    assert jobs.getJob(1).revealed == 1 and jobs.getJob(2).revealed == 0


# ----------------------------------------------------------------------------- finalize
def test_finalize_batch_accepts_ready_jobs_and_skips_pending_and_forged_ones(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any
) -> None:
    submit(["a", "b", "c", "d", "e"])
    ids = [1, 2, 3, 4, 5]
    commit_all(chain, jobs, three_nodes, ids)
    reveal_all(jobs, three_nodes, [1, 2, 3, 5])  # job 4's reveals are still pending
    seat_vectors = {j: [vectors_for(j)[i] for i in range(3)] for j in ids}
    forged = [random_vector(77)] + seat_vectors[3][1:]
    keeper = accounts[9]

    tx = jobs.finalizeBatch(ids, [seat_vectors[1], seat_vectors[2][:2], forged, seat_vectors[4], seat_vectors[5]],
                            sender=keeper)

    assert [e.jobId for e in tx.decode_logs(jobs.JobAccepted)] == [1, 5]
    assert skipped(tx, jobs) == {2: VECTOR_COUNT_MISMATCH, 3: VECTOR_MISMATCH, 4: REVEAL_PENDING}
    assert jobs.getJob(1).status == ACCEPTED and jobs.getJob(3).status == REVEALING
    # A second keeper racing for the same jobs finds nothing left to do and pays nothing.
    with reverts_with(jobs.JobRegistryBatchNothingDone, count=2):
        jobs.finalizeBatch([1, 5], [seat_vectors[1], seat_vectors[5]], sender=keeper)


def test_single_finalize_still_names_the_forged_seat(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any]
) -> None:
    submit(["a"])
    commit_all(chain, jobs, three_nodes, [1])
    reveal_all(jobs, three_nodes, [1])
    vectors = vectors_for(1)
    with reverts_with(jobs.JobRegistryVectorMismatch, jobId=1, seat=2):
        jobs.finalize(1, [vectors[0], vectors[1], random_vector(5)], sender=three_nodes[0])


# ------------------------------------------------------------------------------ advance
def test_advance_batch_moves_only_the_jobs_past_their_deadline(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any]
) -> None:
    submit(["old"])
    time_travel(chain, COMMIT_WINDOW + 1)
    submit(["new"])
    tx = jobs.advanceBatch([1, 2], sender=three_nodes[0])
    assert skipped(tx, jobs) == {2: DEADLINE_NOT_REACHED}
    assert [e.jobId for e in tx.decode_logs(jobs.JobReassigned)] == [1]


def test_every_job_of_a_submit_reads_and_is_refunded_to_its_own_calls_requester(
    chain: Any, jobs: Any, token: Any, accounts: Any, requester: Any, three_nodes: list[Any],
    submit: Callable[..., Any], draw: Callable[[], Any]
) -> None:
    """A submit call's requester and fee are stored once for all its jobs (keyed by the call's
    first job id): each job must find its own call's, whatever its place in the call."""
    other = accounts[6]
    submit(["a0", "a1", "a2"], assign=False)
    submit(["b0", "b1"], sender=other, assign=False)
    draw()
    views = jobs.getJobs([1, 2, 3, 4, 5])
    assert [v.requester for v in views] == [requester.address] * 3 + [other.address] * 2
    assert [v.fee for v in views] == [FEE] * 5
    before = {a.address: token.balanceOf(a) for a in (requester, other)}
    # Nobody commits: the redraw finds no node left untried, so every job is refunded.
    time_travel(chain, COMMIT_WINDOW + 1)
    jobs.advanceBatch([1, 2, 3, 4, 5], sender=three_nodes[0])
    tx = draw()
    refunds = {e.jobId: (e.requester, e.fee) for e in tx.decode_logs(jobs.JobRefunded)}
    assert refunds == {1: (requester.address, FEE), 2: (requester.address, FEE), 3: (requester.address, FEE),
                       4: (other.address, FEE), 5: (other.address, FEE)}
    assert token.balanceOf(requester) == before[requester.address] + 3 * FEE
    assert token.balanceOf(other) == before[other.address] + 2 * FEE


# -------------------------------------------------------------------------------- gas
def _batch_gas(chain: Any, jobs: Any, nodes: list[Any], job_ids: list[int]) -> tuple[int, int, int]:
    """Gas of each phase for `job_ids`, summed over the three nodes: each job seats every node
    once, so the sum does not depend on where each node sits (a later seat costs a read more)."""
    commit = reveal = 0
    for node in nodes:
        mine = {j: vectors_for(j)[_seat(jobs, j, node)] for j in job_ids}
        commit += jobs.commitBatch(job_ids, seats_of(jobs, job_ids, node),
                                   [commit_for(chain, jobs, j, node, mine[j]) for j in job_ids], sender=node).gas_used
    for node in nodes:
        mine = {j: vectors_for(j)[_seat(jobs, j, node)] for j in job_ids}
        reveal += jobs.revealBatch(job_ids, seats_of(jobs, job_ids, node), [mine[j] for j in job_ids],
                                   [SALT] * len(job_ids), sender=node).gas_used
    finalize_tx = jobs.finalizeBatch(job_ids, [vectors_for(j) for j in job_ids], sender=nodes[0])
    assert [e.jobId for e in finalize_tx.decode_logs(jobs.JobAccepted)] == job_ids
    return commit, reveal, finalize_tx.gas_used


def test_gas_per_item_does_not_grow_with_the_batch(
    chain: Any, jobs: Any, wide_nodes: list[Any], submit: Callable[..., Any]
) -> None:
    # Three nodes with room for 36 open jobs each: every job seats all three.
    submit([f"small {i}" for i in range(4)])
    small = _batch_gas(chain, jobs, wide_nodes, [1, 2, 3, 4])
    submit([f"large {i}" for i in range(32)])
    large = _batch_gas(chain, jobs, wide_nodes, list(range(5, 37)))
    for phase, s, big, txs in zip(("commit", "reveal", "finalize"), small, large, (3, 3, 1), strict=True):
        per_small, per_large = s / 4, big / 32
        # The fixed 21,000 of a transaction spreads thinner in a larger batch; the rest must not grow.
        assert per_large <= per_small, (phase, per_small, per_large)
        marginal = (big - s) / 28
        assert marginal <= (s - 21_000 * txs) / 4 * 1.02, (phase, marginal, (s - 21_000 * txs) / 4)


# ------------------------------------------------------------------------------- reads
def test_get_jobs_reads_many_jobs_in_order_and_refuses_an_unknown_id(
    chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any]
) -> None:
    submit(["a", "b", "c"])
    assert [tuple(j) for j in jobs.getJobs([3, 1])] == [tuple(jobs.getJob(3)), tuple(jobs.getJob(1))]
    # Ape does not decode a view's custom error here, so read the raw revert data through web3.
    with pytest.raises(ContractCustomError) as info:
        web3_view(chain, jobs).functions.getJobs([1, 4]).call()
    unknown = keccak(text="JobRegistryUnknownJob(uint256)")[:4] + (4).to_bytes(32, "big")
    assert info.value.data == "0x" + unknown.hex()
