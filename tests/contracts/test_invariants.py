"""Stateful property test: random sequences of node, job, governance and reward operations keep
the protocol's money and bookkeeping invariants.

Hypothesis drives the deployed contracts with random sequences of register, addStake, submit,
assign (some or all due draws), commit (honest, lying, zero or silent), reveal (or withhold),
finalize (which queues a fresh committee when a round lacks reveals), advance and expiry after the
deadlines, requestUnstake (including one that must revert), withdraw (after trying too early),
releaseSlot, reinstate, reward claims, time travel, governance changes (setPolicy, setParams,
updateModel) and an operator action tried while a draw is due (must revert NodeRegistryDrawsDue),
plus run_job, which takes one job through all its phases. Slashing happens through finalize.
Committees are drawn by assign(), or by advance/finalize, which make due draws first; a draw with
too few fresh eligible nodes refunds the job. Operator actions draw the due committees first, as
a keeper would. After every step it checks:

- infer_is_conserved: the balances of every account and contract add up to totalSupply; the
  NodeRegistry holds exactly the nodes' stake + unbonding; the JobRegistry holds exactly the fees of
  open (Drawing, Committing, Revealing) jobs; supply grew by exactly the emission claimed.
- nodes_paid_at_most_once: each (job, node) paid once (JobAccepted's shares), only to nodes in
  the job's agreeing set.
- one_final_state_per_job: Accepted/Refunded never change; exactly one JobAccepted or JobRefunded
  per settled job, none for open ones.
- stake_is_accounted: stake + unbonding + slashed == deposited - withdrawn, per node.
- emission_within_schedule: per epoch, emitted(e) equals the claims seen and stays within
  epochEmission(e) == min(emissionFor(e), totalPoints(e) * emissionPerFeeBps / 10_000); each node's
  points are exactly the fees it was paid (never the slash reward), and totalPoints their sum.
- seats_within_capacity: openJobs <= capacity, and openJobs == the node's unsettled seats.
- never_drawn_twice_for_a_job: every seat of a job, over all its rounds, is a different node.
- selection_weights_match_nodes: each node's listed weight is what its stake, capacity and
  reputation give under the current staking parameters; the model's total weight and eligible
  count agree with them.
- jobs_keep_their_terms: a job keeps the fee, threshold and windows of its model and the policy
  (policyOf) in force when it was submitted, whatever governance changed since: its JobAccepted fee shares
  and slash rewards, every slash (capped at the current stakeCap) and every reputation change of
  its seats follow that policy.
- queue_is_fifo: committees are drawn (or refunded at the draw) strictly in the order their draws
  were queued; the queue the chain reports (entries, head block, drawsDue) is the one the events
  built, and the Drawing jobs are exactly the queued ones.

finalize also checks that a node which revealed an honest vector is never slashed, and an assign
that draws every due job leaves no job Drawing.

Truth is read from the chain (one batched read per step, shared by the rules and invariants). The
Python side only keeps what the chain cannot tell: the vectors committed but not yet revealed, the
terms each job was submitted under, the draw queue as the events built it, and running totals of
what the test deposited and what the receipts' events reported (payments, slashes, withdrawals,
points, claims). Each example starts from the same clean chain: the machine takes an evm_snapshot
when it is built and reverts to it in teardown (the autouse fixture only isolates the pytest test
as a whole). The Hypothesis profile (examples, steps) comes from hypothesis_profiles.py.
"""

from __future__ import annotations

import functools
import os
from collections import Counter, defaultdict, namedtuple
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from eth_utils.crypto import keccak
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from hypothesis_profiles import DEFAULT_PROFILE, profile_name, stateful_settings
from web3.exceptions import ContractCustomError

from contract_helpers import (
    COMMIT_WINDOW,
    DIM,
    EPOCH,
    FEE,
    MIN_STAKE,
    ONE,
    REVEAL_WINDOW,
    SALT,
    STAKE_CAP,
    THRESHOLD_PPM,
    UNBONDING,
    commit_for,
    model_params,
    near,
    random_vector,
    time_travel,
    web3_view,
)

DRAWING, COMMITTING, REVEALING, ACCEPTED, REFUNDED = 1, 2, 3, 4, 5
ASSIGNED, COMMITTED, REVEALED, DROPPED = 0, 1, 2, 3
AGREED, DISAGREED, WITHHELD, MISSED, RELEASED = 0, 1, 2, 3, 4
OPEN = (DRAWING, COMMITTING, REVEALING)
TERMINAL = (ACCEPTED, REFUNDED)
MODEL = 1
QUORUM = 3  # model 1's committee size (update_model keeps it)
MIN_AGREEMENT = 2
MAX_ROUNDS = 3  # ModelRegistry.MAX_ROUNDS: the first committee and MAX_ROUNDS - 1 redraws
MAX_DRAWS_FIRST = 32  # JobRegistry.MAX_DRAWS_FIRST: draws advance/finalize make before their own work
BPS = 10_000
REP_ONE = 10_000
REP_MAX = 20_000
# A deadline at least this many seconds after the head block is not reached by the next
# transaction (anvil mines on demand; wall-clock drift between steps is well below this).
MARGIN = 15
# Transaction settings passed explicitly: Ape otherwise re-reads the network config and estimates
# gas for every transaction (~100 ms of client time each). The fixed limit is far above any of these
# transactions' use (finalize, the largest, stays under 1M gas; assign(64) with 3 seats each too).
TX_KWARGS: dict[str, Any] = {"type": 2, "required_confirmations": 0, "gas_limit": 5_000_000}

PICK = st.integers(min_value=0, max_value=1 << 16)
STAKE = st.one_of(st.just(MIN_STAKE), st.integers(min_value=MIN_STAKE, max_value=5_000 * ONE))
CAPACITY = st.integers(min_value=1, max_value=4)
# Mostly well-behaved nodes, so that jobs get accepted and paid (Hypothesis favours the first entry).
COMMIT_BEHAVIOUR = st.sampled_from(["honest"] * 5 + ["liar", "zero", "silent"])
REVEAL_BEHAVIOUR = st.sampled_from(["reveal"] * 4 + ["withhold"])
# NodeRegistry operations that a due draw freezes (the rule below tries each while one is due).
OPERATOR_ACTIONS = [
    "register", "addStake", "updateService", "requestUnstake", "reinstate", "withdraw", "refreshWeight",
    "releaseSlot", "setParams",
]


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
    ejected_at: int
    node_id: int


@dataclass(frozen=True)
class SeatView:
    node: str
    state: int


@dataclass(frozen=True)
class JobView:
    status: int
    fee: int
    deadline: int  # commit deadline while Committing, reveal deadline while Revealing, else 0
    committed: int
    revealed: int
    threshold: int
    commit_window: int
    reveal_window: int
    seats: tuple[SeatView, ...]


@dataclass(frozen=True)
class Params:
    """NodeRegistry's staking parameters."""

    min_stake: int
    unbonding: int
    ejection: int
    stake_cap: int


@dataclass(frozen=True)
class EpochView:
    emitted: int
    schedule: int  # emissionFor(e)
    emission: int  # epochEmission(e)
    total_points: int


