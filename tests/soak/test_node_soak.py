"""Soak: hundreds of jobs over three honest nodes while a seeded chaos thread `kill -9`s and
restarts them and puts their shared RPC into 502, 429 and connection-reset outages.

No job may be lost (left unfinished once the chaos stops) and no honest node may be slashed.
Refunds are reported with their cause: the protocol refunds a job whose committee missed the
commit window or could not be drawn, and a soak that produces such refunds says so. Run by
`make soak`, never by `make test`. Knobs: INFERA_SOAK_JOBS (500), INFERA_SOAK_SEED (1),
INFERA_SOAK_TIMEOUT (3600 s, the whole test). Writes benchmarks/results/soak.json."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infera.chain import Chain
from infera.client import InferaClient
from infera.inputs import MAX_INPUT_BYTES
from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork, NodeProcess
from support.rpc_proxy import MODES, FlakyProxy


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


JOBS = int(_env("INFERA_SOAK_JOBS", 500))
SEED = int(_env("INFERA_SOAK_SEED", 1))
TIMEOUT_S = _env("INFERA_SOAK_TIMEOUT", 3600)
NODES = (1, 2, 3)
CAPACITY = 64
BATCH = 20
# One batch every 30 s (0.67 jobs/s): a node that is down, or still loading its model, keeps
# being drawn, so in 40 s it piles up under 30 open seats besides those in flight, far from
# CAPACITY; at capacity it would stop being eligible and new jobs would be refunded undrawn.
BATCH_EVERY_S = 30.0
CHAOS_GAP_S = (20.0, 40.0)
DOWN_S = (3.0, 10.0)
OUTAGE_S = (5.0, 15.0)
READY_TIMEOUT_S = 180.0
# Kept back from TIMEOUT_S for the last jobs to finish: a commit and a reveal window of 120 s
# each, plus the keepers' grace, with room to spare on a loaded machine.
DRAIN_S = 600.0
POLL_S = 2.0
SEAT_OUTCOMES = ("agreed", "disagreed", "withheld", "missed-commit", "released")  # IJobRegistry.SeatOutcome
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "soak.json"

TOPICS = (
    "Verifiable inference needs a committee that agrees.",
    "A node that crashes must resume every job it held.",
    "Commitments are sealed on disk before they are sent.",
    "The medoid of the revealed vectors is the accepted result.",
    "Load balancers answer 502 and 429 when they are overloaded.",
)
# Every eighth job is one of these (the SDK refuses invalid UTF-8, so that poison is left to
# tests/e2e/test_poisoned_inputs.py): all must embed identically on every honest node.
HOSTILE = (
    "\U0001d538" * (MAX_INPUT_BYTES // 4),  # the longest input: 2,048 bytes of 4-byte characters
    "token " * (MAX_INPUT_BYTES // 6),  # far past MiniLM's 512-token window
    "🧪🔥 emoji, 👩‍👩‍👧‍👦 ZWJ families, 🏳️‍🌈 flags 🇺🇳 and skin tones 👍🏿",
    "Z\u0337\u0322a\u0335l\u0338g\u0337o\u0336 " * 60,  # stacked combining marks
    "\u202eright-to-left override\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "\u200b\u200c\u200d\ufeff zero-width characters\u2060\u00ad",
    "\ufffd\ufffd replacement characters, private use \ue000\U000f0000, CJK 漢字かなカナ",
    " \t\n  ",  # whitespace only: not empty, so the contract takes it
)


def soak_text(i: int) -> str:
    if i % 8 == 7:
        return HOSTILE[(i // 8) % len(HOSTILE)]
    return f"Soak job {i}: {TOPICS[i % len(TOPICS)]}"


# ------------------------------------------------------------------------------------ chaos
def start_node(net: LocalNetwork, index: int, proxy: FlakyProxy) -> NodeProcess:
    return net.start_node(index, rpc_url=proxy.url)


def wait_ready(node: NodeProcess, offset: int, timeout: float = READY_TIMEOUT_S) -> None:
    """Wait for a "node ready" line written after byte `offset` of the node's log: the log is
    appended across restarts, so LocalNetwork.wait_nodes_ready would see the previous run's."""
    deadline = time.monotonic() + timeout
    while True:
        with open(node.log_path, "rb") as log:
            log.seek(offset)
            if b'"node ready"' in log.read():
                return
        if node.process.poll() is not None:
            raise AssertionError(f"node {node.index} exited with {node.process.returncode} while starting:\n"
                                 f"{node.log_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"node {node.index} not ready {timeout:.0f}s after a restart:\n{node.log_text()[-3000:]}")
        time.sleep(0.5)


@dataclass
class Chaos:
    """One fault at a time, every 20-40 s, drawn from a seeded RNG (the draws repeat for a seed;
    their timing follows the machine): SIGKILL a node's process group and restart it 3-10 s
    later, or fail the nodes' RPC for 5-15 s. A fault in progress always finishes, so when the
    thread stops every node is up again and the RPC is healthy."""

    net: LocalNetwork
    proxy: FlakyProxy
    rng: random.Random
    kills: Counter[int] = field(default_factory=Counter)
    outages: Counter[str] = field(default_factory=Counter)
    down_s: list[float] = field(default_factory=list)  # kill to "node ready" again
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="soak-chaos", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Stop after the fault in progress and re-raise whatever failed in the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(READY_TIMEOUT_S + 60)
            assert not self._thread.is_alive(), "the chaos thread did not stop"
        self.check()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.rng.uniform(*CHAOS_GAP_S)):
                if self.rng.random() < 0.5:
                    self._kill_and_restart(self.rng.choice(NODES), self.rng.uniform(*DOWN_S))
                else:
                    self._outage(self.rng.choice(MODES), self.rng.uniform(*OUTAGE_S))
        except BaseException as exc:  # handed to the main thread by check()
            self.error = exc

    def _kill_and_restart(self, index: int, down_s: float) -> None:
        node = next(n for n in self.net.nodes if n.index == index)
        if node.process.poll() is not None:
            raise AssertionError(f"node {index} exited by itself with {node.process.returncode}:\n"
                                 f"{node.log_text()[-3000:]}")
        killed_at = time.monotonic()
        os.killpg(node.process.pid, signal.SIGKILL)  # started with its own session: pgid == pid
        node.process.wait(timeout=30)
        self.net.nodes.remove(node)
        self.kills[index] += 1
        time.sleep(down_s)
        offset = node.log_path.stat().st_size
        wait_ready(start_node(self.net, index, self.proxy), offset)
        self.down_s.append(time.monotonic() - killed_at)

    def _outage(self, mode: str, seconds: float) -> None:
        self.proxy.failing = mode
        try:
            time.sleep(seconds)
        finally:
            self.proxy.failing = None
        self.outages[mode] += 1


