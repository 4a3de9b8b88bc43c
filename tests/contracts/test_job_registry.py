"""JobRegistry: the job's life, every revert path, payment, slashing, refunds and callbacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ape
import pytest
from eth_utils.crypto import keccak

from contract_helpers import (
    COMMIT_WINDOW,
    DIM,
    EMISSION_PER_FEE_BPS,
    FEE,
    MAX_JOB_LIFETIME,
    ONE,
    REVEAL_WINDOW,
    SALT,
    THRESHOLD_PPM,
    assign_all,
    commit_for,
    mine_block,
    model_params,
    near,
    policy_tuple,
    random_vector,
    reverts_with,
    seat_nodes,
    time_travel,
)
from infera.chain import commitment_of
from infera.vectors import cosine, unpack

DRAWING, COMMITTING, REVEALING, ACCEPTED, REFUNDED = 1, 2, 3, 4, 5
AGREED, DISAGREED, WITHHELD, MISSED, RELEASED = 0, 1, 2, 3, 4
ASSIGNED = 0  # SeatState


def accounts_of(accounts: Any, addresses: list[str]) -> list[Any]:
    by_address = {a.address: a for a in accounts}
    return [by_address[a] for a in addresses]


# ------------------------------------------------------------------------------- submit
def test_submit_escrows_fee_then_assign_draws_the_committee(jobs: Any, token: Any, requester: Any, three_nodes: list[Any], submit: Callable[..., Any], draw: Callable[[], Any]) -> None:
    before = token.balanceOf(requester)
    tx = submit(["first", "second"], assign=False)
    assert token.balanceOf(requester) == before - 2 * FEE
    assert token.balanceOf(jobs) == 2 * FEE
    submitted = tx.decode_logs(jobs.JobSubmitted)
    assert [e.jobId for e in submitted] == [1, 2]
    assert submitted[0].input == "first" and submitted[0].fee == FEE
    # Nobody is seated in the submitting transaction: the draw waits for this block's hash.
    assert not tx.decode_logs(jobs.JobAssigned)
    queued = tx.decode_logs(jobs.DrawQueued)[0]
    assert (queued.firstJobId, queued.count, queued.drawBlock) == (1, 2, tx.block_number)
    assert jobs.getJob(1).status == DRAWING and list(jobs.getSeats(1)) == []
    assert not jobs.drawsDue()  # the submitting block's hash does not exist yet
    mine_block()
    assert jobs.drawsDue()
    assigned = draw().decode_logs(jobs.JobAssigned)
    assert len(assigned) == 6
    assert not jobs.drawsDue()
    with reverts_with(jobs.JobRegistryNoDrawDue):
        draw()
    job = jobs.getJob(1)
    assert (job.status, job.seatCount, job.minAgreement, job.thresholdPpm, job.dimension) == (COMMITTING, 3, 2, 900_000, DIM)
    assert set(seat_nodes(jobs, 1)) == {a.address for a in three_nodes}
    assert jobs.jobCount() == 2


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ([], "JobRegistryInvalidBatch"),
        (["x"] * 65, "JobRegistryInvalidBatch"),
        ([""], "JobRegistryInvalidInput"),
        (["ok", "y" * 2049], "JobRegistryInvalidInput"),
    ],
)
def test_submit_rejects_bad_batches(jobs: Any, token: Any, requester: Any, three_nodes: list[Any], inputs: list[str], error: str) -> None:
    token.approve(jobs, 100 * FEE, sender=requester)
    with ape.reverts(getattr(jobs, error)):
        jobs.submit(1, inputs, FEE, False, sender=requester)


def test_longest_input_is_accepted(three_nodes: list[Any], submit: Callable[..., Any], jobs: Any) -> None:
    submit(["é" * 1024])  # 2,048 bytes of UTF-8
    assert jobs.getJob(1).status == COMMITTING


def test_submit_guards(jobs: Any, nodes: Any, chain: Any, models: Any, token: Any, deployer: Any, requester: Any, node_accounts: list[Any], register: Callable[..., None]) -> None:
    token.approve(jobs, 10 * FEE, sender=requester)
    with ape.reverts(jobs.JobRegistryFeeAboveMax):
        jobs.submit(1, ["x"], FEE - 1, False, sender=requester)
    with ape.reverts(models.ModelRegistryUnknownModel):
        jobs.submit(7, ["x"], FEE, False, sender=requester)
    register(node_accounts[0])
    register(node_accounts[1])
    with reverts_with(jobs.JobRegistryNotEnoughNodes, modelId=1, eligible=2, needed=3):
        jobs.submit(1, ["x"], FEE, False, sender=requester)
    register(node_accounts[2])
    models.setActive(1, False, sender=deployer)
    with ape.reverts(jobs.JobRegistryModelInactive):
        jobs.submit(1, ["x"], FEE, False, sender=requester)


def test_submit_without_allowance_reverts(jobs: Any, token: Any, requester: Any, three_nodes: list[Any]) -> None:
    token.approve(jobs, 0, sender=requester)
    with ape.reverts(token.ERC20InsufficientAllowance):
        jobs.submit(1, ["x"], FEE, False, sender=requester)


def test_submit_with_permit_needs_no_prior_approval(jobs: Any, token: Any, chain: Any, requester: Any, three_nodes: list[Any]) -> None:
    from test_infer_token import permit_signature

    token.approve(jobs, 0, sender=requester)
    deadline = chain.pending_timestamp + 600
    v, r, s = permit_signature(token, chain, requester, jobs.address, FEE, deadline)
    tx = jobs.submitWithPermit(1, ["x"], FEE, False, FEE, deadline, v, r, s, sender=requester)
    assert tx.decode_logs(jobs.JobSubmitted)[0].jobId == 1
    # Replaying the used permit is ignored; the transfer then fails on the allowance.
    with ape.reverts(token.ERC20InsufficientAllowance):
        jobs.submitWithPermit(1, ["x"], FEE, False, FEE, deadline, v, r, s, sender=requester)


def test_model_update_does_not_change_jobs_in_flight(jobs: Any, models: Any, deployer: Any, three_nodes: list[Any], submit: Callable[..., Any]) -> None:
    submit()
    models.updateModel(1, model_params(threshold=990_000, quorum=1, min_agreement=1), sender=deployer)
    job = jobs.getJob(1)
    assert (job.thresholdPpm, job.minAgreement, job.seatCount) == (900_000, 2, 3)


# --------------------------------------------------------------------------------- commit
def test_commit_reverts(jobs: Any, chain: Any, node_accounts: list[Any], three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    seat = accounts_of(accounts, seat_nodes(jobs, 1))[0]
    v = random_vector(1)
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.commit(99, commit_for(chain, jobs, 99, seat, v), sender=seat)
    with ape.reverts(jobs.JobRegistryZeroCommitment):
        jobs.commit(1, b"\x00" * 32, sender=seat)
    with ape.reverts(jobs.JobRegistryNotAssigned):
        jobs.commit(1, commit_for(chain, jobs, 1, node_accounts[5], v), sender=node_accounts[5])
    tx = jobs.commit(1, commit_for(chain, jobs, 1, seat, v), sender=seat)
    assert tx.decode_logs(jobs.Committed)[0].node == seat.address
    with ape.reverts(jobs.JobRegistryWrongSeatState):
        jobs.commit(1, commit_for(chain, jobs, 1, seat, v), sender=seat)


def test_commit_after_deadline_reverts(jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    seat = accounts_of(accounts, seat_nodes(jobs, 1))[0]
    time_travel(chain, COMMIT_WINDOW + 1)
    with ape.reverts(jobs.JobRegistryDeadlinePassed):
        jobs.commit(1, commit_for(chain, jobs, 1, seat, random_vector(1)), sender=seat)


def test_last_commit_starts_reveal(jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    seats = accounts_of(accounts, seat_nodes(jobs, 1))
    for i, seat in enumerate(seats):
        tx = jobs.commit(1, commit_for(chain, jobs, 1, seat, random_vector(i)), sender=seat)
    started = tx.decode_logs(jobs.RevealStarted)
    assert len(started) == 1
    job = jobs.getJob(1)
    assert job.status == REVEALING and job.deadline == started[0].revealDeadline


def test_sdk_commitment_equals_contract(jobs: Any, chain: Any, accounts: Any) -> None:
    v = random_vector(3)
    expected = jobs.commitmentOf(5, accounts[1], v, SALT)
    assert commitment_of(chain.chain_id, jobs.address, 5, accounts[1].address, v, SALT) == bytes(expected)
    # The node's address is bound: the same vector and salt commit differently for another node.
    assert jobs.commitmentOf(5, accounts[2], v, SALT) != expected


# --------------------------------------------------------------------------------- reveal
def test_reveal_reverts(jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any, node_accounts: list[Any]) -> None:
    submit()
    seats = accounts_of(accounts, seat_nodes(jobs, 1))
    vectors = [random_vector(i) for i in range(3)]
    jobs.commit(1, commit_for(chain, jobs, 1, seats[0], vectors[0]), sender=seats[0])
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.reveal(1, vectors[0], SALT, sender=seats[0])
    for seat, v in zip(seats[1:], vectors[1:], strict=True):
        jobs.commit(1, commit_for(chain, jobs, 1, seat, v), sender=seat)
    with ape.reverts(jobs.JobRegistryInvalidVectorLength):
        jobs.reveal(1, vectors[0][:-32], SALT, sender=seats[0])
    with ape.reverts(jobs.JobRegistryCommitmentMismatch):
        jobs.reveal(1, vectors[1], SALT, sender=seats[0])  # another vector
    with ape.reverts(jobs.JobRegistryCommitmentMismatch):
        jobs.reveal(1, vectors[0], b"\x01" * 32, sender=seats[0])  # another salt
    with ape.reverts(jobs.JobRegistryNotAssigned):
        jobs.reveal(1, vectors[0], SALT, sender=node_accounts[5])
    tx = jobs.reveal(1, vectors[0], SALT, sender=seats[0])
    assert bytes(tx.decode_logs(jobs.Revealed)[0].vector) == vectors[0]
    with ape.reverts(jobs.JobRegistryWrongSeatState):
        jobs.reveal(1, vectors[0], SALT, sender=seats[0])


def test_copied_commitment_cannot_be_revealed(jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    """A node that copies another's commitment cannot open it: the hash binds the committer."""
    submit()
    honest, copier, third = accounts_of(accounts, seat_nodes(jobs, 1))
    v = random_vector(1)
    honest_commitment = commit_for(chain, jobs, 1, honest, v)
    jobs.commit(1, honest_commitment, sender=honest)
    jobs.commit(1, honest_commitment, sender=copier)
    jobs.commit(1, commit_for(chain, jobs, 1, third, v), sender=third)
    jobs.reveal(1, v, SALT, sender=honest)
    with ape.reverts(jobs.JobRegistryCommitmentMismatch):
        jobs.reveal(1, v, SALT, sender=copier)