@dataclass(frozen=True)
class ChainView:
    block: int  # head block number
    now: int  # head block timestamp
    supply: int
    balances: dict[str, int]
    nodes: dict[str, NodeView]
    jobs: dict[int, JobView]
    total_weight: int
    eligible: int
    params: Params
    queue_entries: int
    queue_head_block: int
    draws_due: bool
    epochs: dict[int, EpochView]
    points: dict[tuple[int, str], int]


@dataclass(frozen=True)
class Policy:
    treasury: str
    protocol_fee_bps: int
    slash_bps: int
    slash_reward_bps: int
    callback_gas_limit: int
    reputation_gain: int
    disagreement_penalty: int
    liveness_penalty: int

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.treasury, self.protocol_fee_bps, self.slash_bps, self.slash_reward_bps, self.callback_gas_limit,
                self.reputation_gain, self.disagreement_penalty, self.liveness_penalty)


@dataclass(frozen=True)
class ModelTerms:
    """What a job copies from its model at submission."""

    fee: int
    threshold: int
    commit_window: int
    reveal_window: int


@dataclass(frozen=True)
class JobTerms:
    model: ModelTerms
    policy: Policy


@dataclass(frozen=True)
class Env:
    """The session's deployment, handed to the machine as a class attribute. Transactions go through
    Ape; reads go through plain web3 views of the same contracts (`view_*`), because every Ape call
    costs ~80 ms of client-side work and the invariants read dozens of values per step."""

    chain: Any
    accounts: list[Any]
    deployer: Any
    requester: Any
    treasury: Any
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
    view_models: Any


class Reader:
    """Batched eth_calls with each call's calldata encoded once. web3's contract functions find
    their ABI by recomputing every selector on each call, which made the per-step read the bulk
    of this test's time; here a step's read is one JSON-RPC batch of prepared requests, decoded
    with eth_abi into named tuples (struct fields by their ABI names)."""

    def __init__(self, w3: Any, known: list[str]) -> None:
        self.w3 = w3
        self.checksum = {a.lower(): a for a in known}
        self._prepared: dict[tuple[str, str, tuple[Any, ...]], tuple[dict[str, str], list[str], list[Any]]] = {}
        self._tuples: dict[str, Any] = {}

    def call(self, contract: Any, name: str, *args: Any) -> tuple[str, list[Any], Any]:
        """A request for `contract.name(*args)` at the head block, with how to decode its answer."""
        key = (contract.address, name, args)
        if key not in self._prepared:
            fn = next(a for a in contract.abi if a.get("type") == "function" and a["name"] == name)
            data = function_abi_to_4byte_selector(fn) + abi_encode(get_abi_input_types(fn), list(args))
            self._prepared[key] = ({"to": contract.address, "data": "0x" + data.hex()}, get_abi_output_types(fn), fn["outputs"])
        tx, types, outputs = self._prepared[key]
        return "eth_call", [tx, "latest"], (types, outputs)

    @staticmethod
    def head() -> tuple[str, list[Any], Any]:
        return "eth_getBlockByNumber", ["latest", False], None

    def run(self, requests: list[tuple[str, list[Any], Any]]) -> list[Any]:
        responses = self.w3.provider.make_batch_request([(method, params) for method, params, _ in requests])
        assert isinstance(responses, list), f"batch read failed: {responses}"
        out: list[Any] = []
        for (_, _, decoder), response in zip(requests, responses, strict=True):
            assert "error" not in response, f"read failed: {response['error']}"
            result = response["result"]
            if decoder is None:
                out.append({"number": int(result["number"], 16), "timestamp": int(result["timestamp"], 16)})
                continue
            types, outputs = decoder
            values = abi_decode(types, bytes.fromhex(result[2:]))
            shaped = tuple(self._shape(o, v) for o, v in zip(outputs, values, strict=True))
            out.append(shaped[0] if len(shaped) == 1 else shaped)
        return out

    def _shape(self, param: dict[str, Any], value: Any) -> Any:
        kind = param["type"]
        if kind.endswith("[]"):
            return tuple(self._shape({**param, "type": kind[:-2]}, v) for v in value)
        if kind == "address":
            return self.checksum.get(value, value)
        components = param.get("components")
        if not components:
            return value
        name = param.get("internalType", kind)
        if name not in self._tuples:
            self._tuples[name] = namedtuple("Struct", [c["name"] for c in components], rename=True)
        return self._tuples[name](*(self._shape(c, v) for c, v in zip(components, value, strict=True)))


def choose(candidates: list[Any], pick: int) -> Any:
    return candidates[pick % len(candidates)]


def error_selector(contract: Any, name: str) -> str:
    """The 4-byte selector of `contract`'s custom error `name`, as 0x-hex."""
    abi = next(a for a in contract.contract_type.errors if a.name == name)
    return "0x" + keccak(text=abi.selector)[:4].hex()


def expected_weight(n: NodeView, p: Params) -> int:
    """NodeRegistry._targetWeight, recomputed from the node's record and the current parameters."""
    if n.stake < p.min_stake or n.open_jobs >= n.capacity or n.reputation < p.ejection:
        return 0
    return int(min(n.stake, p.stake_cap))  # reputation applies at draw time, by rejection


def policy_of(raw: Any) -> Policy:
    """A Policy from web3's decoded struct."""
    return Policy(
        treasury=raw.treasury, protocol_fee_bps=raw.protocolFeeBps, slash_bps=raw.slashBps,
        slash_reward_bps=raw.slashRewardBps, callback_gas_limit=raw.callbackGasLimit,
        reputation_gain=raw.reputationGain, disagreement_penalty=raw.disagreementPenalty,
        liveness_penalty=raw.livenessPenalty,
    )


def reputation_delta(outcome: int, p: Policy) -> int:
    """The reputation change JobRegistry applies to a seat settled with `outcome` under policy `p`."""
    return {
        AGREED: p.reputation_gain, DISAGREED: -p.disagreement_penalty, WITHHELD: -p.liveness_penalty,
        MISSED: -p.liveness_penalty, RELEASED: 0,
    }[outcome]


F = TypeVar("F", bound=Callable[..., None])