# ------------------------------------------------------------------------------ jobs, chain
async def submit_all(net: LocalNetwork, chaos: Chaos, until: float) -> list[int]:
    """Submit JOBS texts, BATCH per transaction every BATCH_EVERY_S, straight to the devnet (the
    requester is not under test; only the nodes sit behind the flaky proxy)."""
    chain = await net.connect()
    try:
        client = InferaClient(chain)
        ids: list[int] = []
        next_at = time.monotonic()
        while len(ids) < JOBS:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= until:
                break
            chaos.check()  # a node that cannot restart ends the soak now, not at the deadline
            texts = [soak_text(len(ids) + k) for k in range(min(BATCH, JOBS - len(ids)))]
            ids += await client.submit_texts(texts)
            next_at += BATCH_EVERY_S
        return ids
    finally:
        await chain.close()


async def drain(chain: Chain, ids: list[int], until: float) -> dict[int, JobStatus]:
    """Poll every job until all are accepted or refunded, or until `until`; their last status."""
    statuses: dict[int, JobStatus] = {}
    pending = list(ids)
    while True:
        for start in range(0, len(pending), 100):
            for job in await chain.get_jobs(pending[start : start + 100]):
                statuses[job.job_id] = job.status
        pending = [j for j in pending if not statuses[j].terminal]
        if not pending or time.monotonic() >= until:
            return statuses
        await asyncio.sleep(POLL_S)


