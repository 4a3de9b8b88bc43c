"""Committee grinding: nobody who can trigger a draw can see its outcome and undo it.

The attack (issue "Protocol soundness", part 1): two sybils at minimum stake want to sit on a job
beside one honest victim, then commit the same arbitrary vector and get the victim slashed. The
attacker is a contract that submits, reads the committee in the same transaction and reverts until
it likes it, and that moves its own stake between attempts to shift every stake-weighted pick.
With draws made by a later, separate assign() from the hash of the submitting block, and every
weight change refused while a draw is due, it can do no better than chance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from contract_helpers import FEE, ONE, assign_all, mine_block, reverts_with, seat_nodes

TRIALS = 200  # jobs the attacker tries to rig
TRIES = 8  # attempts per job inside one transaction (each submit attempt uses a new job id)
STAKE = 1_000 * ONE
CAPACITY = 1_000  # no node ever fills up during the test: capacity plays no part
GRIND_GAS = 30_000_000


@pytest.fixture
def attack(project: Any, jobs: Any, nodes: Any, token: Any, requester: Any, node_accounts: list[Any], register: Callable[..., None]) -> tuple[Any, list[str]]:
    """Five equal nodes: the victim, two honest ones, a sybil EOA, and the attacker contract
    (the second sybil). Returns the attacker and the committee it wants."""
    victim, honest_a, honest_b, sybil = node_accounts[:4]
    for account in (victim, honest_a, honest_b, sybil):
        register(account, stake=STAKE, capacity=CAPACITY)
    grinder = requester.deploy(project.CommitteeGrinder, jobs, nodes, token)
    token.transfer(grinder, STAKE + TRIES * TRIALS * FEE + ONE, sender=requester)  # a rigged attempt keeps all its jobs
    grinder.registerAsNode(STAKE, [1], CAPACITY, sender=requester)
    return grinder, [grinder.address, sybil.address, victim.address]


def test_a_grinder_seats_its_sybils_beside_a_victim_no_more_often_than_chance(jobs: Any, requester: Any, draw: Callable[[], Any], attack: tuple[Any, list[str]]) -> None:
    grinder, wanted = attack
    chance = 1 / math.comb(5, 3)  # equal weights: every 3-of-5 committee is as likely
    hits = 0
    for _ in range(TRIALS):
        # A generous gas limit: the attempts that revert make any estimate meaningless.
        grinder.grindSubmit(1, wanted, TRIES, FEE, sender=requester, gas_limit=GRIND_GAS)
        job_id = jobs.jobCount()
        if not jobs.getSeats(job_id):  # not drawn at submission: try to steer the draw itself
            grinder.grindAssign(job_id, wanted, TRIES, sender=requester, gas_limit=GRIND_GAS)
            if not jobs.getSeats(job_id):
                draw()  # an honest keeper draws it
        hits += set(seat_nodes(jobs, job_id)) == set(wanted)
    expected = TRIALS * chance
    sigma = math.sqrt(TRIALS * chance * (1 - chance))
    # Four standard deviations either side: a false alarm about once in 16,000 runs. The old
    # registry (committee drawn inside submit) let this attacker rig ~57% of its jobs (~114).
    assert expected - 4 * sigma <= hits <= expected + 4 * sigma, (
        f"attacker seated its committee in {hits} of {TRIALS} jobs; chance is {expected:.0f} +/- {sigma:.1f}"
    )


def test_the_attacker_cannot_move_stake_once_the_draw_is_due(chain: Any, jobs: Any, nodes: Any, token: Any, requester: Any, node_accounts: list[Any], draw: Callable[[], Any], attack: tuple[Any, list[str]]) -> None:
    grinder, wanted = attack
    grinder.grindSubmit(1, wanted, 1, FEE, sender=requester)
    mine_block()  # the submitting block's hash is public from here on
    assert jobs.drawsDue()
    sybil = node_accounts[3]
    token.approve(nodes, 1, sender=sybil)
    with reverts_with(nodes.NodeRegistryDrawsDue):
        nodes.addStake(1, sender=sybil)
    # Inside its own transaction, after seeing the draw, the attacker contract fares no better:
    # its stake nudges revert, so the only attempt that can succeed is the unmodified draw.
    job_id = jobs.jobCount()
    natural = set(wanted) == set(_committee_if_drawn_now(chain, jobs, job_id, requester))
    assert bool(grinder.grindAssign.call(job_id, wanted, TRIES, sender=requester)) == natural
    draw()
    nodes.addStake(1, sender=sybil)


def _committee_if_drawn_now(chain: Any, jobs: Any, job_id: int, sender: Any) -> list[str]:
    """Who assign() would seat now, leaving the chain as it was."""
    snapshot = chain.provider.make_request("evm_snapshot", [])
    assign_all(jobs, sender, 64)
    seats = seat_nodes(jobs, job_id)
    chain.provider.make_request("evm_revert", [snapshot])
    return seats


def test_a_draw_is_the_same_whoever_makes_it_and_whenever(chain: Any, jobs: Any, accounts: Any, three_nodes: list[Any], register: Callable[..., None], node_accounts: list[Any], submit: Callable[..., Any]) -> None:
    """The seed is the submitting block's hash and the job id: no prevrandao or timestamp of the
    assigning block, which its sender could pick by waiting."""
    for account in node_accounts[3:6]:
        register(account)
    submit([f"job {i}" for i in range(8)], assign=False)
    snapshot = chain.provider.make_request("evm_snapshot", [])
    assign_all(jobs, accounts[1], 64)
    first = [seat_nodes(jobs, j) for j in range(1, 9)]
    chain.provider.make_request("evm_revert", [snapshot])
    chain.provider.make_request("anvil_mine", [hex(20), hex(13)])  # later, other timestamps
    assign_all(jobs, accounts[7], 3)  # in pieces, by someone else
    assign_all(jobs, accounts[9], 64)
    assert [seat_nodes(jobs, j) for j in range(1, 9)] == first
    assert len({tuple(sorted(c)) for c in first}) > 1  # and the jobs of one batch differ


def test_settling_draws_the_due_committees_first(chain: Any, jobs: Any, nodes: Any, accounts: Any, three_nodes: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    """Settling frees capacity and moves reputation and stake, which a known draw reads: so a
    finalize first makes the draws that are due, and its own settlement comes after them."""
    from contract_helpers import near, random_vector

    submit(["decided first"])
    base = random_vector(3)
    vectors = [base, near(base, 1), near(base, 2)]
    run_job(1, vectors)
    submit(["queued"], assign=False)  # job 2: due from the next block on
    mine_block()  # so that gas estimation (on the latest block) sees the draw too
    tx = jobs.finalize(1, vectors, sender=accounts[5])
    # Every seat agreed: JobAccepted names them, and their settlements follow it.
    logs = tx.decode_logs([jobs.JobAssigned, jobs.JobAccepted, nodes.SeatReleased])
    kinds = [log.event_name for log in logs]
    last_draw = max(i for i, k in enumerate(kinds) if k == "JobAssigned")
    assert kinds.index("JobAccepted") > last_draw
    assert [log.node for log in logs[last_draw + 1:] if log.event_name == "SeatReleased"], kinds
    assert {log.jobId for log in logs if log.event_name == "JobAssigned"} == {2}


def test_a_draw_left_past_256_blocks_is_drawn_from_a_later_unknown_hash(chain: Any, jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], draw: Callable[[], Any]) -> None:
    tx = submit(["old"], assign=False)
    chain.provider.make_request("anvil_mine", [hex(300)])
    rescheduled = draw()
    assert rescheduled.decode_logs(jobs.DrawsRescheduled)[0].drawBlock == rescheduled.block_number
    assert not rescheduled.decode_logs(jobs.JobAssigned)
    assert tuple(jobs.queuedDraws()) == (1, rescheduled.block_number)
    assert rescheduled.block_number > tx.block_number + 256
    assert len(draw().decode_logs(jobs.JobAssigned)) == 3


def test_draws_are_made_in_queue_order_across_batches(jobs: Any, three_nodes: list[Any], submit: Callable[..., Any], draw: Callable[[], Any], accounts: Any) -> None:
    submit(["a", "b", "c"], assign=False)
    submit(["d"], assign=False)
    assert jobs.queuedDraws()[0] == 2
    first = assign_all(jobs, accounts[1], 2).decode_logs(jobs.JobAssigned)
    assert sorted({e.jobId for e in first}) == [1, 2]
    rest = draw().decode_logs(jobs.JobAssigned)
    assert sorted({e.jobId for e in rest}) == [3, 4]
    assert tuple(jobs.queuedDraws()) == (0, 0)


def test_settling_refuses_to_run_ahead_of_a_long_due_queue(chain: Any, jobs: Any, token: Any, requester: Any, accounts: Any, register: Callable[..., None], node_accounts: list[Any], submit: Callable[..., Any], run_job: Callable[..., Any]) -> None:
    """More due draws than one call may make first: the settling call reverts (nothing changes)
    and asks for assign(); it never settles ahead of a draw whose hash is public."""
    from contract_helpers import near, random_vector

    for account in node_accounts[:3]:
        register(account, capacity=CAPACITY)
    submit(["decided first"])
    base = random_vector(3)
    vectors = [base, near(base, 1), near(base, 2)]
    run_job(1, vectors)
    token.approve(jobs, 64 * FEE, sender=requester)
    for _ in range(int(jobs.MAX_DRAWS_FIRST()) // 16 + 1):
        jobs.submit(1, ["x"] * 16, FEE, False, sender=requester)
    with reverts_with(jobs.JobRegistryDrawsPending, queued=1):  # one batch of 16 left after 32 draws
        jobs.finalize(1, vectors, sender=accounts[5])
    assign_all(jobs, accounts[5], 64)
    assert jobs.finalize(1, vectors, sender=accounts[5]).decode_logs(jobs.JobAccepted)