def counted(f: F) -> F:
    """Count the rule's runs in the machine's STATS (reported under the soak profile)."""

    @functools.wraps(f)
    def wrapper(self: InferaMachine, *args: Any, **kwargs: Any) -> None:
        self.STATS[f"rule {f.__name__}"] += 1
        self.STATS["steps"] += 1
        f(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


# -------------------------------------------------------------------------- the machine
class InferaMachine(RuleBasedStateMachine):
    env: ClassVar[Env]
    STATS: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        e = self.env
        self.STATS["examples"] += 1
        self.snapshot = e.chain.provider.make_request("evm_snapshot", [])
        self.by_address = {a.address: a for a in e.accounts}
        self.node_index = {a.address: i for i, a in enumerate(e.node_accounts)}
        self.holders = [
            *(a.address for a in e.accounts),
            e.jobs.address, e.nodes.address, e.rewards.address, e.models.address, e.token.address,
        ]
        self.reader = Reader(e.chain.provider.web3, [*self.holders])
        self.genesis = e.view_rewards.functions.genesis().call()
        self.emission_per_fee_bps = e.view_rewards.functions.emissionPerFeeBps().call()
        self.max_job_lifetime = e.view_models.functions.maxJobLifetime().call()
        self.supply0 = e.view_token.functions.totalSupply().call()
        self.job_ids: list[int] = []
        # Vectors and behaviour per (job, node): the chain only learns a vector at reveal.
        self.vectors: dict[tuple[int, str], bytes] = {}
        self.behaviour: dict[tuple[int, str], str] = {}
        # The terms in force now (what the machine set) and the ones each job was submitted under.
        self.policy = policy_of(e.view_jobs.functions.policy().call())
        self.model = ModelTerms(fee=FEE, threshold=THRESHOLD_PPM, commit_window=COMMIT_WINDOW, reveal_window=REVEAL_WINDOW)
        self.terms: dict[int, JobTerms] = {}
        self.stake_cap = e.view_nodes.functions.stakeCap().call()  # caps every slash; set_params changes it
        self.policy_checked: set[int] = set()
        # The draw queue as DrawQueued / DrawsRescheduled built it: [first job, count, draw block].
        self.queue: list[list[int]] = []
        self.queue_floor = 0
        self.violations: dict[str, list[str]] = {"terms": [], "fifo": []}
        # Running totals, from what the test sent and from the receipts' events.
        self.deposited: Counter[str] = Counter()
        self.withdrawn: Counter[str] = Counter()
        self.slashed: Counter[str] = Counter()
        self.paid: Counter[tuple[int, str]] = Counter()
        self.agreeing: dict[int, set[str]] = {}
        self.assigned: defaultdict[int, dict[int, str]] = defaultdict(dict)  # job -> seat -> node (JobAssigned)
        self.accepted_events: Counter[int] = Counter()
        self.refunded_events: Counter[int] = Counter()
        self.terminal_seen: dict[int, int] = {}
        self.fees_earned: Counter[tuple[int, str]] = Counter()  # (epoch, node) -> fees paid, as points
        self.node_ids: dict[str, int] = {}  # the permanent id each address was first seen with
        self.credited: set[tuple[int, str]] = set()  # (epoch, node) that earned points
        self.claimed: set[tuple[int, str]] = set()
        self.claimed_by_epoch: Counter[int] = Counter()
        self.claimed_total = 0
        self._view: ChainView | None = None

    def teardown(self) -> None:
        self.env.chain.provider.make_request("evm_revert", [self.snapshot])

    def _event(self, name: str) -> None:
        event(name)
        self.STATS[name] += 1

    # ------------------------------------------------------------------ chain reading
    @property
    def view(self) -> ChainView:
        """The chain's state after the last transaction, read once and shared by rules and invariants."""
        if self._view is None:
            self._view = self._read()
        return self._view

    def _read(self) -> ChainView:
        """Every value the invariants need, in one JSON-RPC batch."""
        e, r = self.env, self.reader
        epochs = sorted({epoch for epoch, _ in self.credited})
        pairs = sorted(self.credited)
        requests = [
            r.head(),
            r.call(e.view_token, "totalSupply"),
            r.call(e.view_nodes, "totalWeight", MODEL),
            r.call(e.view_nodes, "eligibleNodes", MODEL),
            r.call(e.view_nodes, "minStake"),
            r.call(e.view_nodes, "unbondingPeriod"),
            r.call(e.view_nodes, "ejectionThreshold"),
            r.call(e.view_nodes, "stakeCap"),
            r.call(e.view_jobs, "queuedDraws"),
            r.call(e.view_jobs, "drawsDue"),
            *(r.call(e.view_token, "balanceOf", holder) for holder in self.holders),
            *(r.call(e.view_nodes, "getNode", account.address) for account in e.node_accounts),
        ]
        for job_id in self.job_ids:
            requests += [r.call(e.view_jobs, "getJob", job_id), r.call(e.view_jobs, "getSeats", job_id)]
        for epoch in epochs:
            requests += [r.call(e.view_rewards, name, epoch) for name in ("emitted", "emissionFor", "epochEmission", "totalPoints")]
        requests += [r.call(e.view_rewards, "pointsOf", epoch, node) for epoch, node in pairs]
        results = iter(r.run(requests))
        head = next(results)
        supply, total_weight, eligible = next(results), next(results), next(results)
        params = Params(min_stake=next(results), unbonding=next(results), ejection=next(results), stake_cap=next(results))
        (queue_entries, queue_head_block), draws_due = next(results), next(results)
        balances = {holder: next(results) for holder in self.holders}
        nodes: dict[str, NodeView] = {}
        for account in e.node_accounts:
            n = next(results)
            nodes[account.address] = NodeView(
                registered=n.index != 0, stake=n.stake, unbonding=n.unbonding, unbonding_until=n.unbondingUntil,
                capacity=n.capacity, open_jobs=n.openJobs, reputation=n.reputation, listed_weight=n.listedWeight,
                ejected_at=n.ejectedAt, node_id=n.id,
            )
        jobs: dict[int, JobView] = {}
        for job_id in self.job_ids:
            j, seats = next(results), next(results)
            jobs[job_id] = JobView(
                status=j.status, fee=j.fee, deadline=j.deadline, committed=j.committed, revealed=j.revealed,
                threshold=j.thresholdPpm, commit_window=j.commitWindow, reveal_window=j.revealWindow,
                seats=tuple(SeatView(s.node, s.state) for s in seats),
            )
        epoch_views = {
            epoch: EpochView(emitted=next(results), schedule=next(results), emission=next(results), total_points=next(results))
            for epoch in epochs
        }
        points = {pair: next(results) for pair in pairs}
        return ChainView(
            block=head["number"], now=head["timestamp"], supply=supply, balances=balances, nodes=nodes, jobs=jobs,
            total_weight=total_weight, eligible=eligible, params=params, queue_entries=queue_entries,
            queue_head_block=queue_head_block, draws_due=draws_due, epochs=epoch_views, points=points,
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
        """Fold a receipt's events into the running totals and check what one receipt can tell."""
        logs = sorted(receipt.decode_logs(), key=lambda log: log.log_index)
        by_name: dict[str, list[Any]] = {}
        for log in logs:
            by_name.setdefault(log.event_name, []).append(log)

        def of(name: str) -> list[Any]:
            return by_name.get(name, [])

        self._record_queue(logs)
        for ev in of("JobSubmitted"):
            terms = JobTerms(model=self.model, policy=self.policy)
            self.terms[ev.jobId] = terms
            if ev.fee != terms.model.fee:
                self.violations["terms"].append(f"job {ev.jobId} escrowed {ev.fee}, model fee {terms.model.fee}")
        for ev in of("JobAssigned"):
            self.assigned[ev.jobId][ev.seat] = ev.node
        accepted = of("JobAccepted")
        for ev in accepted:
            self.accepted_events[ev.jobId] += 1
            self.agreeing[ev.jobId] = set(ev.agreeing)
            self.STATS["jobs accepted"] += 1
        for ev in of("JobRefunded"):
            self.refunded_events[ev.jobId] += 1
            self.STATS["jobs refunded"] += 1
        # NodeRegistry.settleSeat emits the reputation change and the slash, then JobRegistry the
        # SeatSettled: pair them in log order (one receipt may settle a node twice, e.g. a refund
        # at a draw that finalize makes first, then the finalized job). Agreed seats are settled
        # later, once per node per call (JobRegistry's ledger, NodeRegistry.releaseSeats): their
        # JobAccepted comes first and one ReputationChanged per node follows, by the sum of the
        # gains, clamped; a fault of that node flushes the ledger before its own settlement.
        reputation: dict[str, Any] = {}
        slash: dict[str, Any] = {}
        deferred: Counter[str] = Counter()
        slashed_for_job: Counter[int] = Counter()
        for log in logs:
            if log.event_name == "ReputationChanged" and deferred[log.node] != 0:
                if log.current != min(REP_MAX, log.previous + deferred[log.node]):
                    self.violations["terms"].append(
                        f"{log.node}: reputation {log.previous} -> {log.current} for deferred gains {deferred[log.node]}")
                del deferred[log.node]
            elif log.event_name == "ReputationChanged":
                assert log.node not in reputation, f"{log.node}: two reputation changes for one settlement"
                reputation[log.node] = log
            elif log.event_name == "NodeReinstated":
                reputation.pop(log.node, None)
            elif log.event_name == "NodeSlashed":
                assert log.node not in slash, f"{log.node}: two slashes for one settlement"
                slash[log.node] = log
                self.slashed[log.node] += log.amount
            elif log.event_name == "JobAccepted":
                # Agreed seats have no SeatSettled: JobAccepted names them, before their owed
                # settlements (and no slash may land on them: `slash` must be empty at the end).
                for node in log.agreeing:
                    deferred[node] += self.terms[log.jobId].policy.reputation_gain
            elif log.event_name == "SeatSettled":
                slashed_for_job[log.jobId] += log.slashed
                self._check_settlement(log, slash.pop(log.node, None), reputation.pop(log.node, None))
        assert not reputation and not slash, f"reputation changes {reputation} or slashes {slash} outside a settlement"
        assert not +deferred, f"agreed seats whose reputation gain was never applied: {dict(deferred)}"
        credited = {ev.node: ev for ev in of("PointsCredited")}
        assert len(credited) == len(of("PointsCredited")), "points credited twice to a node in one transaction"
        for ev in accepted:
            self._check_payment(ev, slashed_for_job[ev.jobId])
            for node in ev.agreeing:
                self.paid[(ev.jobId, node)] += 1
                # Points are the fee earned, never the slash reward; an unpaid seat earns none.
                points = credited.pop(node, None)
                if ev.feeEach == 0:
                    assert points is None, f"{node} credited {points.points} points for a job paying no fee"
                else:
                    assert points is not None and points.points == ev.feeEach, (
                        f"{node} paid fee {ev.feeEach} on job {ev.jobId} but credited {points and points.points}"
                    )
                    self.fees_earned[(points.epoch, node)] += ev.feeEach
                    self.credited.add((points.epoch, node))
        assert not credited, f"points credited without a fee paid: {sorted(credited)}"

    def _record_queue(self, logs: list[Any]) -> None:
        """Replay the receipt's queue events in log order against the queue the earlier ones built:
        every first JobAssigned of a queued job, and every refund of a queued job (a draw that found
        too few fresh nodes), must take the queue's head."""
        for log in logs:
            if log.event_name == "DrawQueued":
                self.queue.append([log.firstJobId, log.count, log.drawBlock])
            elif log.event_name == "DrawsRescheduled":
                self.queue_floor = log.drawBlock
                self._event("draws rescheduled (block hash expired)")
            elif log.event_name in ("JobAssigned", "JobRefunded") and self._queued(log.jobId):
                head = self.queue[0][0]
                if log.jobId != head:
                    self.violations["fifo"].append(f"job {log.jobId} drawn while job {head} was queued before it")
                    continue
                self.queue[0][0] += 1
                self.queue[0][1] -= 1
                if self.queue[0][1] == 0:
                    self.queue.pop(0)
                if log.event_name == "JobRefunded":
                    self._event("draw refunded the job (too few fresh eligible nodes)")
            # a later JobAssigned of a job no longer queued: another seat of the committee just drawn

    def _queued(self, job_id: int) -> bool:
        return any(first <= job_id < first + count for first, count, _ in self.queue)

    def _queued_jobs(self) -> set[int]:
        return {job for first, count, _ in self.queue for job in range(first, first + count)}

    def _check_settlement(self, ev: Any, slash: Any, reputation: Any) -> None:
        """A seat's slash and reputation change follow its job's policy; one slash never exceeds
        the stake cap in force."""
        policy, problems = self.terms[ev.jobId].policy, self.violations["terms"]
        slash_bps = policy.slash_bps if ev.outcome in (DISAGREED, WITHHELD) else 0
        if slash_bps == 0:
            if ev.slashed != 0 or slash is not None:
                problems.append(f"job {ev.jobId}: {ev.node} slashed {ev.slashed} with outcome {ev.outcome}, policy bps 0")
        elif slash is None:
            problems.append(f"job {ev.jobId}: {ev.node} settled with outcome {ev.outcome} but not slashed")
        else:
            before = slash.amount + slash.stake + slash.unbonding
            expected = min(before * slash_bps // BPS, self.stake_cap)
            if ev.slashed != expected or slash.amount != expected:
                problems.append(
                    f"job {ev.jobId}: {ev.node} slashed {ev.slashed} (NodeSlashed {slash.amount}) of {before}, "
                    f"expected {expected} at {slash_bps} bps, cap {self.stake_cap}"
                )
            if slash.amount == self.stake_cap and before * slash_bps // BPS > self.stake_cap:
                self._event("slash capped at stakeCap")
        delta = reputation_delta(ev.outcome, policy)
        if delta == 0:
            if reputation is not None:
                problems.append(f"job {ev.jobId}: {ev.node} reputation changed with outcome {ev.outcome}, policy delta 0")
        elif reputation is None:
            problems.append(f"job {ev.jobId}: {ev.node} settled with outcome {ev.outcome} but no reputation change")
        elif reputation.current != max(0, min(REP_MAX, reputation.previous + delta)):
            problems.append(
                f"job {ev.jobId}: {ev.node} reputation {reputation.previous} -> {reputation.current}, policy delta {delta}"
            )

    def _check_payment(self, ev: Any, slashed: int) -> None:
        """JobAccepted's shares follow the job's own fee and policy: equal shares of fee less the
        protocol fee, and of the slash reward share of what this finalization slashed."""
        terms, agreeing = self.terms[ev.jobId], len(ev.agreeing)
        fee_each = terms.model.fee * (BPS - terms.policy.protocol_fee_bps) // BPS // agreeing
        reward_each = slashed * terms.policy.slash_reward_bps // BPS // agreeing
        if (ev.feeEach, ev.slashRewardEach) != (fee_each, reward_each):
            self.violations["terms"].append(
                f"job {ev.jobId}: paid fee {ev.feeEach}, reward {ev.slashRewardEach} each; its terms give {fee_each}, {reward_each}"
            )

    def _balance(self, account: Any) -> int:
        return int(self.env.view_token.functions.balanceOf(account.address).call())

    def _travel_past(self, timestamp: int) -> None:
        """Mine a block later than `timestamp` (no-op when the head already is)."""
        now = self.view.now
        if now <= timestamp:
            time_travel(self.env.chain, timestamp - now + 1)
            self._view = None
        assert self.view.now > timestamp

    def _mine(self) -> None:
        self.env.chain.provider.make_request("evm_mine", [])
        self._view = None

    # ---------------------------------------------------------------------- helpers
    def _registered(self) -> list[str]:
        return [a for a, n in self.view.nodes.items() if n.registered]

    def _register(self, account: Any, stake: int, capacity: int) -> None:
        e = self.env
        before = self.view.nodes[account.address]
        stake = max(stake, self.view.params.min_stake)
        self._send(e.nodes.register, stake, [MODEL], capacity, sender=account)
        self.deposited[account.address] += stake
        # A returning address keeps its reputation; a new one starts at 1.0.
        kept = before.reputation if before.reputation != 0 or before.ejected_at != 0 else REP_ONE
        assert self.view.nodes[account.address].reputation == kept, f"{account.address} re-registered with another reputation"
        if before.reputation != 0:
            self._event("register: returning node kept its reputation")

    def _jobs_in(self, status: int) -> list[int]:
        return [i for i, j in self.view.jobs.items() if j.status == status]

    def _draw_due(self) -> None:
        """Draw every queued committee, as a keeper would before an operator action (the next
        transaction is in a later block than any queued draw, so all of them are due)."""
        for _ in range(3):
            if not self._jobs_in(DRAWING):
                return
            receipt = self._send(self.env.jobs.assign, 64, sender=self.env.deployer)
            if not receipt.decode_logs(self.env.jobs.DrawsRescheduled):
                break
        assert not self._jobs_in(DRAWING), f"jobs {self._jobs_in(DRAWING)} still Drawing after assign"

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
            if v.now + MARGIN <= v.jobs[i].deadline
            and any(s.state == ASSIGNED and (i, s.node) not in self.behaviour for s in v.jobs[i].seats)
        ]

    def _revealable(self) -> list[int]:
        v = self.view
        return [
            i for i in self._jobs_in(REVEALING)
            if v.now + MARGIN <= v.jobs[i].deadline
            and any(s.state == COMMITTED and self.behaviour.get((i, s.node)) != "withhold" for s in v.jobs[i].seats)
        ]

    def _finalizable(self) -> list[int]:
        v = self.view
        return [
            i for i in self._jobs_in(REVEALING)
            if v.jobs[i].revealed == v.jobs[i].committed or v.now >= v.jobs[i].deadline
        ]

    def _unclaimed(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for epoch, node in sorted(self.credited - self.claimed):
            out.setdefault(node, []).append(epoch)
        return out

    def _settling(self) -> None:
        """advance/finalize make up to MAX_DRAWS_FIRST due draws themselves; draw the rest first."""
        if len(self._jobs_in(DRAWING)) > MAX_DRAWS_FIRST:
            self._draw_due()

    def _finalize(self, job_id: int) -> None:
        e = self.env
        self._settling()
        job = self.view.jobs[job_id]
        vectors = [self.vectors[(job_id, s.node)] if s.state == REVEALED else b"" for s in job.seats]
        revealed = {s.node for s in job.seats if s.state == REVEALED}
        drawing = bool(self._jobs_in(DRAWING))
        receipt = self._send(e.jobs.finalize, job_id, vectors, sender=e.deployer)
        terminal = len([ev for ev in receipt.decode_logs(e.jobs.JobAccepted) if ev.jobId == job_id])
        terminal += len([ev for ev in receipt.decode_logs(e.jobs.JobRefunded) if ev.jobId == job_id])
        redrawn = len([ev for ev in receipt.decode_logs(e.jobs.JobReassigned) if ev.jobId == job_id])
        assert terminal + redrawn == 1, f"finalize({job_id}) emitted {terminal} terminal and {redrawn} redraw events"
        if redrawn:
            assert self.view.jobs[job_id].status == DRAWING, f"finalize({job_id}) queued a redraw, job not Drawing"
        self._event("finalize: committee redraw queued after missing reveals" if redrawn else "finalize: job settled")
        if drawing:
            self._event("finalize: made the due draws first")
        # An honest node that revealed is never punished: honest vectors agree with each other
        # and liars' random vectors agree with nobody, so the honest set is the medoid's or none is.
        for ev in receipt.decode_logs(e.jobs.SeatSettled):
            if ev.jobId == job_id and ev.node in revealed and self.behaviour[(job_id, ev.node)] == "honest":
                assert ev.outcome == RELEASED and ev.slashed == 0, (
                    f"honest node {ev.node} settled with outcome {ev.outcome}, slashed {ev.slashed} on job {job_id}"
                )

    def _submit(self, count: int) -> None:
        """Submit a batch; with E eligible nodes, E // QUORUM jobs can surely be seated by their own
        draw, so the batch is cut to that size. Batches queued before earlier ones are drawn may
        still find too few nodes at their draw (refunded there)."""
        e = self.env
        eligible = self.view.eligible
        count = max(1, min(count, eligible // QUORUM))
        inputs = [f"job input {len(self.job_ids) + k}" for k in range(count)]
        fee = self.model.fee
        if eligible < QUORUM:
            self._expect_revert(e.jobs, "JobRegistryNotEnoughNodes", e.view_jobs.functions.submit, MODEL, inputs, fee, False, sender=e.requester)
            return
        receipt = self._send(e.jobs.submit, MODEL, inputs, fee, False, sender=e.requester)
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
        self._travel_past(self.view.jobs[job_id].deadline)
        self._settling()
        receipt = self._send(self.env.jobs.advance, job_id, sender=self.env.deployer)
        if any(ev.jobId == job_id for ev in receipt.decode_logs(self.env.jobs.JobReassigned)):
            self._event("advance: redraw queued for missed commits")

    def _expire(self, job_id: int) -> None:
        self._travel_past(self.view.jobs[job_id].deadline)
        self._finalize(job_id)

    # ------------------------------------------------------------------------ rules
    # No precondition reads the chain: committee draws use block hashes and deadlines follow the
    # wall clock, so a replayed example may see another state. A rule with nothing to act on does
    # nothing; what Hypothesis draws never depends on the chain.
    @initialize(operators=st.lists(st.tuples(STAKE, CAPACITY), min_size=QUORUM, max_size=5))
    @counted
    def start(self, operators: list[tuple[int, int]]) -> None:
        for account, (stake, capacity) in zip(self.env.node_accounts, operators, strict=False):
            self._register(account, stake, capacity)

    @rule(pick=PICK, stake=STAKE, capacity=CAPACITY)
    @counted
    def register(self, pick: int, stake: int, capacity: int) -> None:
        candidates = [a for a, n in self.view.nodes.items() if not n.registered]
        if candidates:
            self._draw_due()
            self._register(self.by_address[choose(candidates, pick)], stake, capacity)

    @rule(pick=PICK, amount=st.integers(min_value=1, max_value=2_000 * ONE))
    @counted
    def add_stake(self, pick: int, amount: int) -> None:
        e = self.env
        candidates = self._registered()
        if not candidates:
            return
        self._draw_due()
        account = self.by_address[choose(candidates, pick)]
        self._send(e.nodes.addStake, amount, sender=account)
        self.deposited[account.address] += amount

    @rule(count=st.integers(min_value=1, max_value=3))
    @counted
    def submit(self, count: int) -> None:
        self._submit(count)

    @rule(everything=st.booleans(), max_jobs=st.integers(min_value=1, max_value=3))
    @counted
    def assign(self, everything: bool, max_jobs: int) -> None:
        """Draw some or all due committees (anyone may); with nothing queued it must revert."""
        e = self.env
        drawing = self._jobs_in(DRAWING)
        if not drawing:
            self._expect_revert(e.jobs, "JobRegistryNoDrawDue", e.view_jobs.functions.assign, 64, sender=e.deployer)
            self._event("assign: nothing due, reverted NoDrawDue")
            return
        receipt = self._send(e.jobs.assign, 64 if everything else max_jobs, sender=e.deployer)
        if receipt.decode_logs(e.jobs.DrawsRescheduled):
            return
        # no job stuck: every queued draw was due in this later block, so drawing "all" empties the queue
        left = self._jobs_in(DRAWING)
        if everything or max_jobs >= len(drawing):
            assert not left, f"jobs {left} still Drawing after assign drew every due one"
        else:
            assert len(left) == len(drawing) - max_jobs, f"assign({max_jobs}) left {len(left)} of {len(drawing)} Drawing"
        self._event("assign: drew every due job" if not left else "assign: drew some due jobs")

    @rule(action=st.sampled_from(OPERATOR_ACTIONS), pick=PICK)
    @counted
    def operator_while_draw_due(self, action: str, pick: int) -> None:
        """With a draw due (queueing one if none is), every NodeRegistry operator or governance
        action reverts with exactly NodeRegistryDrawsDue."""
        e = self.env
        if not self._jobs_in(DRAWING):
            if self.view.eligible < QUORUM:
                return
            self._submit(1)
        if not self.view.draws_due:
            self._mine()  # the queued draw's block needs a successor before its hash is known
        assert self.view.draws_due, "a queued draw is not due one block later"
        fns, account = e.view_nodes.functions, self.by_address[choose([a.address for a in e.node_accounts], pick)]
        p = self.view.params
        call: dict[str, tuple[Any, tuple[Any, ...], Any]] = {
            "register": (fns.register, (max(MIN_STAKE, p.min_stake), [MODEL], 2), account),
            "addStake": (fns.addStake, (ONE,), account),
            "updateService": (fns.updateService, ([MODEL], 2), account),
            "requestUnstake": (fns.requestUnstake, (1,), account),
            "reinstate": (fns.reinstate, (), account),
            "withdraw": (fns.withdraw, (), account),
            "refreshWeight": (fns.refreshWeight, (account.address,), e.deployer),
            "releaseSlot": (fns.releaseSlot, (account.address,), e.deployer),
            "setParams": (fns.setParams, (p.min_stake, p.unbonding, p.ejection, p.stake_cap), e.deployer),
        }
        fn, args, sender = call[action]
        self._expect_revert(e.nodes, "NodeRegistryDrawsDue", fn, *args, sender=sender)
        self._event("operator action reverted NodeRegistryDrawsDue")

    @rule(pick=PICK, behaviours=st.lists(COMMIT_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM))
    @counted
    def commit(self, pick: int, behaviours: list[str]) -> None:
        if candidates := self._committable():
            self._commit_seats(choose(candidates, pick), behaviours)

    @rule(pick=PICK, behaviours=st.lists(REVEAL_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM))
    @counted
    def reveal(self, pick: int, behaviours: list[str]) -> None:
        if candidates := self._revealable():
            self._reveal_seats(choose(candidates, pick), behaviours)

    @rule(pick=PICK)
    @counted
    def finalize(self, pick: int) -> None:
        if candidates := self._finalizable():
            self._finalize(choose(candidates, pick))

    @rule(pick=PICK)
    @counted
    def expire(self, pick: int) -> None:
        """Travel past a job's reveal deadline, then finalize it (withheld seats are slashed)."""
        if candidates := self._jobs_in(REVEALING):
            self._expire(choose(candidates, pick))

    @rule(pick=PICK)
    @counted
    def advance(self, pick: int) -> None:
        """Travel past a job's commit deadline, then advance it (drop, queue a redraw, or refund)."""
        if candidates := self._jobs_in(COMMITTING):
            self._advance(choose(candidates, pick))

    @rule(
        pick=PICK,
        commits=st.lists(COMMIT_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM),
        reveals=st.lists(REVEAL_BEHAVIOUR, min_size=QUORUM, max_size=QUORUM),
    )
    @counted
    def run_job(self, pick: int, commits: list[str], reveals: list[str]) -> None:
        """Take one open job (a new one if none is open) through every phase still due (draw,
        commit, advance, reveal, finalize or expire) until it settles. The single-phase rules
        interleave jobs, but their time travel (120 s windows) rarely leaves a job the time to
        reach its reveal; this one gets jobs accepted, paid and rewarded."""
        open_jobs = [i for i, j in self.view.jobs.items() if j.status in OPEN]
        if not open_jobs:
            if self.view.eligible < QUORUM:
                return
            self._submit(1)
            open_jobs = self.job_ids[-1:]
        job_id = choose(open_jobs, pick)
        for _ in range(5 * MAX_ROUNDS):  # every phase at most once per round
            job = self.view.jobs[job_id]
            if job.status == DRAWING:
                self._draw_due()
            elif job.status == COMMITTING:
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
    @counted
    def request_unstake(self, pick: int, mode: str, share: int) -> None:
        e = self.env
        candidates = [a for a, n in self.view.nodes.items() if n.stake > 0]
        if not candidates:
            return
        self._draw_due()
        node = choose(candidates, pick)
        account, stake, min_stake = self.by_address[node], self.view.nodes[node].stake, self.view.params.min_stake
        if mode == "partial" and stake > min_stake:
            amount = 1 + share * (stake - min_stake - 1) // 10**6  # leaves at least min_stake bonded
            self._send(e.nodes.requestUnstake, amount, sender=account)
        elif mode == "below_minimum" and stake > 2:
            remaining = 1 + share * (min(stake, min_stake) - 2) // 10**6  # 0 < remaining < min(stake, min_stake)
            self._expect_revert(e.nodes, "NodeRegistryStakeBelowMinimum", e.view_nodes.functions.requestUnstake, stake - remaining, sender=account)
        else:
            self._send(e.nodes.requestUnstake, stake, sender=account)

    @rule(pick=PICK)
    @counted
    def withdraw(self, pick: int) -> None:
        """Withdraw after travelling past the unbonding time (trying once before it if it has not
        passed); a node left with nothing gives its slot back."""
        e = self.env
        candidates = [a for a, n in self.view.nodes.items() if n.unbonding > 0]
        if not candidates:
            return
        self._draw_due()
        node = choose(candidates, pick)
        account = self.by_address[node]
        if self.view.now + MARGIN <= self.view.nodes[node].unbonding_until:
            self._expect_revert(e.nodes, "NodeRegistryNothingToWithdraw", e.view_nodes.functions.withdraw, sender=account)
        self._travel_past(self.view.nodes[node].unbonding_until)
        before = self.view.nodes[node]
        unbonding, balance = before.unbonding, self._balance(account)
        receipt = self._send(e.nodes.withdraw, sender=account)
        assert [ev.amount for ev in receipt.decode_logs(e.nodes.StakeWithdrawn)] == [unbonding]
        assert self._balance(account) == balance + unbonding
        self.withdrawn[node] += unbonding
        released = bool(receipt.decode_logs(e.nodes.SlotReleased))
        assert released == (before.stake == 0 and before.open_jobs == 0), f"{node} withdrew; slot released: {released}"
        assert self.view.nodes[node].registered != released
        if released:
            self._event("withdraw: slot released")

    @rule(pick=PICK)
    @counted
    def release_slot(self, pick: int) -> None:
        """Anyone may release the slot of a node that fully exited; any other slot is in use."""
        e = self.env
        candidates = self._registered()
        if not candidates:
            return
        self._draw_due()
        node = choose(candidates, pick)
        n = self.view.nodes[node]
        if n.stake == 0 and n.unbonding == 0 and n.open_jobs == 0:
            receipt = self._send(e.nodes.releaseSlot, node, sender=e.deployer)
            assert [ev.node for ev in receipt.decode_logs(e.nodes.SlotReleased)] == [node]
            assert not self.view.nodes[node].registered
            self._event("releaseSlot: slot released")
        else:
            self._expect_revert(e.nodes, "NodeRegistrySlotInUse", e.view_nodes.functions.releaseSlot, node, sender=e.deployer)

    @rule(pick=PICK)
    @counted
    def reinstate(self, pick: int) -> None:
        """An ejected node comes back on probation once its cooldown passed (tried early first)."""
        e = self.env
        p = self.view.params
        candidates = [a for a, n in self.view.nodes.items() if n.registered and n.reputation < p.ejection]
        if not candidates:
            return
        self._draw_due()
        node = choose(candidates, pick)
        account, until = self.by_address[node], self.view.nodes[node].ejected_at + p.unbonding
        if self.view.now + MARGIN <= until:
            self._expect_revert(e.nodes, "NodeRegistryEjectionCooldown", e.view_nodes.functions.reinstate, sender=account)
        self._travel_past(until)
        self._send(e.nodes.reinstate, sender=account)
        assert self.view.nodes[node].reputation == p.ejection + (REP_ONE - p.ejection) // 2
        self._event("reinstate: ejected node back on probation")

    @rule(pick=PICK)
    @counted
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
    @counted
    def travel(self, seconds: int) -> None:
        time_travel(self.env.chain, seconds)
        self._view = None

    # ------------------------------------------------------------------- governance
    @rule(
        # Any fee up to the bound; those below the emission relation's least are refused, then used.
        protocol_fee=st.one_of(st.integers(min_value=0, max_value=BPS // 2), st.integers(min_value=400, max_value=2_000)),
        slash=st.integers(min_value=0, max_value=5_000),
        slash_reward=st.integers(min_value=0, max_value=BPS),
        gain=st.integers(min_value=0, max_value=1_000),
        disagreement=st.integers(min_value=0, max_value=3_000),
        liveness=st.integers(min_value=0, max_value=3_000),
        to_deployer=st.booleans(),
    )
    @counted
    def set_policy(self, protocol_fee: int, slash: int, slash_reward: int, gain: int, disagreement: int, liveness: int,
                   to_deployer: bool) -> None:
        """A new policy for jobs submitted from now on. A protocol fee that would make
        self-dealing for emission pay is refused; the smallest one that does not is used then."""
        e = self.env
        epf = self.emission_per_fee_bps
        smallest = epf * BPS // (BPS + epf) + 1  # least fee with epf * (BPS - fee) < fee * BPS
        treasury = e.deployer if to_deployer else e.treasury
        policy = Policy(
            treasury=treasury.address, protocol_fee_bps=protocol_fee, slash_bps=slash, slash_reward_bps=slash_reward,
            callback_gas_limit=self.policy.callback_gas_limit, reputation_gain=gain, disagreement_penalty=disagreement,
            liveness_penalty=liveness,
        )
        if epf * (BPS - protocol_fee) >= protocol_fee * BPS:
            self._expect_revert(e.jobs, "JobRegistryInvalidPolicy", e.view_jobs.functions.setPolicy, policy.as_tuple(), sender=e.deployer)
            self._event("setPolicy: fee too low for emission, reverted")
            policy = replace(policy, protocol_fee_bps=smallest)
        self._send(e.jobs.setPolicy, policy.as_tuple(), sender=e.deployer)
        self.policy = policy
        assert policy_of(e.view_jobs.functions.policy().call()) == policy

    @rule(
        # Mostly the usual minimum: a higher one makes every minimum-stake node ineligible at once.
        min_stake=st.sampled_from([MIN_STAKE, MIN_STAKE, MIN_STAKE // 2, 2 * MIN_STAKE]),
        unbonding_extra=st.sampled_from([0, 3_600, UNBONDING, -1]),
        ejection=st.sampled_from([REP_ONE // 4, REP_ONE // 10, REP_ONE // 2]),
        stake_cap=st.sampled_from([STAKE_CAP, 1_000 * ONE, 250 * ONE]),
    )
    @counted
    def set_params(self, min_stake: int, unbonding_extra: int, ejection: int, stake_cap: int) -> None:
        """New staking parameters (unbonding never below the longest job lifetime: one second
        less is refused), then every node's weight refreshed (anyone may)."""
        e = self.env
        self._draw_due()
        unbonding = self.max_job_lifetime + unbonding_extra
        if unbonding < self.max_job_lifetime:
            self._expect_revert(e.nodes, "NodeRegistryUnbondingTooShort", e.view_nodes.functions.setParams,
                                min_stake, unbonding, ejection, stake_cap, sender=e.deployer)
            self._event("setParams: unbonding too short, reverted")
            unbonding = self.max_job_lifetime
        self._send(e.nodes.setParams, min_stake, unbonding, ejection, stake_cap, sender=e.deployer)
        assert self.view.params == Params(min_stake=min_stake, unbonding=unbonding, ejection=ejection, stake_cap=stake_cap)
        self.stake_cap = stake_cap
        for node in self._registered():
            self._send(e.nodes.refreshWeight, node, sender=e.deployer)

    @rule(
        fee=st.sampled_from([FEE, 2 * FEE, FEE // 2, 0]),
        threshold=st.sampled_from([THRESHOLD_PPM, 850_000, 930_000]),
        windows=st.sampled_from([(COMMIT_WINDOW, REVEAL_WINDOW), (240, 180), (180, 300)]),
    )
    @counted
    def update_model(self, fee: int, threshold: int, windows: tuple[int, int]) -> None:
        """Change the model's fee, threshold and windows; jobs in flight keep the terms they have.
        (Honest vectors agree above 0.94 cosine, liars' near 0, so every threshold here keeps
        honest nodes agreeing.)"""
        e = self.env
        commit_window, reveal_window = windows
        params = model_params(fee=fee, threshold=threshold, commit_window=commit_window, reveal_window=reveal_window,
                              quorum=QUORUM, min_agreement=MIN_AGREEMENT)
        self._send(e.models.updateModel, MODEL, params, sender=e.deployer)
        self.model = ModelTerms(fee=fee, threshold=threshold, commit_window=commit_window, reveal_window=reveal_window)

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
    def seats_are_the_jobs_own(self) -> None:
        """Ended jobs' seat slots go to later jobs (SeatPool): a live job lists exactly the seats
        drawn for it, in seat order, never another job's, and an ended job lists none."""
        for job_id, job in self.view.jobs.items():
            drawn = self.assigned[job_id]
            expected = [] if job.status in TERMINAL else [drawn[i] for i in sorted(drawn)]
            assert [s.node for s in job.seats] == expected, f"job {job_id} ({job.status}): {job.seats}, drawn {drawn}"

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
        v = self.view
        for epoch, ev in v.epochs.items():
            assert ev.emitted == self.claimed_by_epoch[epoch], f"epoch {epoch}: emitted {ev.emitted} != claims seen"
            cap = min(ev.schedule, ev.total_points * self.emission_per_fee_bps // BPS)
            assert ev.emission == cap, f"epoch {epoch}: epochEmission {ev.emission} != min(schedule, points share) {cap}"
            assert ev.emitted <= ev.emission, f"epoch {epoch} emitted {ev.emitted} > epochEmission {ev.emission}"
            fees = sum(amount for (e, _), amount in self.fees_earned.items() if e == epoch)
            assert ev.total_points == fees, f"epoch {epoch}: totalPoints {ev.total_points} != fees earned {fees}"
        for (epoch, node), points in v.points.items():
            assert points == self.fees_earned[(epoch, node)], (
                f"{node} has {points} points in epoch {epoch}, earned {self.fees_earned[(epoch, node)]} in fees"
            )

    @invariant()
    def seats_within_capacity(self) -> None:
        v = self.view
        open_seats = Counter(s.node for j in v.jobs.values() if j.status in OPEN for s in j.seats if s.state != DROPPED)
        for node, n in v.nodes.items():
            assert n.open_jobs <= n.capacity, f"{node} holds {n.open_jobs} open jobs, capacity {n.capacity}"
            assert n.open_jobs == open_seats[node], f"{node}: openJobs {n.open_jobs} != unsettled seats {open_seats[node]}"

    @invariant()
    def node_ids_are_permanent_and_distinct(self) -> None:
        """Seats name nodes by these ids, so an id may never change or pass to another address."""
        given = {node: n.node_id for node, n in self.view.nodes.items() if n.node_id != 0}
        assert len(set(given.values())) == len(given), f"two addresses share an id: {given}"
        for node, node_id in given.items():
            assert self.node_ids.setdefault(node, node_id) == node_id, f"{node} changed id to {node_id}"
        for node, n in self.view.nodes.items():
            assert n.registered <= (n.node_id != 0), f"{node} is registered without an id"

    @invariant()
    def selection_weights_match_nodes(self) -> None:
        v = self.view
        for node, n in v.nodes.items():
            assert n.listed_weight == expected_weight(n, v.params), f"{node} listed with weight {n.listed_weight}"
        assert v.total_weight == sum(n.listed_weight for n in v.nodes.values())
        assert v.eligible == sum(1 for n in v.nodes.values() if n.listed_weight > 0)

    @invariant()
    def jobs_keep_their_terms(self) -> None:
        assert not self.violations["terms"], "; ".join(self.violations["terms"])
        for job_id, job in self.view.jobs.items():
            m = self.terms[job_id].model
            kept = (job.fee, job.threshold, job.commit_window, job.reveal_window)
            assert kept == (m.fee, m.threshold, m.commit_window, m.reveal_window), (
                f"job {job_id} runs with fee/threshold/windows {kept}, submitted under {m}"
            )
        # policyOf(job) is the policy in force at submission: read once per settled job.
        settled = [i for i, j in self.view.jobs.items() if j.status in TERMINAL and i not in self.policy_checked]
        if settled:
            policies = self.reader.run([self.reader.call(self.env.view_jobs, "policyOf", job_id) for job_id in settled])
            for job_id, raw in zip(settled, policies, strict=True):
                assert policy_of(raw) == self.terms[job_id].policy, f"job {job_id}: policyOf {raw} != {self.terms[job_id].policy}"
                self.policy_checked.add(job_id)

    @invariant()
    def queue_is_fifo(self) -> None:
        assert not self.violations["fifo"], "; ".join(self.violations["fifo"])
        v = self.view
        drawing = {i for i, j in v.jobs.items() if j.status == DRAWING}
        assert drawing == self._queued_jobs(), f"Drawing jobs {sorted(drawing)} != queued {sorted(self._queued_jobs())}"
        head_block = max(self.queue[0][2], self.queue_floor) if self.queue else 0
        assert (v.queue_entries, v.queue_head_block) == (len(self.queue), head_block), (
            f"chain queue (entries, head block) {(v.queue_entries, v.queue_head_block)} != {(len(self.queue), head_block)}"
        )
        assert v.draws_due == (bool(self.queue) and head_block < v.block), f"drawsDue() {v.draws_due} at block {v.block}"


def test_random_operation_sequences_keep_invariants(
    chain: Any, accounts: Any, deployer: Any, requester: Any, treasury: Any, node_accounts: list[Any],
    token: Any, models: Any, nodes: Any, rewards: Any, jobs: Any, capsys: Any,
) -> None:
    class Machine(InferaMachine):
        STATS: ClassVar[Counter[str]] = Counter()
        env = Env(
            chain=chain, accounts=[accounts[i] for i in range(10)], deployer=deployer, requester=requester,
            treasury=treasury, node_accounts=node_accounts, token=token, models=models, nodes=nodes, rewards=rewards,
            jobs=jobs, view_token=web3_view(chain, token), view_nodes=web3_view(chain, nodes),
            view_jobs=web3_view(chain, jobs), view_rewards=web3_view(chain, rewards), view_models=web3_view(chain, models),
        )

    # Unlimited allowances, once for every example (the autouse fixture reverts them after the test).
    for account in [*node_accounts, requester]:
        token.approve(nodes, 2**256 - 1, sender=account)
        token.approve(jobs, 2**256 - 1, sender=account)

    run_state_machine_as_test(Machine, settings=stateful_settings())
    if profile_name() != DEFAULT_PROFILE or os.environ.get("INFERA_HYPOTHESIS_STATS"):
        with capsys.disabled():
            print(f"\ninvariant machine statistics (profile {profile_name()}):")
            for name, count in sorted(Machine.STATS.items()):
                print(f"  {count:7d}  {name}")