async def stakes(chain: Chain, addresses: list[str]) -> dict[str, int]:
    return {a: (await chain.get_node(a)).stake for a in addresses}


async def settlements(chain: Chain) -> list[dict[str, Any]]:
    """Every SeatSettled event of the deployment: job, node, outcome, stake slashed."""
    logs = await chain.logs(chain.jobs, "SeatSettled", chain.deployment.deployment_block)
    return [
        {"job": int(a["jobId"]), "node": str(a["node"]), "outcome": SEAT_OUTCOMES[int(a["outcome"])],
         "slashed": int(a["slashed"])}
        for a in (log["args"] for log in logs)
    ]


def refund_cause(seats: list[dict[str, Any]]) -> str:
    """Why the protocol refunded a job, from its seats' settlements."""
    outcomes = {s["outcome"] for s in seats}
    for cause in ("missed-commit", "withheld", "disagreed"):
        if cause in outcomes:
            return cause
    return "no-committee"  # too few eligible nodes to draw (at capacity, say): nobody's fault


# ---------------------------------------------------------------------------------- evidence
def job_log_lines(run_dir: Path, job_ids: set[int], limit: int = 12) -> dict[int, list[str]]:
    """The node log lines that name each job (as `job` or in `jobs`), the last `limit` of each."""
    found: dict[int, list[str]] = {j: [] for j in job_ids}
    for index in NODES:
        path = run_dir / f"node-{index}.log"
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            for job_id in _jobs_named(line) & job_ids:
                found[job_id].append(f"node-{index}: {line[:400]}")
    return {j: lines[-limit:] for j, lines in found.items()}


def _jobs_named(line: str) -> set[int]:
    try:
        entry = json.loads(line)
    except ValueError:
        return set()
    if not isinstance(entry, dict):
        return set()
    named = entry.get("jobs")
    ids = set(named) if isinstance(named, list) else set()
    if isinstance(entry.get("job"), int):
        ids.add(entry["job"])
    return {j for j in ids if isinstance(j, int)}


def warnings_by_node(run_dir: Path) -> dict[int, dict[str, int]]:
    """How often each node logged each warning or error event: where to look first."""
    out: dict[int, dict[str, int]] = {}
    for index in NODES:
        path = run_dir / f"node-{index}.log"
        counts: Counter[str] = Counter()
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and str(entry.get("level", "")).lower() in ("warning", "error", "critical"):
                counts[str(entry.get("event"))] += 1
        out[index] = dict(counts)
    return out


