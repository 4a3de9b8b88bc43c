"""Stateful property test: random sequences of node, job and reward operations keep the protocol's
money and bookkeeping invariants.

Hypothesis drives the deployed contracts with random sequences of register, addStake, submit,
commit (honest, lying, zero or silent), reveal (or withhold), finalize (which redraws a committee
whose round lacks reveals), advance and expiry after the deadlines, requestUnstake (including one that must revert), withdraw (after trying too early),
reward claims and time travel, plus run_job, which takes one job through all its phases. Slashing
happens through finalize. After every step it checks:

- infer_is_conserved: the balances of every account and contract add up to totalSupply; the
  NodeRegistry holds exactly the nodes' stake + unbonding; the JobRegistry holds exactly the fees of
  open jobs; supply grew by exactly the emission claimed.
- nodes_paid_at_most_once: one NodePaid per (job, node), only to nodes in the job's agreeing set.
- one_final_state_per_job: Accepted/Refunded never change; exactly one JobAccepted or JobRefunded
  per settled job, none for open ones.
- stake_is_accounted: stake + unbonding + slashed == deposited - withdrawn, per node.
- emission_within_schedule: emitted(e) <= emissionFor(e) and equals the claims seen, per epoch.
- seats_within_capacity: openJobs <= capacity, and openJobs == the node's unsettled seats.
- never_drawn_twice_for_a_job: every seat of a job, over all its rounds, is a different node.
- selection_weights_match_nodes: each node's listed weight is what its stake, capacity and
  reputation give; the model's total weight and eligible count agree with them.

finalize also checks that a node which revealed an honest vector is never slashed.

Truth is read from the chain (one batched read per step, shared by the rules and invariants). The
Python side only keeps what the chain cannot tell: the vectors committed but not yet revealed, and
running totals of what the test deposited and what the receipts' events reported (payments,
slashes, withdrawals, claims). Each example starts from the same clean chain: the machine takes an
evm_snapshot when it is built and reverts to it in teardown (the autouse fixture only isolates the
pytest test as a whole).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_utils.crypto import keccak
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from web3.exceptions import ContractCustomError

from contract_helpers import (
    DIM,
    EPOCH,
    FEE,
    MIN_STAKE,
    ONE,
    SALT,
    STAKE_CAP,
    UNBONDING,
    commit_for,
    near,
    random_vector,
    time_travel,
    web3_view,
)

COMMITTING, REVEALING, ACCEPTED, REFUNDED = 1, 2, 3, 4
ASSIGNED, COMMITTED, REVEALED, DROPPED = 0, 1, 2, 3
AGREED, DISAGREED, WITHHELD, MISSED, RELEASED = 0, 1, 2, 3, 4
OPEN = (COMMITTING, REVEALING)
TERMINAL = (ACCEPTED, REFUNDED)
MODEL = 1
QUORUM = 3  # model 1's committee size
MAX_REASSIGNMENTS = 2  # JobRegistry.MAX_REASSIGNMENTS
REP_ONE = 10_000
EJECTION_THRESHOLD = REP_ONE // 4  # NodeRegistry's initial ejection line
# A deadline at least this many seconds after the head block is not reached by the next
# transaction (anvil mines on demand; wall-clock drift between steps is well below this).
MARGIN = 15
# Transaction settings passed explicitly: Ape otherwise re-reads the network config and estimates
# gas for every transaction (~100 ms of client time each). The fixed limit is far above any of these
# transactions' use (finalize, the largest, stays under 1M gas).
TX_KWARGS: dict[str, Any] = {"type": 2, "required_confirmations": 0, "gas_limit": 5_000_000}

PICK = st.integers(min_value=0, max_value=1 << 16)
STAKE = st.one_of(st.just(MIN_STAKE), st.integers(min_value=MIN_STAKE, max_value=5_000 * ONE))
CAPACITY = st.integers(min_value=1, max_value=4)
# Mostly well-behaved nodes, so that jobs get accepted and paid (Hypothesis favours the first entry).
COMMIT_BEHAVIOUR = st.sampled_from(["honest"] * 5 + ["liar", "zero", "silent"])
REVEAL_BEHAVIOUR = st.sampled_from(["reveal"] * 4 + ["withhold"])


# ------------------------------------------------------------------------- chain snapshot
@dataclass(frozen=True)
class NodeView:
    registered: bool
    stake: int
    unbonding: int
    unbonding_until: int
    capacity: int
    open_jobs: int
    reputation: int
    listed_weight: int


@dataclass(frozen=True)
class SeatView:
    node: str
    state: int


@dataclass(frozen=True)
class JobView:
    status: int
    fee: int
    commit_deadline: int
    reveal_deadline: int
    committed: int
    revealed: int
    seats: tuple[SeatView, ...]


@dataclass(frozen=True)
class ChainView:
    now: int  # head block timestamp
    supply: int
    balances: dict[str, int]
    nodes: dict[str, NodeView]
    jobs: dict[int, JobView]
    total_weight: int
    eligible: int


@dataclass(frozen=True)
class Env:
    """The session's deployment, handed to the machine as a class attribute. Transactions go through
    Ape; reads go through plain web3 views of the same contracts (`view_*`), because every Ape call
    costs ~80 ms of client-side work and the invariants read dozens of values per step."""

    chain: Any
    accounts: list[Any]
    deployer: Any
    requester: Any
    node_accounts: list[Any]
    token: Any
    models: Any
    nodes: Any
    rewards: Any
    jobs: Any
    view_token: Any
    view_nodes: Any
    view_jobs: Any
    view_rewards: Any


def choose(candidates: list[Any], pick: int) -> Any:
    return candidates[pick % len(candidates)]


def error_selector(contract: Any, name: str) -> str:
    """The 4-byte selector of `contract`'s custom error `name`, as 0x-hex."""
    abi = next(a for a in contract.contract_type.errors if a.name == name)
    return "0x" + keccak(text=abi.selector)[:4].hex()