def test_reveal_after_deadline_reverts(jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    seats = accounts_of(accounts, seat_nodes(jobs, 1))
    v = random_vector(1)
    for seat in seats:
        jobs.commit(1, commit_for(chain, jobs, 1, seat, v), sender=seat)
    time_travel(chain, REVEAL_WINDOW + 1)
    with ape.reverts(jobs.JobRegistryDeadlinePassed):
        jobs.reveal(1, v, SALT, sender=seats[0])


# ------------------------------------------------------------------------------- finalize
def test_three_agreeing_nodes_are_paid(jobs: Any, token: Any, treasury: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    base = random_vector(7)
    vectors = [base, near(base, 1), near(base, 2)]
    seats = run_job(1, vectors)
    balances = [token.balanceOf(s) for s in seats]
    treasury_before = token.balanceOf(treasury)
    with ape.reverts(jobs.JobRegistryVectorCountMismatch):
        jobs.finalize(1, vectors[:2], sender=seats[0])
    with ape.reverts(jobs.JobRegistryVectorMismatch):
        jobs.finalize(1, [vectors[1], vectors[0], vectors[2]], sender=seats[0])
    tx = jobs.finalize(1, vectors, sender=seats[0])
    accepted = tx.decode_logs(jobs.JobAccepted)[0]
    assert set(accepted.agreeing) == {s.address for s in seats}
    job = jobs.getJob(1)
    assert job.status == ACCEPTED
    # The registry stores no result hash (it duplicated the event's), and an ended job keeps no
    # seats: their slots go to the next job (SeatPool).
    assert bytes(accepted.resultHash) == keccak(accepted.vector)
    assert list(jobs.getSeats(1)) == []
    fee_each = FEE * 9_500 // 10_000 // 3
    for seat, before in zip(seats, balances, strict=True):
        assert token.balanceOf(seat) == before + fee_each
    assert token.balanceOf(treasury) == treasury_before + FEE - 3 * fee_each
    assert token.balanceOf(jobs) == 0
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.finalize(1, vectors, sender=seats[0])


def test_a_new_job_reuses_an_ended_jobs_seat_slots_and_shows_only_its_own(
        jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any],
        accounts: Any) -> None:
    """Job 1 ends and job 2 takes its seat slots (SeatPool). Nobody can read job 1's old seats as
    job 2's or job 2's as job 1's, nor use job 1's stale seats to act on job 2."""
    submit()
    base = random_vector(7)
    vectors = [base, near(base, 1), near(base, 2)]
    seats = run_job(1, vectors)
    jobs.finalize(1, vectors, sender=seats[0])
    submit(assign=False)
    # Job 2 waits for its draw over job 1's stale seats (revealed, with job 1's digests).
    assert list(jobs.getSeats(2)) == [] and list(jobs.getSeats(1)) == []
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.finalize(2, vectors, sender=seats[0])
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.reveal(2, vectors[0], SALT, sender=seats[0])
    assign_all(jobs, accounts[8])
    drawn = list(jobs.getSeats(2))
    assert [s.state for s in drawn] == [ASSIGNED] * 3 and {s.node for s in drawn} == {s.address for s in seats}
    assert list(jobs.getSeats(1)) == [] and jobs.getJob(1).revealed == 0  # job 1 shows none of job 2's
    seats2 = run_job(2, vectors)
    assert jobs.getJob(2).revealed == 3
    tx = jobs.finalize(2, vectors, sender=seats2[0])
    assert set(tx.decode_logs(jobs.JobAccepted)[0].agreeing) == {s.address for s in seats2}


def test_liar_is_slashed_and_not_paid(jobs: Any, nodes: Any, token: Any, treasury: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    base = random_vector(7)
    vectors = [base, near(base, 1), random_vector(99)]
    seats = run_job(1, vectors)
    liar = seats[2]
    liar_balance = token.balanceOf(liar)
    stake_before = nodes.getNode(liar).stake
    honest_before = [token.balanceOf(s) for s in seats[:2]]
    treasury_before = token.balanceOf(treasury)
    tx = jobs.finalize(1, vectors, sender=seats[0])
    assert set(tx.decode_logs(jobs.JobAccepted)[0].agreeing) == {seats[0].address, seats[1].address}
    outcomes = {e.node: (e.outcome, e.slashed) for e in tx.decode_logs(jobs.SeatSettled)}
    slashed = stake_before // 10
    assert outcomes[liar.address] == (DISAGREED, slashed)
    assert token.balanceOf(liar) == liar_balance
    assert nodes.getNode(liar).stake == stake_before - slashed
    assert nodes.getNode(liar).reputation == 10_000 - 1_000
    fee_each = FEE * 9_500 // 10_000 // 2
    reward_each = slashed * 5_000 // 10_000 // 2
    for seat, before in zip(seats[:2], honest_before, strict=True):
        assert token.balanceOf(seat) == before + fee_each + reward_each
        assert nodes.getNode(seat).reputation == 10_100
    assert token.balanceOf(treasury) == treasury_before + FEE + slashed - 2 * (fee_each + reward_each)


def test_withheld_reveal_is_slashed_after_deadline(jobs: Any, nodes: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    base = random_vector(7)
    vectors = [base, near(base, 1), near(base, 2)]
    seats = run_job(1, vectors, reveal=[True, True, False])
    with ape.reverts(jobs.JobRegistryRevealPending):
        jobs.finalize(1, [vectors[0], vectors[1], b""], sender=seats[0])
    time_travel(chain, REVEAL_WINDOW + 1)
    stake = nodes.getNode(seats[2]).stake
    tx = jobs.finalize(1, [vectors[0], vectors[1], b""], sender=seats[0])
    outcomes = {e.node: (e.outcome, e.slashed) for e in tx.decode_logs(jobs.SeatSettled)}
    assert outcomes[seats[2].address] == (WITHHELD, stake // 10)
    assert jobs.getJob(1).status == ACCEPTED


def test_no_agreement_refunds_requester(jobs: Any, nodes: Any, token: Any, requester: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    before = token.balanceOf(requester)
    vectors = [random_vector(1), random_vector(2), random_vector(3)]
    seats = run_job(1, vectors)
    tx = jobs.finalize(1, vectors, sender=seats[0])
    refund = tx.decode_logs(jobs.JobRefunded)[0]
    assert (refund.requester, refund.fee) == (requester.address, FEE)
    assert token.balanceOf(requester) == before + FEE
    assert jobs.getJob(1).status == REFUNDED
    # Nobody can tell who was right without a quorum: no slashing, seats released.
    assert all(e.outcome == RELEASED and e.slashed == 0 for e in tx.decode_logs(jobs.SeatSettled))
    assert all(nodes.getNode(s).openJobs == 0 for s in seats)


def test_zero_vectors_never_form_a_quorum(jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    submit()
    zero = bytes(DIM)
    seats = run_job(1, [zero, zero, zero])
    tx = jobs.finalize(1, [zero, zero, zero], sender=seats[0])
    assert tx.decode_logs(jobs.JobRefunded)


def test_finalize_reverts_in_commit_phase(jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.finalize(1, [b"", b"", b""], sender=accounts[5])


# -------------------------------------------------------------------------------- advance
def test_advance_before_deadline_reverts(jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    with ape.reverts(jobs.JobRegistryDeadlineNotReached):
        jobs.advance(1, sender=accounts[5])
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.advance(2, sender=accounts[5])


def test_advance_with_quorum_of_commits_starts_reveal(jobs: Any, nodes: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any], accounts: Any) -> None:
    submit()
    base = random_vector(7)
    seats = run_job(1, [base, near(base, 1), None], reveal=[False] * 3)
    time_travel(chain, COMMIT_WINDOW + 1)
    tx = jobs.advance(1, sender=accounts[5])
    assert tx.decode_logs(jobs.RevealStarted)
    assert tx.decode_logs(jobs.SeatSettled)[0].outcome == MISSED
    assert nodes.getNode(seats[2]).reputation == 10_000 - 500
    assert jobs.getJob(1).dropped == 1
    # The two that committed can still reveal, and the job is accepted with them.
    for seat, v in zip(seats[:2], [base, near(base, 1)], strict=True):
        jobs.reveal(1, v, SALT, sender=seat)
    tx = jobs.finalize(1, [base, near(base, 1), b""], sender=accounts[5])
    assert tx.decode_logs(jobs.JobAccepted)


def test_advance_reassigns_missing_seats_to_fresh_nodes(jobs: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None], submit: Callable[..., Any], run_job: Callable[..., Any], accounts: Any, draw: Callable[[], Any]) -> None:
    for account in node_accounts[:5]:
        register(account)
    submit()
    first = seat_nodes(jobs, 1)
    base = random_vector(7)
    run_job(1, [base, None, None], reveal=[False] * 3)
    time_travel(chain, COMMIT_WINDOW + 1)
    tx = jobs.advance(1, sender=accounts[5])
    assert tx.decode_logs(jobs.JobReassigned)[0].round == 1
    assert jobs.getJob(1).status == DRAWING
    draw()
    seats = jobs.getSeats(1)
    assert len(seats) == 5
    fresh = [s.node for s in seats[3:]]
    assert not set(fresh) & set(first), "a node already tried for the job was drawn again"
    assert jobs.getJob(1).status == COMMITTING
    newcomers = accounts_of(accounts, fresh)
    for i, account in enumerate(newcomers):
        jobs.commit(1, commit_for(chain, jobs, 1, account, near(base, i + 1)), sender=account)
    assert jobs.getJob(1).status == REVEALING


@pytest.fixture
def solo_job(jobs: Any, models: Any, token: Any, deployer: Any, requester: Any, node_accounts: list[Any], register: Callable[..., None], draw: Callable[[], Any]) -> int:
    """Job 1 on a one-seat model ("solo", id 2) served by five nodes."""
    models.registerModel(model_params(name="solo", quorum=1, min_agreement=1), sender=deployer)
    for account in node_accounts[:5]:
        register(account, model_ids=[2])
    token.approve(jobs, FEE, sender=requester)
    jobs.submit(2, ["x"], FEE, False, sender=requester)
    draw()
    return 1


def test_reassignment_is_bounded_then_refunds(jobs: Any, token: Any, chain: Any, requester: Any, solo_job: int, accounts: Any, draw: Callable[[], Any]) -> None:
    """With a one-seat committee and silent nodes, the seat is redrawn MAX_REASSIGNMENTS times, then refunded."""
    before = token.balanceOf(requester)
    for round_ in (1, 2):
        time_travel(chain, COMMIT_WINDOW + 1)
        assert jobs.advance(1, sender=accounts[5]).decode_logs(jobs.JobReassigned)[0].round == round_
        draw()
    assert len({s.node for s in jobs.getSeats(1)}) == 3
    time_travel(chain, COMMIT_WINDOW + 1)
    tx = jobs.advance(1, sender=accounts[5])
    assert tx.decode_logs(jobs.JobRefunded)
    assert token.balanceOf(requester) == before + FEE
    assert jobs.getJob(1).status == REFUNDED


def test_refund_when_no_fresh_nodes_remain(jobs: Any, token: Any, requester: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any, draw: Callable[[], Any]) -> None:
    submit()
    before = token.balanceOf(requester)
    time_travel(chain, COMMIT_WINDOW + 1)
    assert jobs.advance(1, sender=accounts[5]).decode_logs(jobs.JobReassigned)
    tx = draw()  # every serving node was tried: nobody to draw, so the draw refunds
    assert tx.decode_logs(jobs.JobRefunded)[0].fee == FEE
    assert jobs.getJob(1).status == REFUNDED
    assert token.balanceOf(requester) == before + FEE


# ------------------------------------------------------------------ redraw after missing reveals
@pytest.fixture
def seven_nodes(register: Callable[..., None], node_accounts: list[Any]) -> list[Any]:
    for account in node_accounts:
        register(account)
    return node_accounts


def play_round(jobs: Any, chain: Any, job_id: int, seats: list[Any], vectors: list[bytes], reveal: list[bool]) -> None:
    """Commit every given seat's vector, then reveal those marked."""
    for account, vector in zip(seats, vectors, strict=True):
        jobs.commit(job_id, commit_for(chain, jobs, job_id, account, vector), sender=account)
    for account, vector, shown in zip(seats, vectors, reveal, strict=True):
        if shown:
            jobs.reveal(job_id, vector, SALT, sender=account)


def withhold_two_of_three(jobs: Any, chain: Any, accounts: Any, first_vector: bytes) -> tuple[list[Any], Any]:
    """Round 0: seat 0 reveals `first_vector`, seats 1 and 2 commit and withhold; then the reveal
    deadline passes and anyone finalizes, and anyone draws the redraw it queued (if any).
    Returns round 0's seats and the finalize receipt."""
    first = accounts_of(accounts, seat_nodes(jobs, 1))
    base = random_vector(7)
    play_round(jobs, chain, 1, first, [first_vector, near(base, 1), near(base, 2)], [True, False, False])
    time_travel(chain, REVEAL_WINDOW + 1)
    tx = jobs.finalize(1, [first_vector, b"", b""], sender=accounts[9])
    if jobs.getJob(1).status == DRAWING:
        assign_all(jobs, accounts[8], 64)
    return first, tx


def test_missing_reveals_redraw_a_fresh_committee(jobs: Any, nodes: Any, token: Any, treasury: Any, chain: Any, seven_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    """Two of three seats withhold: they are slashed, a whole fresh committee is drawn with new
    deadlines, and the job is accepted with it; the round-0 revealer that agrees is paid too."""
    submit()
    base = random_vector(7)
    stakes = {a.address: nodes.getNode(a).stake for a in seven_nodes}
    treasury_before = token.balanceOf(treasury)
    first, tx = withhold_two_of_three(jobs, chain, accounts, base)
    assert not tx.decode_logs(jobs.JobAccepted) and not tx.decode_logs(jobs.JobRefunded)
    assert tx.decode_logs(jobs.JobReassigned)[0].round == 1
    settled = {e.node: (e.outcome, e.slashed) for e in tx.decode_logs(jobs.SeatSettled)}
    assert settled == {a.address: (WITHHELD, stakes[a.address] // 10) for a in first[1:]}
    assert token.balanceOf(treasury) == treasury_before + sum(s for _, s in settled.values())
    assert token.balanceOf(jobs) == FEE
    job = jobs.getJob(1)
    assert (job.status, job.round, job.voteFrom, job.committed, job.revealed) == (COMMITTING, 1, 3, 0, 0)
    assert job.deadline > chain.pending_timestamp
    seats = jobs.getSeats(1)
    assert [s.state for s in seats[:3]] == [2, 3, 3]  # revealed, dropped, dropped
    fresh = accounts_of(accounts, [s.node for s in seats[3:]])
    assert len(fresh) == 3 and not {a.address for a in fresh} & {a.address for a in first}
    assert [nodes.getNode(a).openJobs for a in first] == [1, 0, 0]
    # A replaced withholder can no longer reveal.
    with ape.reverts(jobs.JobRegistryWrongStatus):
        jobs.reveal(1, near(base, 1), SALT, sender=first[1])

    vectors = [near(base, 10 + i) for i in range(3)]
    play_round(jobs, chain, 1, fresh, vectors, [True] * 3)
    with ape.reverts(jobs.JobRegistryNotAssigned):
        jobs.reveal(1, near(base, 1), SALT, sender=first[1])
    tx = jobs.finalize(1, [base, b"", b"", *vectors], sender=accounts[9])
    agreeing = set(tx.decode_logs(jobs.JobAccepted)[0].agreeing)
    assert agreeing == {first[0].address} | {a.address for a in fresh}
    assert tx.decode_logs(jobs.JobAccepted)[0].feeEach == FEE * 9_500 // 10_000 // 4
    assert all(nodes.getNode(a).openJobs == 0 for a in seven_nodes)
    assert token.balanceOf(jobs) == 0


def test_earlier_liar_is_judged_by_the_round_that_decides(jobs: Any, nodes: Any, chain: Any, seven_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    liar_vector = random_vector(99)
    first, _ = withhold_two_of_three(jobs, chain, accounts, liar_vector)
    liar_stake = nodes.getNode(first[0]).stake
    fresh = accounts_of(accounts, seat_nodes(jobs, 1)[3:])
    base = random_vector(7)
    vectors = [near(base, 10 + i) for i in range(3)]
    play_round(jobs, chain, 1, fresh, vectors, [True] * 3)
    tx = jobs.finalize(1, [liar_vector, b"", b"", *vectors], sender=accounts[9])
    assert set(tx.decode_logs(jobs.JobAccepted)[0].agreeing) == {a.address for a in fresh}
    settled = {e.node: (e.outcome, e.slashed) for e in tx.decode_logs(jobs.SeatSettled)}
    assert settled[first[0].address] == (DISAGREED, liar_stake // 10)


def test_earlier_reveals_never_count_toward_a_later_quorum(jobs: Any, token: Any, requester: Any, chain: Any, seven_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    """A node drawn after reveals are public could copy one. Round 1 has one honest vector agreeing
    with round 0's revealer and two random ones: two agreeing vectors in all, but only one of them
    committed blind in the deciding round, so there is no quorum and the job is refunded."""
    submit()
    base = random_vector(7)
    withhold_two_of_three(jobs, chain, accounts, base)
    fresh = accounts_of(accounts, seat_nodes(jobs, 1)[3:])
    vectors = [near(base, 10), random_vector(98), random_vector(99)]
    play_round(jobs, chain, 1, fresh, vectors, [True] * 3)
    before = token.balanceOf(requester)
    tx = jobs.finalize(1, [base, b"", b"", *vectors], sender=accounts[9])
    assert not tx.decode_logs(jobs.JobAccepted)
    assert tx.decode_logs(jobs.JobRefunded)
    assert token.balanceOf(requester) == before + FEE
    assert all(e.outcome == RELEASED and e.slashed == 0 for e in tx.decode_logs(jobs.SeatSettled))


def test_split_reveals_with_a_withholder_redraw(jobs: Any, nodes: Any, chain: Any, seven_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    """Two reveals that disagree and one withheld: the missing vote might have decided, so the
    withholder is slashed and a fresh committee decides; the round-0 liar is slashed then."""
    submit()
    base, liar_vector = random_vector(7), random_vector(99)
    first = accounts_of(accounts, seat_nodes(jobs, 1))
    play_round(jobs, chain, 1, first, [base, liar_vector, near(base, 2)], [True, True, False])
    time_travel(chain, REVEAL_WINDOW + 1)
    tx = jobs.finalize(1, [base, liar_vector, b""], sender=accounts[9])
    assert tx.decode_logs(jobs.JobReassigned)
    assert {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)} == {first[2].address: WITHHELD}
    assign_all(jobs, accounts[8], 64)
    fresh = accounts_of(accounts, seat_nodes(jobs, 1)[3:])
    vectors = [near(base, 10 + i) for i in range(3)]
    play_round(jobs, chain, 1, fresh, vectors, [True] * 3)
    tx = jobs.finalize(1, [base, liar_vector, b"", *vectors], sender=accounts[9])
    assert set(tx.decode_logs(jobs.JobAccepted)[0].agreeing) == {first[0].address} | {a.address for a in fresh}
    assert {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)}[first[1].address] == DISAGREED


def test_missing_reveals_without_fresh_nodes_refund(jobs: Any, nodes: Any, token: Any, requester: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    submit()
    before = token.balanceOf(requester)
    first = accounts_of(accounts, seat_nodes(jobs, 1))
    play_round(jobs, chain, 1, first, [random_vector(7), random_vector(8), random_vector(9)], [True, False, False])
    time_travel(chain, REVEAL_WINDOW + 1)
    tx = jobs.finalize(1, [random_vector(7), b"", b""], sender=accounts[9])
    assert tx.decode_logs(jobs.JobReassigned)  # queued; whether anyone is left is judged at the draw
    settled = {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)}
    assert settled == {first[1].address: WITHHELD, first[2].address: WITHHELD}
    tx = assign_all(jobs, accounts[8], 64)
    assert tx.decode_logs(jobs.JobRefunded)
    assert token.balanceOf(requester) == before + FEE
    assert {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)} == {first[0].address: RELEASED}
    assert all(nodes.getNode(a).openJobs == 0 for a in first)


def test_reveal_redraws_share_the_bound_then_refund(jobs: Any, token: Any, chain: Any, requester: Any, solo_job: int, accounts: Any) -> None:
    """One-seat committees that commit and withhold: redrawn MAX_REASSIGNMENTS times, each withholder
    slashed, then refunded."""
    before = token.balanceOf(requester)
    vector = random_vector(7)
    drawn = []
    for round_ in (1, 2, 3):
        seat = accounts_of(accounts, seat_nodes(jobs, 1)[-1:])
        drawn.append(seat[0].address)
        play_round(jobs, chain, 1, seat, [vector], [False])
        time_travel(chain, REVEAL_WINDOW + 1)
        tx = jobs.finalize(1, [b""] * len(jobs.getSeats(1)), sender=accounts[9])
        assert tx.decode_logs(jobs.SeatSettled)[0].outcome == WITHHELD
        if round_ <= 2:
            assert tx.decode_logs(jobs.JobReassigned)[0].round == round_
            assign_all(jobs, accounts[8], 64)
    assert tx.decode_logs(jobs.JobRefunded)
    assert len(set(drawn)) == 3  # never a node already tried for the job
    assert token.balanceOf(requester) == before + FEE
    assert jobs.getJob(1).status == REFUNDED


def test_commit_round_after_a_reveal_redraw_refunds_earlier_revealers(jobs: Any, nodes: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None], submit: Callable[..., Any], accounts: Any) -> None:
    """Round 1's fresh committee never commits and no node is left to draw: the refund releases
    round 0's revealer too (it did nothing wrong), so no seat stays open."""
    for account in node_accounts[:6]:
        register(account)
    submit()
    first, _ = withhold_two_of_three(jobs, chain, accounts, random_vector(7))
    time_travel(chain, COMMIT_WINDOW + 1)
    tx = jobs.advance(1, sender=accounts[9])
    assert [e.outcome for e in tx.decode_logs(jobs.SeatSettled)] == [MISSED] * 3
    assert tx.decode_logs(jobs.JobReassigned)  # queued; all six nodes were tried, so the draw refunds
    tx = assign_all(jobs, accounts[8], 64)
    assert tx.decode_logs(jobs.JobRefunded)
    settled = {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)}
    assert settled == {first[0].address: RELEASED}
    assert all(nodes.getNode(a).openJobs == 0 for a in node_accounts[:6])


# ---------------------------------------------------------------------------- seat storage
def test_a_seat_digest_is_the_first_216_bits(jobs: Any, chain: Any, three_nodes: list[Any], submit: Callable[..., Any], accounts: Any) -> None:
    """A seat is one slot: getSeats returns 27 stored bytes of the commitment, then of
    keccak256(vector), padded with 5 zero bytes; the result hash stays the full keccak256."""
    submit()
    seats = accounts_of(accounts, seat_nodes(jobs, 1))
    base = random_vector(7)
    vectors = [base, near(base, 1), near(base, 2)]
    commitments = [bytes(commit_for(chain, jobs, 1, s, v)) for s, v in zip(seats, vectors, strict=True)]
    for seat, c in zip(seats, commitments, strict=True):
        jobs.commit(1, c, sender=seat)
    assert [(s.state, bytes(s.digest)) for s in jobs.getSeats(1)] == [(1, c[:27] + bytes(5)) for c in commitments]
    # Only the stored 216 bits are checked: a salt that misses them is a mismatch.
    with reverts_with(jobs.JobRegistryCommitmentMismatch, jobId=1, node=seats[0].address):
        jobs.reveal(1, base, b"\x43" * 32, sender=seats[0])
    for seat, v in zip(seats, vectors, strict=True):
        jobs.reveal(1, v, SALT, sender=seat)
    assert [(s.state, bytes(s.digest)) for s in jobs.getSeats(1)] == [(2, keccak(v)[:27] + bytes(5)) for v in vectors]
    tx = jobs.finalize(1, vectors, sender=accounts[9])
    accepted = tx.decode_logs(jobs.JobAccepted)[0]
    assert bytes(accepted.resultHash) == keccak(accepted.vector)


def test_a_recycled_node_slot_never_renames_a_seat(jobs: Any, nodes: Any, token: Any, chain: Any, node_accounts: list[Any], register: Callable[..., None], submit: Callable[..., Any], accounts: Any, draw: Callable[[], Any]) -> None:
    """A seat settled early (a missed commit) frees its node, which may fully exit while the job
    is still open; its NodeRegistry slot then goes to a newcomer. The seat must still name the
    node that held it, and the redraw must still count that node as tried."""
    for account in node_accounts[:6]:
        register(account)
    submit()
    gone, revealer, withholder = accounts_of(accounts, seat_nodes(jobs, 1))
    base = random_vector(7)
    for account, vector in ((revealer, base), (withholder, near(base, 1))):
        jobs.commit(1, commit_for(chain, jobs, 1, account, vector), sender=account)
    time_travel(chain, COMMIT_WINDOW + 1)
    jobs.advance(1, sender=accounts[9])  # `gone` missed its commit: dropped and settled
    jobs.reveal(1, base, SALT, sender=revealer)
    slot = nodes.getNode(gone).index
    assert nodes.getNode(gone).openJobs == 0
    nodes.requestUnstake(nodes.getNode(gone).stake, sender=gone)
    time_travel(chain, MAX_JOB_LIFETIME + 1)  # the job waits for finalize all along
    nodes.withdraw(sender=gone)  # no stake, no open job: the slot is released
    newcomer = node_accounts[6]
    register(newcomer)
    assert nodes.getNode(newcomer).index == slot and nodes.nodeAt(slot) == newcomer.address
    register(gone)  # back with another slot
    assert [s.node for s in jobs.getSeats(1)] == [gone.address, revealer.address, withholder.address]
    # No quorum and a withholder: a fresh committee, never a node tried in round 0.
    tx = jobs.finalize(1, [b"", base, b""], sender=accounts[9])
    assert tx.decode_logs(jobs.JobReassigned)
    draw()
    seats = jobs.getSeats(1)
    assert [s.node for s in seats[:3]] == [gone.address, revealer.address, withholder.address]
    fresh = {s.node for s in seats[3:]}
    assert len(fresh) == 3 and not fresh & {gone.address, revealer.address, withholder.address}


# ------------------------------------------------------------------------------ callbacks
@pytest.fixture
def consumer_job(project: Any, deployer: Any, jobs: Any, token: Any, requester: Any, three_nodes: list[Any], run_job: Callable[..., Any], draw: Callable[[], Any]) -> Callable[[str], tuple[Any, Any, list[bytes], list[Any]]]:
    def _make(kind: str) -> tuple[Any, Any, list[bytes], list[Any]]:
        consumer = deployer.deploy(getattr(project, kind), jobs)
        token.transfer(consumer, 10 * FEE, sender=requester)
        consumer.request(1, "callback me", FEE, sender=deployer)
        draw()
        job_id = jobs.jobCount()
        base = random_vector(11)
        vectors = [base, near(base, 1), near(base, 2)]
        seats = run_job(job_id, vectors)
        return consumer, job_id, vectors, seats

    return _make


def test_callback_delivers_result(jobs: Any, consumer_job: Callable[..., Any]) -> None:
    consumer, job_id, vectors, seats = consumer_job("RecordingConsumer")
    tx = jobs.finalize(job_id, vectors, sender=seats[0])
    delivered = tx.decode_logs(jobs.CallbackDelivered)[0]
    assert delivered.success
    assert consumer.lastJobId() == job_id
    assert consumer.lastVectorLength() == DIM
    accepted = tx.decode_logs(jobs.JobAccepted)[0]
    assert bytes(consumer.lastResultHash()) == bytes(accepted.resultHash) == keccak(accepted.vector)


@pytest.mark.parametrize("kind", ["RevertingConsumer", "GasBurningConsumer"])
def test_hostile_callback_never_blocks_payment(jobs: Any, token: Any, consumer_job: Callable[..., Any], kind: str) -> None:
    _, job_id, vectors, seats = consumer_job(kind)
    balances = [token.balanceOf(s) for s in seats]
    tx = jobs.finalize(job_id, vectors, sender=seats[0])
    assert jobs.getJob(job_id).status == ACCEPTED
    assert all(token.balanceOf(s) > b for s, b in zip(seats, balances, strict=True))
    assert not tx.decode_logs(jobs.CallbackDelivered)[0].success


REENTRANCY_GUARD = keccak(text="ReentrancyGuardReentrantCall()")[:4]


def test_reentrancy_through_the_callback_is_blocked(project: Any, deployer: Any, jobs: Any, token: Any, treasury: Any, requester: Any, three_nodes: list[Any], submit: Callable[..., Any], draw: Callable[[], Any], run_job: Callable[..., Any]) -> None:
    """The callback re-enters finalize of ANOTHER job that is ready, which would succeed without
    nonReentrant (job 1's status allows it): only the guard stops it, and its error is recorded."""
    jobs.setPolicy(policy_tuple(treasury, callback_gas_limit=1_500_000), sender=deployer)  # room for a finalize
    consumer = deployer.deploy(project.ReentrantConsumer, jobs)
    token.transfer(consumer, 10 * FEE, sender=requester)
    submit(["a plain job"], assign=False)  # job 1
    consumer.request(1, "callback me", FEE, sender=deployer)  # job 2
    draw()
    base = random_vector(11)
    vectors = [base, near(base, 1), near(base, 2)]
    run_job(1, vectors)
    seats = run_job(2, vectors)
    consumer.setReentry(jobs.finalize.encode_input(1, vectors), sender=deployer)
    tx = jobs.finalize(2, vectors, sender=seats[0])
    assert tx.decode_logs(jobs.CallbackDelivered)[0].success  # the consumer swallowed the failure itself
    assert not consumer.reentered()
    assert bytes(consumer.lastRevertData()) == REENTRANCY_GUARD
    assert jobs.getJob(1).status == REVEALING


def test_finalizer_cannot_starve_the_callback(jobs: Any, consumer_job: Callable[..., Any], chain: Any) -> None:
    """Enough gas for all of finalize except the callback's full limit: the exact error, with the
    gas the callback needs (limit + limit/63 + 10,000), not an out-of-gas."""
    _, job_id, vectors, seats = consumer_job("RecordingConsumer")
    full = chain.provider.web3.eth.estimate_gas(
        {"from": seats[0].address, "to": jobs.address, "data": jobs.finalize.encode_input(job_id, vectors)}
    )
    limit = 200_000
    with ape.reverts(jobs.JobRegistryInsufficientGasForCallback) as raised:
        jobs.finalize(job_id, vectors, sender=seats[0], gas_limit=full - 100_000)
    # ape.reverts alone also passes on a bare out-of-gas: insist on the error and its arguments.
    assert raised.value.inputs["needed"] == limit + limit // 63 + 10_000
    assert raised.value.inputs["gasLeft"] < raised.value.inputs["needed"]


# ----------------------------------------------------------------------- governance, views
def test_policy_is_bounded_and_role_restricted(jobs: Any, deployer: Any, treasury: Any, accounts: Any) -> None:
    with ape.reverts(jobs.AccessControlUnauthorizedAccount):
        jobs.setPolicy(policy_tuple(treasury), sender=accounts[5])
    bad = [
        policy_tuple("0x0000000000000000000000000000000000000000"),
        policy_tuple(treasury, protocol_fee_bps=5_001),
        policy_tuple(treasury, slash_bps=5_001),  # one fault may cost at most half the stake
        policy_tuple(treasury, protocol_fee_bps=300),  # 3% fee < 4% emission per fee: self-dealing pays
        policy_tuple(treasury, slash_reward_bps=10_001),
        policy_tuple(treasury, callback_gas_limit=0),
        policy_tuple(treasury, callback_gas_limit=2_000_001),
        policy_tuple(treasury, reputation_gain=10_001),
        policy_tuple(treasury, disagreement_penalty=10_001),
        policy_tuple(treasury, liveness_penalty=10_001),
    ]
    for policy in bad:
        with ape.reverts(jobs.JobRegistryInvalidPolicy):
            jobs.setPolicy(policy, sender=deployer)
    tx = jobs.setPolicy(policy_tuple(treasury, slash_bps=5_000), sender=deployer)
    changed = tx.decode_logs(jobs.PolicyChanged)[0]
    assert changed.policyId == 2 and changed.policy[2] == 5_000
    assert jobs.policy().slashBps == 5_000


def test_a_policy_change_never_alters_a_job_in_flight(jobs: Any, nodes: Any, deployer: Any, treasury: Any, accounts: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    """Governance raises the slash to 50% while job 1 runs: job 1 still slashes 10%, as agreed."""
    submit()
    jobs.setPolicy(policy_tuple(treasury, slash_bps=5_000, protocol_fee_bps=1_000), sender=deployer)
    base = random_vector(7)
    vectors = [base, near(base, 1), random_vector(99)]
    seats = run_job(1, vectors)
    stake = nodes.getNode(seats[2]).stake
    tx = jobs.finalize(1, vectors, sender=seats[0])
    settled = {e.node: e.slashed for e in tx.decode_logs(jobs.SeatSettled)}
    assert settled[seats[2].address] == stake // 10
    assert tx.decode_logs(jobs.JobAccepted)[0].feeEach == FEE * 9_500 // 10_000 // 2
    assert jobs.policyOf(1).slashBps == 1_000 and jobs.policy().slashBps == 5_000


def test_unknown_job_reverts(jobs: Any) -> None:
    with ape.reverts(jobs.JobRegistryUnknownJob):
        jobs.getJob(1)
    assert list(jobs.getSeats(1)) == []


def test_colluding_minority_two_of_five_is_outvoted(jobs: Any, models: Any, nodes: Any, deployer: Any, token: Any, requester: Any, node_accounts: list[Any], register: Callable[..., None], run_job: Callable[..., Any]) -> None:
    models.registerModel(model_params(name="five", quorum=5, min_agreement=3), sender=deployer)
    for account in node_accounts[:5]:
        register(account, model_ids=[2])
    token.approve(jobs, FEE, sender=requester)
    jobs.submit(2, ["collusion"], FEE, False, sender=requester)
    assign_all(jobs, requester, 64)
    base = random_vector(7)
    forged = random_vector(666)  # the colluders agree on the same wrong answer
    vectors = [near(base, 1), forged, near(base, 2), forged, near(base, 3)]
    seats = run_job(1, vectors)
    tx = jobs.finalize(1, vectors, sender=seats[0])
    agreeing = set(tx.decode_logs(jobs.JobAccepted)[0].agreeing)
    assert agreeing == {seats[0].address, seats[2].address, seats[4].address}
    outcomes = {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)}
    assert outcomes[seats[1].address] == outcomes[seats[3].address] == DISAGREED
    assert not agreeing & set(outcomes), "an agreeing seat got a SeatSettled (JobAccepted names it)"


def test_reentrancy_through_a_hooked_token_is_blocked(project: Any, deployer: Any, chain: Any, accounts: Any, node_accounts: list[Any], requester: Any, treasury: Any) -> None:
    """A token that calls back on every transfer re-enters finalize of ANOTHER ready job while job 1
    pays out. Job 2's status would allow it, so only nonReentrant stops it: the recorded error is
    the guard's."""
    hook = deployer.deploy(project.HookToken)
    models = deployer.deploy(project.ModelRegistry, deployer, MAX_JOB_LIFETIME)
    models.registerModel(model_params(), sender=deployer)
    nodes = deployer.deploy(project.NodeRegistry, hook, models, deployer, 100 * ONE, 86_400, 100_000 * ONE)
    emission_token = deployer.deploy(project.InferToken, 10**9 * ONE, deployer, deployer, 0)
    rewards = deployer.deploy(project.RewardsEmitter, emission_token, deployer, 0, 3600, ONE, 9_000, EMISSION_PER_FEE_BPS)
    jobs = deployer.deploy(project.JobRegistry, hook, models, nodes, rewards, deployer, policy_tuple(treasury),
                         "0x0000000000000000000000000000000000000000")  # no forwarder
    nodes.wireJobManager(jobs, sender=deployer)
    rewards.wireCreditor(jobs, sender=deployer)
    emission_token.wireMinter(rewards, sender=deployer)
    for account in [*node_accounts[:3], requester]:
        hook.mint(account, 10_000 * ONE, sender=deployer)
    for account in node_accounts[:3]:
        hook.approve(nodes, 1_000 * ONE, sender=account)
        nodes.register(1_000 * ONE, [1], 4, sender=account)
    hook.approve(jobs, 2 * FEE, sender=requester)
    jobs.submit(1, ["hooked", "reentered"], FEE, False, sender=requester)
    assign_all(jobs, requester, 64)
    base = random_vector(7)
    vectors = [base, near(base, 1), random_vector(9)]
    for job_id in (1, 2):
        seats = accounts_of(accounts, seat_nodes(jobs, job_id))
        for seat, v in zip(seats, vectors, strict=True):
            jobs.commit(job_id, commit_for(chain, jobs, job_id, seat, v), sender=seat)
        for seat, v in zip(seats, vectors, strict=True):
            jobs.reveal(job_id, v, SALT, sender=seat)
    seats = accounts_of(accounts, seat_nodes(jobs, 1))
    hook.setHook(jobs, jobs.finalize.encode_input(2, vectors), sender=deployer)
    balances = [hook.balanceOf(s) for s in seats]
    jobs.finalize(1, vectors, sender=seats[0])
    assert hook.reentryAttempts() > 0 and not hook.reentrySucceeded()
    assert bytes(hook.lastRevertData()) == REENTRANCY_GUARD
    assert jobs.getJob(2).status == REVEALING
    fee_each = FEE * 9_500 // 10_000 // 2
    paid = {s.address: hook.balanceOf(s) - b for s, b in zip(seats, balances, strict=True)}
    assert sorted(paid.values())[0] == 0 and sorted(paid.values())[1] >= fee_each
    assert jobs.getJob(1).status == ACCEPTED


DEPLOYED_THRESHOLD_PPM = int(
    json.loads((Path(__file__).parents[2] / "docs/calibration/all-minilm-l6-v2.json").read_text())["threshold_ppm"]
)


@pytest.mark.parametrize("threshold_ppm", [THRESHOLD_PPM, DEPLOYED_THRESHOLD_PPM], ids=["test-0.9", "deployed"])
def test_agreement_at_the_test_and_the_deployed_threshold(threshold_ppm: int, jobs: Any, models: Any, token: Any, deployer: Any, requester: Any, node_accounts: list[Any], register: Callable[..., None], draw: Callable[[], Any], run_job: Callable[..., Any]) -> None:
    """Honest int8 vectors agree at both thresholds; a vector as far off as a cheaper model's
    (cosine ~0.985) passes the loose test threshold but is slashed at the deployed one."""
    models.registerModel(model_params(name="calibrated", threshold=threshold_ppm), sender=deployer)
    for account in node_accounts[:3]:
        register(account, model_ids=[2])
    token.approve(jobs, 2 * FEE, sender=requester)
    jobs.submit(2, ["honest", "one cheap vector"], FEE, False, sender=requester)
    draw()
    base = random_vector(7)
    honest = [base, near(base, 1, noise=0.003), near(base, 2, noise=0.003)]
    cheat = near(base, 3, noise=0.05)
    assert cosine(unpack(base), unpack(honest[1])) > DEPLOYED_THRESHOLD_PPM / 1e6 > cosine(unpack(base), unpack(cheat)) > 0.98
    seats = run_job(1, honest)
    assert len(jobs.finalize(1, honest, sender=seats[0]).decode_logs(jobs.JobAccepted)[0].agreeing) == 3
    vectors = [*honest[:2], cheat]
    seats = run_job(2, vectors)
    tx = jobs.finalize(2, vectors, sender=seats[0])
    outcomes = {e.node: e.outcome for e in tx.decode_logs(jobs.SeatSettled)}
    if threshold_ppm == THRESHOLD_PPM:
        assert seats[2].address in tx.decode_logs(jobs.JobAccepted)[0].agreeing and seats[2].address not in outcomes
    else:
        assert outcomes[seats[2].address] == DISAGREED