# ---------------------------------------------------------------------------------- the soak
def report(net: LocalNetwork, chaos: Chaos, proxy: FlakyProxy, ids: list[int], statuses: dict[int, JobStatus],
           seats: list[dict[str, Any]], before: dict[str, int], after: dict[str, int], wall_s: float) -> dict[str, Any]:
    by_job: dict[int, list[dict[str, Any]]] = {}
    for s in seats:
        by_job.setdefault(s["job"], []).append(s)
    refunded = [j for j in ids if statuses[j] is JobStatus.REFUNDED]
    lost = [j for j in ids if not statuses[j].terminal]
    slashes = [s for s in seats if s["slashed"] > 0]
    flagged = set(lost) | set(refunded) | {s["job"] for s in slashes}
    return {
        "seed": SEED, "jobs_target": JOBS, "wall_s": round(wall_s, 1),
        "kills": sum(chaos.kills.values()), "kills_by_node": dict(chaos.kills),
        "rpc_outages": dict(chaos.outages), "rpc_requests_refused": dict(proxy.refused),
        "max_down_s": round(max(chaos.down_s, default=0.0), 1),
        "submitted": len(ids), "accepted": sum(statuses[j] is JobStatus.ACCEPTED for j in ids),
        "refunded": len(refunded), "refund_causes": dict(Counter(refund_cause(by_job.get(j, [])) for j in refunded)),
        "lost": len(lost), "lost_jobs": {j: statuses[j].name.lower() for j in lost},
        "honest_slashes": len(slashes), "slashes": slashes,
        "seat_outcomes": dict(Counter(s["outcome"] for s in seats)),
        "stake_lost": {a: before[a] - after[a] for a in before if before[a] != after[a]},
        "nodes_exited": [n.index for n in net.nodes if n.process.poll() is not None],
        "node_warnings": warnings_by_node(net.run_dir),
        "evidence": job_log_lines(net.run_dir, flagged) if flagged else {},
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        ("seed", r["seed"]), ("wall time", f"{r['wall_s']:.0f} s"),
        ("node kills (by node)", f"{r['kills']} {r['kills_by_node']}"), ("longest down (kill to ready)", f"{r['max_down_s']} s"),
        ("RPC outages (by mode)", r["rpc_outages"]), ("RPC requests refused", r["rpc_requests_refused"]),
        ("jobs submitted", f"{r['submitted']} of {r['jobs_target']}"), ("jobs accepted", r["accepted"]),
        ("jobs refunded (causes)", f"{r['refunded']} {r['refund_causes']}"), ("jobs lost", r["lost"]),
        ("honest slashes", r["honest_slashes"]), ("seat outcomes", r["seat_outcomes"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(["", "node soak", *(f"  {k:<{width}}  {v}" for k, v in rows)])


async def _settle(net: LocalNetwork, ids: list[int], addresses: list[str], until: float
                  ) -> tuple[dict[int, JobStatus], list[dict[str, Any]], dict[str, int]]:
    chain = await net.connect()
    try:
        statuses = await drain(chain, ids, until)
        return statuses, await settlements(chain), await stakes(chain, addresses)
    finally:
        await chain.close()


async def _stakes_now(net: LocalNetwork, addresses: list[str]) -> dict[str, int]:
    chain = await net.connect()
    try:
        return await stakes(chain, addresses)
    finally:
        await chain.close()


def test_three_nodes_lose_no_job_and_no_stake_under_kills_and_rpc_faults(
    network: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    deadline = started + TIMEOUT_S
    asyncio.run(network.register_nodes(list(NODES), stake_infer=1_000, capacity=CAPACITY))
    with FlakyProxy(network.rpc_url) as proxy:
        addresses = [start_node(network, i, proxy).address for i in NODES]
        network.wait_nodes_ready()
        before = asyncio.run(_stakes_now(network, addresses))
        chaos = Chaos(network, proxy, random.Random(SEED))
        chaos.start()
        try:
            ids = asyncio.run(submit_all(network, chaos, until=deadline - min(DRAIN_S, TIMEOUT_S / 2)))
        finally:
            chaos.finish()
        statuses, seats, after = asyncio.run(_settle(network, ids, addresses, until=deadline))
        result = report(network, chaos, proxy, ids, statuses, seats, before, after, time.monotonic() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    with capsys.disabled():  # the table is the soak's output, shown without -s too
        print(table(result) + f"\n  written to {RESULTS}")

    assert result["lost"] == 0, f"lost jobs: {result['lost_jobs']}; evidence in {RESULTS}"
    assert result["honest_slashes"] == 0 and not result["stake_lost"], f"honest nodes slashed: {result['slashes']}"
    assert not result["nodes_exited"], f"nodes exited by themselves: {result['nodes_exited']}"
    assert result["submitted"] == JOBS, f"only {result['submitted']} of {JOBS} jobs submitted before the deadline"