def expected_weight(n: NodeView) -> int:
    """NodeRegistry._targetWeight, recomputed from the node's record."""
    if n.stake < MIN_STAKE or n.open_jobs >= n.capacity or n.reputation < EJECTION_THRESHOLD:
        return 0
    return int(min(n.stake, STAKE_CAP) * n.reputation // REP_ONE)


# -------------------------------------------------------------------------- the machine
class InferaMachine(RuleBasedStateMachine):
    env: ClassVar[Env]

    def __init__(self) -> None:
        super().__init__()
        e = self.env
        self.snapshot = e.chain.provider.make_request("evm_snapshot", [])
        self.by_address = {a.address: a for a in e.accounts}
        self.node_index = {a.address: i for i, a in enumerate(e.node_accounts)}
        self.holders = [
            *(a.address for a in e.accounts),
            e.jobs.address, e.nodes.address, e.rewards.address, e.models.address, e.token.address,
        ]
        self.genesis = e.view_rewards.functions.genesis().call()
        self.supply0 = e.view_token.functions.totalSupply().call()
        self.job_ids: list[int] = []
        # Vectors and behaviour per (job, node): the chain only learns a vector at reveal.
        self.vectors: dict[tuple[int, str], bytes] = {}
        self.behaviour: dict[tuple[int, str], str] = {}
        # Running totals, from what the test sent and from the receipts' events.
        self.deposited: Counter[str] = Counter()
        self.withdrawn: Counter[str] = Counter()
        self.slashed: Counter[str] = Counter()
        self.paid: Counter[tuple[int, str]] = Counter()
        self.agreeing: dict[int, set[str]] = {}
        self.accepted_events: Counter[int] = Counter()
        self.refunded_events: Counter[int] = Counter()
        self.terminal_seen: dict[int, int] = {}
        self.credited: set[tuple[int, str]] = set()  # (epoch, node) that earned points
        self.claimed: set[tuple[int, str]] = set()
        self.claimed_by_epoch: Counter[int] = Counter()
        self.claimed_total = 0
        self._view: ChainView | None = None

    def teardown(self) -> None:
        self.env.chain.provider.make_request("evm_revert", [self.snapshot])

    # ------------------------------------------------------------------ chain reading
    @property
    def view(self) -> ChainView:
        """The chain's state after the last transaction, read once and shared by rules and invariants."""
        if self._view is None:
            self._view = self._read()
        return self._view

    def _read(self) -> ChainView:
        """Every value the invariants need, in one JSON-RPC batch."""
        e = self.env
        w3 = e.chain.provider.web3
        token, registry, job_reg = e.view_token.functions, e.view_nodes.functions, e.view_jobs.functions
        with w3.batch_requests() as batch:
            batch.add(w3.eth.get_block("latest"))
            batch.add(token.totalSupply())
            batch.add(registry.totalWeight(MODEL))
            batch.add(registry.eligibleNodes(MODEL))
            for holder in self.holders:
                batch.add(token.balanceOf(holder))
            for account in e.node_accounts:
                batch.add(registry.getNode(account.address))
            for job_id in self.job_ids:
                batch.add(job_reg.getJob(job_id))
                batch.add(job_reg.getSeats(job_id))
            results = iter(batch.execute())
        now, supply, total_weight, eligible = next(results)["timestamp"], next(results), next(results), next(results)
        balances = {holder: next(results) for holder in self.holders}
        nodes: dict[str, NodeView] = {}
        for account in e.node_accounts:
            n = next(results)
            nodes[account.address] = NodeView(
                registered=n.index != 0, stake=n.stake, unbonding=n.unbonding, unbonding_until=n.unbondingUntil,
                capacity=n.capacity, open_jobs=n.openJobs, reputation=n.reputation, listed_weight=n.listedWeight,
            )
        jobs: dict[int, JobView] = {}
        for job_id in self.job_ids:
            j, seats = next(results), next(results)
            jobs[job_id] = JobView(
                status=j.status, fee=j.fee, commit_deadline=j.commitDeadline, reveal_deadline=j.revealDeadline,
                committed=j.committed, revealed=j.revealed, seats=tuple(SeatView(s.node, s.state) for s in seats),
            )
        return ChainView(
            now=now, supply=supply, balances=balances, nodes=nodes, jobs=jobs, total_weight=total_weight, eligible=eligible,
        )

    # --------------------------------------------------------------- sending, events
    def _send(self, method: Any, *args: Any, sender: Any) -> Any:
        self._view = None
        receipt = method(*args, sender=sender, **TX_KWARGS)
        self._record(receipt)
        return receipt

    def _expect_revert(self, contract: Any, error: str, view: Any, *args: Any, sender: Any) -> None:
        """Check that a transaction would revert with `contract`'s custom error `error`, by an eth_call
        from `sender` (`view` is the web3 function; cheaper than letting Ape send and trace it)."""
        try:
            view(*args).call({"from": sender.address})
        except ContractCustomError as err:
            assert str(err.data).startswith(error_selector(contract, error)), f"expected {error}, got {err.data}"
        else:
            raise AssertionError(f"{view} did not revert (expected {error})")

    def _record(self, receipt: Any) -> None:
        e = self.env
        accepted = receipt.decode_logs(e.jobs.JobAccepted)
        for ev in accepted:
            self.accepted_events[ev.jobId] += 1
            self.agreeing[ev.jobId] = set(ev.agreeing)
        for ev in receipt.decode_logs(e.jobs.JobRefunded):
            self.refunded_events[ev.jobId] += 1
        for ev in receipt.decode_logs(e.jobs.NodePaid):
            self.paid[(ev.jobId, ev.node)] += 1
            assert any(a.jobId == ev.jobId for a in accepted), f"NodePaid for job {ev.jobId} outside its acceptance"
        for ev in receipt.decode_logs(e.nodes.NodeSlashed):
            self.slashed[ev.node] += ev.amount
        for ev in receipt.decode_logs(e.rewards.PointsCredited):
            self.credited.add((ev.epoch, ev.node))

    def _balance(self, account: Any) -> int:
        return int(self.env.view_token.functions.balanceOf(account.address).call())

    def _travel_past(self, timestamp: int) -> None:
        """Mine a block later than `timestamp` (no-op when the head already is)."""
        now = self.view.now
        if now <= timestamp:
            time_travel(self.env.chain, timestamp - now + 1)
            self._view = None
        assert self.view.now > timestamp

    # ---------------------------------------------------------------------- helpers
    def _registered(self) -> list[str]:
        return [a for a, n in self.view.nodes.items() if n.registered]

    def _register(self, account: Any, stake: int, capacity: int) -> None:
        e = self.env
        self._send(e.nodes.register, stake, [MODEL], capacity, sender=account)
        self.deposited[account.address] += stake

    def _jobs_in(self, status: int) -> list[int]:
        return [i for i, j in self.view.jobs.items() if j.status == status]

    def _vector(self, job_id: int, node: str, behaviour: str) -> bytes:
        salt = 1_000 * job_id + self.node_index[node]
        if behaviour == "honest":
            return bytes(near(random_vector(job_id), salt))
        if behaviour == "liar":
            return bytes(random_vector(10**6 + salt))
        return bytes(DIM)  # "zero": never agrees with anything

    def _committable(self) -> list[int]:
        v = self.view
        return [
            i for i in self._jobs_in(COMMITTING)
            if v.now + MARGIN <= v.jobs[i].commit_deadline
            and any(s.state == ASSIGNED and (i, s.node) not in self.behaviour for s in v.jobs[i].seats)
        ]

    def _revealable(self) -> list[int]:
        v = self.view
        return [
            i for i in self._jobs_in(REVEALING)
            if v.now + MARGIN <= v.jobs[i].reveal_deadline
            and any(s.state == COMMITTED and self.behaviour.get((i, s.node)) != "withhold" for s in v.jobs[i].seats)
        ]

    def _finalizable(self) -> list[int]:
        v = self.view
        return [
            i for i in self._jobs_in(REVEALING)
            if v.jobs[i].revealed == v.jobs[i].committed or v.now >= v.jobs[i].reveal_deadline
        ]

    def _unclaimed(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for epoch, node in sorted(self.credited - self.claimed):
            out.setdefault(node, []).append(epoch)
        return out

    def _finalize(self, job_id: int) -> None:
        e = self.env
        job = self.view.jobs[job_id]
        vectors = [self.vectors[(job_id, s.node)] if s.state == REVEALED else b"" for s in job.seats]
        revealed = {s.node for s in job.seats if s.state == REVEALED}
        receipt = self._send(e.jobs.finalize, job_id, vectors, sender=e.deployer)
        terminal = len(receipt.decode_logs(e.jobs.JobAccepted)) + len(receipt.decode_logs(e.jobs.JobRefunded))
        redrawn = len(receipt.decode_logs(e.jobs.JobReassigned))
        assert terminal + redrawn == 1, f"finalize({job_id}) emitted {terminal} terminal and {redrawn} redraw events"
        event("finalize: committee redrawn after missing reveals" if redrawn else "finalize: job settled")
        # An honest node that revealed is never punished: honest vectors agree with each other
        # and liars' random vectors agree with nobody, so the honest set is the medoid's or none is.
        for ev in receipt.decode_logs(e.jobs.SeatSettled):
            if ev.node in revealed and self.behaviour[(job_id, ev.node)] == "honest":
                assert ev.outcome in (AGREED, RELEASED) and ev.slashed == 0, (
                    f"honest node {ev.node} settled with outcome {ev.outcome}, slashed {ev.slashed} on job {job_id}"
                )

    def _submit(self, count: int) -> None:
        """Submit a batch; with E eligible nodes, E // QUORUM jobs can surely be seated (each drawn
        committee takes at most QUORUM nodes out of the draw), so the batch is cut to that size."""
        e = self.env
        eligible = self.view.eligible
        count = max(1, min(count, eligible // QUORUM))
        inputs = [f"job input {len(self.job_ids) + k}" for k in range(count)]
        if eligible < QUORUM:
            self._expect_revert(e.nodes, "NodeRegistryNotEnoughNodes", e.view_jobs.functions.submit, MODEL, inputs, FEE, False, sender=e.requester)
            return
        receipt = self._send(e.jobs.submit, MODEL, inputs, FEE, False, sender=e.requester)
        self.job_ids.extend(ev.jobId for ev in receipt.decode_logs(e.jobs.JobSubmitted))

    def _commit_seats(self, job_id: int, behaviours: list[str]) -> None:
        """Commit the job's assigned seats, one behaviour each in seat order ("silent" never commits)."""
        e = self.env
        seats = [s.node for s in self.view.jobs[job_id].seats if s.state == ASSIGNED and (job_id, s.node) not in self.behaviour]
        for node, behaviour in zip(seats, behaviours, strict=False):
            self.behaviour[(job_id, node)] = behaviour
            if behaviour == "silent":
                continue
            account = self.by_address[node]
            vector = self._vector(job_id, node, behaviour)
            self.vectors[(job_id, node)] = vector
            self._send(e.jobs.commit, job_id, commit_for(e.chain, e.jobs, job_id, account, vector), sender=account)

    def _reveal_seats(self, job_id: int, behaviours: list[str]) -> None:
        """Reveal the job's committed seats, one behaviour each in seat order ("withhold" never reveals)."""
        e = self.env
        seats = [
            s.node for s in self.view.jobs[job_id].seats
            if s.state == COMMITTED and self.behaviour.get((job_id, s.node)) != "withhold"
        ]
        for node, behaviour in zip(seats, behaviours, strict=False):
            if behaviour == "withhold":
                self.behaviour[(job_id, node)] = "withhold"
                continue
            self._send(e.jobs.reveal, job_id, self.vectors[(job_id, node)], SALT, sender=self.by_address[node])

    def _advance(self, job_id: int) -> None:
        self._travel_past(self.view.jobs[job_id].commit_deadline)
        self._send(self.env.jobs.advance, job_id, sender=self.env.deployer)

    def _expire(self, job_id: int) -> None:
        self._travel_past(self.view.jobs[job_id].reveal_deadline)
        self._finalize(job_id)

    # ------------------------------------------------------------------------ rules
    # No precondition reads the chain: committee draws use anvil's random prevrandao and deadlines
    # follow the wall clock, so a replayed example may see another state. A rule with nothing to
    # act on does nothing; what Hypothesis draws never depends on the chain.
    @initialize(operators=st.lists(st.tuples(STAKE, CAPACITY), min_size=QUORUM, max_size=5))
    def start(self, operators: list[tuple[int, int]]) -> None:
        for account, (stake, capacity) in zip(self.env.node_accounts, operators, strict=False):
            self._register(account, stake, capacity)

    @rule(pick=PICK, stake=STAKE, capacity=CAPACITY)
    def register(self, pick: int, stake: int, capacity: int) -> None:
        candidates = [a for a, n in self.view.nodes.items() if not n.registered]
        if candidates:
            self._register(self.by_address[choose(candidates, pick)], stake, capacity)

    @rule(pick=PICK, amount=st.integers(min_value=1, max_value=2_000 * ONE))
    def add_stake(self, pick: int, amount: int) -> None:
        e = self.env
        candidates = self._registered()
        if not candidates:
            return
        account = self.by_address[choose(candidates, pick)]
        self._send(e.nodes.addStake, amount, sender=account)
        self.deposited[account.address] += amount

    @rule(count=st.integers(min_value=1, max_value=3))
    def submit(self, count: int) -> None:
        self._submit(count)

    @rule(pick=PICK, behaviours=st.lists(COMMIT_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM))
    def commit(self, pick: int, behaviours: list[str]) -> None:
        if candidates := self._committable():
            self._commit_seats(choose(candidates, pick), behaviours)

    @rule(pick=PICK, behaviours=st.lists(REVEAL_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM))
    def reveal(self, pick: int, behaviours: list[str]) -> None:
        if candidates := self._revealable():
            self._reveal_seats(choose(candidates, pick), behaviours)

    @rule(pick=PICK)
    def finalize(self, pick: int) -> None:
        if candidates := self._finalizable():
            self._finalize(choose(candidates, pick))

    @rule(pick=PICK)
    def expire(self, pick: int) -> None:
        """Travel past a job's reveal deadline, then finalize it (withheld seats are slashed)."""
        if candidates := self._jobs_in(REVEALING):
            self._expire(choose(candidates, pick))

    @rule(pick=PICK)
    def advance(self, pick: int) -> None:
        """Travel past a job's commit deadline, then advance it (drop, redraw or refund)."""
        if candidates := self._jobs_in(COMMITTING):
            self._advance(choose(candidates, pick))

    @rule(
        pick=PICK,
        commits=st.lists(COMMIT_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM),
        reveals=st.lists(REVEAL_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM),
    )
    def run_job(self, pick: int, commits: list[str], reveals: list[str]) -> None:
        """Take one open job (a new one if none is open) through every phase still due (commit,
        advance, reveal, finalize or expire) until it settles. The single-phase rules interleave
        jobs, but their time travel (120 s windows) rarely leaves a job the time to reach its
        reveal; this one gets jobs accepted, paid and rewarded."""
        open_jobs = [i for i, j in self.view.jobs.items() if j.status in OPEN]
        if not open_jobs:
            if self.view.eligible < QUORUM:
                return
            self._submit(1)
            open_jobs = self.job_ids[-1:]
        job_id = choose(open_jobs, pick)
        for _ in range(4 * (MAX_REASSIGNMENTS + 1)):  # every phase at most once per round
            job = self.view.jobs[job_id]
            if job.status == COMMITTING:
                if job_id in self._committable():
                    self._commit_seats(job_id, commits)
                else:
                    self._advance(job_id)
            elif job.status == REVEALING:
                if job_id in self._finalizable():
                    self._finalize(job_id)
                elif job_id in self._revealable():
                    self._reveal_seats(job_id, reveals)
                else:
                    self._expire(job_id)
            else:
                return
        raise AssertionError(f"job {job_id} did not settle")

    @rule(pick=PICK, mode=st.sampled_from(["exit", "partial", "below_minimum"]), share=st.integers(min_value=0, max_value=10**6))
    def request_unstake(self, pick: int, mode: str, share: int) -> None:
        e = self.env
        candidates = [a for a, n in self.view.nodes.items() if n.stake > 0]
        if not candidates:
            return
        node = choose(candidates, pick)
        account, stake = self.by_address[node], self.view.nodes[node].stake
        if mode == "partial" and stake > MIN_STAKE:
            amount = 1 + share * (stake - MIN_STAKE - 1) // 10**6  # leaves at least MIN_STAKE bonded
            self._send(e.nodes.requestUnstake, amount, sender=account)
        elif mode == "below_minimum" and stake > 1:
            remaining = 1 + share * (min(stake, MIN_STAKE) - 2) // 10**6  # 0 < remaining < min(stake, MIN_STAKE)
            self._expect_revert(e.nodes, "NodeRegistryStakeBelowMinimum", e.view_nodes.functions.requestUnstake, stake - remaining, sender=account)
        else:
            self._send(e.nodes.requestUnstake, stake, sender=account)

    @rule(pick=PICK)
    def withdraw(self, pick: int) -> None:
        """Withdraw after travelling past the unbonding time (trying once before it if it has not passed)."""
        e = self.env
        candidates = [a for a, n in self.view.nodes.items() if n.unbonding > 0]
        if not candidates:
            return
        node = choose(candidates, pick)
        account = self.by_address[node]
        if self.view.now + MARGIN <= self.view.nodes[node].unbonding_until:
            self._expect_revert(e.nodes, "NodeRegistryNothingToWithdraw", e.view_nodes.functions.withdraw, sender=account)
        self._travel_past(self.view.nodes[node].unbonding_until)
        unbonding, before = self.view.nodes[node].unbonding, self._balance(account)
        receipt = self._send(e.nodes.withdraw, sender=account)
        assert [ev.amount for ev in receipt.decode_logs(e.nodes.StakeWithdrawn)] == [unbonding]
        assert self._balance(account) == before + unbonding
        self.withdrawn[node] += unbonding

    @rule(pick=PICK)
    def claim(self, pick: int) -> None:
        """Claim every credited epoch of a node, after travelling past the last one's end."""
        e = self.env
        candidates = sorted(self._unclaimed().items())
        if not candidates:
            return
        node, epochs = choose(candidates, pick)
        self._travel_past(self.genesis + (max(epochs) + 1) * EPOCH - 1)
        account = self.by_address[node]
        pending = e.view_rewards.functions.pendingRewards(account.address, epochs).call()
        before = self._balance(account)
        if pending == 0:
            self._expect_revert(e.rewards, "RewardsNothingToClaim", e.view_rewards.functions.claim, epochs, sender=account)
            return
        receipt = self._send(e.rewards.claim, epochs, sender=account)
        claimed = receipt.decode_logs(e.rewards.RewardsClaimed)
        assert sorted(ev.epoch for ev in claimed) == epochs
        for ev in claimed:
            self.claimed.add((ev.epoch, node))
            self.claimed_by_epoch[ev.epoch] += ev.amount
        amount = sum(ev.amount for ev in claimed)
        assert amount == pending and self._balance(account) == before + pending
        self.claimed_total += amount

    @rule(seconds=st.sampled_from([5, 60, 121, 241, EPOCH, UNBONDING + 1]))
    def travel(self, seconds: int) -> None:
        time_travel(self.env.chain, seconds)
        self._view = None

    # ------------------------------------------------------------------- invariants
    @invariant()
    def infer_is_conserved(self) -> None:
        v, e = self.view, self.env
        assert sum(v.balances.values()) == v.supply, "INFER held outside the tracked accounts and contracts"
        stakes = sum(n.stake + n.unbonding for n in v.nodes.values())
        assert v.balances[e.nodes.address] == stakes, "NodeRegistry balance != sum of stake + unbonding"
        escrow = sum(j.fee for j in v.jobs.values() if j.status in OPEN)
        assert v.balances[e.jobs.address] == escrow, "JobRegistry balance != fees of open jobs"
        assert v.supply - self.supply0 == self.claimed_total, "supply grew by other than the claimed emission"

    @invariant()
    def nodes_paid_at_most_once(self) -> None:
        for (job_id, node), count in self.paid.items():
            assert count == 1, f"{node} paid {count} times for job {job_id}"
            assert node in self.agreeing[job_id], f"{node} paid for job {job_id} without agreeing"

    @invariant()
    def one_final_state_per_job(self) -> None:
        for job_id, job in self.view.jobs.items():
            if job_id in self.terminal_seen:
                assert job.status == self.terminal_seen[job_id], f"job {job_id} left terminal state {self.terminal_seen[job_id]}"
            elif job.status in TERMINAL:
                self.terminal_seen[job_id] = job.status
            accepted, refunded = self.accepted_events[job_id], self.refunded_events[job_id]
            assert accepted + refunded <= 1, f"job {job_id}: {accepted} JobAccepted, {refunded} JobRefunded"
            assert (accepted, refunded) == {ACCEPTED: (1, 0), REFUNDED: (0, 1)}.get(job.status, (0, 0)), (
                f"job {job_id} has status {job.status} but {accepted} JobAccepted, {refunded} JobRefunded"
            )

    @invariant()
    def never_drawn_twice_for_a_job(self) -> None:
        for job_id, job in self.view.jobs.items():
            drawn = [s.node for s in job.seats]
            assert len(drawn) == len(set(drawn)), f"job {job_id} drew a node twice: {drawn}"

    @invariant()
    def stake_is_accounted(self) -> None:
        for node, n in self.view.nodes.items():
            assert n.stake + n.unbonding + self.slashed[node] == self.deposited[node] - self.withdrawn[node], (
                f"{node}: stake {n.stake} + unbonding {n.unbonding} + slashed {self.slashed[node]} "
                f"!= deposited {self.deposited[node]} - withdrawn {self.withdrawn[node]}"
            )

    @invariant()
    def emission_within_schedule(self) -> None:
        r = self.env.view_rewards.functions
        for epoch in sorted({epoch for epoch, _ in self.credited}):
            emitted, schedule = r.emitted(epoch).call(), r.emissionFor(epoch).call()
            assert emitted == self.claimed_by_epoch[epoch], f"epoch {epoch}: emitted {emitted} != claims seen"
            assert emitted <= schedule, f"epoch {epoch} emitted {emitted} > schedule {schedule}"

    @invariant()
    def seats_within_capacity(self) -> None:
        v = self.view
        open_seats = Counter(s.node for j in v.jobs.values() if j.status in OPEN for s in j.seats if s.state != DROPPED)
        for node, n in v.nodes.items():
            assert n.open_jobs <= n.capacity, f"{node} holds {n.open_jobs} open jobs, capacity {n.capacity}"
            assert n.open_jobs == open_seats[node], f"{node}: openJobs {n.open_jobs} != unsettled seats {open_seats[node]}"

    @invariant()
    def selection_weights_match_nodes(self) -> None:
        v = self.view
        for node, n in v.nodes.items():
            assert n.listed_weight == expected_weight(n), f"{node} listed with weight {n.listed_weight}"
        assert v.total_weight == sum(n.listed_weight for n in v.nodes.values())
        assert v.eligible == sum(1 for n in v.nodes.values() if n.listed_weight > 0)


def test_random_operation_sequences_keep_invariants(
    chain: Any, accounts: Any, deployer: Any, requester: Any, node_accounts: list[Any],
    token: Any, models: Any, nodes: Any, rewards: Any, jobs: Any,
) -> None:
    class Machine(InferaMachine):
        env = Env(
            chain=chain, accounts=[accounts[i] for i in range(10)], deployer=deployer, requester=requester,
            node_accounts=node_accounts, token=token, models=models, nodes=nodes, rewards=rewards, jobs=jobs,
            view_token=web3_view(chain, token), view_nodes=web3_view(chain, nodes), view_jobs=web3_view(chain, jobs),
            view_rewards=web3_view(chain, rewards),
        )

    # Unlimited allowances, once for every example (the autouse fixture reverts them after the test).
    for account in [*node_accounts, requester]:
        token.approve(nodes, 2**256 - 1, sender=account)
        token.approve(jobs, 2**256 - 1, sender=account)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=25,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
