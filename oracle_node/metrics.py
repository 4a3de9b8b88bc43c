"""Prometheus metrics and the /health and /ready probes of an oracle node.

Operators run many nodes unattended, so a node has to say what it is doing without anyone
reading its log: Prometheus scrapes `/metrics` (jobs by stage, embedding latency, batch sizes,
transactions pending and replaced, RPC errors by kind, how far the node's scan trails the chain
head), and an orchestrator probes `/health` and `/ready`.

The two probes answer different questions, because they trigger different actions:

* `/health` is liveness: "is the loop still turning?". It fails (503, status "stalled") only
  when the loop has not finished a tick for `stall_after` seconds, which a restart may cure (a
  hung await, a deadlock). A loop that turns but whose RPC errors out is alive: restarting it
  would not fix the RPC, so it answers 200 with status "degraded".
* `/ready` is readiness: "is this node doing useful work right now?". It fails while setup is
  under way, while the node is degraded (transient RPC errors since the last success, too far
  behind head, its last tick failed) and when it is stalled, naming the reasons, so that a
  load balancer or an alert can act without restarting anything.

Every node owns its own `CollectorRegistry` rather than prometheus_client's global one, so tests
and several nodes in one process never register the same metric twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from infera.rpc import RpcErrorKind, redact_url

log = structlog.get_logger("oracle_node")

# Label values created up front: a series that exists at 0 lets rate() and alerts see the first
# increment, where a series born at 1 looks like no change at all.
JOB_EVENTS = ("seen", "committed", "revealed", "accepted", "slashed", "given_up")
TX_ACTIONS = ("commit", "reveal", "advance", "finalize", "assign")
REPLACE_REASONS = ("fee_bump", "dropped")
# The kinds infera.rpc.classify sorts transport errors into (FailoverProvider reports them).
RPC_ERROR_KINDS = tuple(kind.value for kind in RpcErrorKind)

# One embedded batch takes from about a millisecond (a short text on a GPU) to tens of seconds
# (a full batch of long texts on a CPU).
EMBED_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Settings allow batches of 1 to 1024 texts; JobRegistry.MAX_BATCH caps a transaction at 64 jobs.
EMBED_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
TX_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

# What generate_latest() writes. Not prometheus_client.CONTENT_TYPE_LATEST: from 0.22 on that
# announces text format 1.0.0, which scrapers may take as UTF-8 names, while the client's own
# server still labels this plain output 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DEFAULT_STALL_AFTER = 60.0
DEFAULT_MAX_BLOCKS_BEHIND = 20
# Error text is served over HTTP: it is cut short, and URLs are hidden because RPC URLs often
# carry an API key in their path.
_MAX_ERROR_CHARS = 200
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
_LABEL_JUNK = re.compile(r"[^a-z0-9_]+")
_MAX_LABEL_CHARS = 32


class NodeMetrics:
    """Every metric a node exports, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None, process_metrics: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.jobs = Counter("infera_node_jobs_total", "Jobs by lifecycle event of this node.", ["event"], registry=r)
        self.embed_seconds = Histogram("infera_node_embed_seconds", "Seconds to embed one batch of texts.",
                                       buckets=EMBED_SECONDS_BUCKETS, registry=r)
        self.embed_batch_size = Histogram("infera_node_embed_batch_size", "Texts per embedded batch.",
                                          buckets=EMBED_BATCH_BUCKETS, registry=r)
        self.tx_batch_size = Histogram("infera_node_tx_batch_items", "Jobs per batched transaction.", ["action"],
                                       buckets=TX_BATCH_BUCKETS, registry=r)
        self.pending_transactions = Gauge("infera_node_pending_transactions",
                                          "Transactions sent and not yet mined.", registry=r)
        self.transactions_sent = Counter("infera_node_transactions_sent_total", "Transactions sent.", ["action"],
                                         registry=r)
        self.transactions_replaced = Counter("infera_node_transactions_replaced_total",
                                             "Transactions sent again in place of a pending one.", ["reason"],
                                             registry=r)
        self.rpc_errors = Counter("infera_node_rpc_errors_total", "Failed RPC requests by kind.", ["kind"],
                                  registry=r)
        self.blocks_behind_head = Gauge("infera_node_blocks_behind_head",
                                        "Blocks between the chain head and the node's scan cursor.", registry=r)
        self.tick_failures = Counter("infera_node_tick_failures_total", "Loop ticks that raised.", registry=r)
        self.last_tick_timestamp = Gauge("infera_node_last_tick_timestamp_seconds",
                                         "Unix time of the last tick that succeeded.", registry=r)
        if process_metrics:
            # CPU, resident memory and open files: a node holds models in memory for days.
            ProcessCollector(registry=r)
        self._create_series()

    def _create_series(self) -> None:
        for event in JOB_EVENTS:
            self.jobs.labels(event=event)
        for action in TX_ACTIONS:
            self.tx_batch_size.labels(action=action)
            self.transactions_sent.labels(action=action)
        for reason in REPLACE_REASONS:
            self.transactions_replaced.labels(reason=reason)
        for kind in RPC_ERROR_KINDS:
            self.rpc_errors.labels(kind=kind)

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)


def _label(kind: str) -> str:
    """Free text as a label value: every distinct value is a new series, so it is kept short
    and to one alphabet."""
    cleaned = _LABEL_JUNK.sub("_", kind.strip().lower()).strip("_")[:_MAX_LABEL_CHARS]
    return cleaned or "other"


def _safe_error(error: str) -> str:
    return _URL.sub("<url>", error)[:_MAX_ERROR_CHARS]


class Health:
    """What the probes report, updated by the node as it goes.

    Every time (`now`, `clock`) is on one clock, Unix time by default: the last tick's time is
    also exported as a timestamp gauge.
    """

    def __init__(
        self,
        stall_after: float = DEFAULT_STALL_AFTER,
        max_blocks_behind: int = DEFAULT_MAX_BLOCKS_BEHIND,
        metrics: NodeMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if stall_after <= 0:
            raise ValueError(f"stall_after must be positive, got {stall_after}")
        self.stall_after = stall_after
        self.max_blocks_behind = max_blocks_behind
        self.metrics = metrics
        self.clock = clock
        self.started_at = clock()
        self.ready = False
        # The last sign of life: start, end of setup, or any finished tick, good or bad. Setup
        # counts so a slow model load right before the first tick does not read as a stall.
        self._progress_at = self.started_at
        self._last_tick_at: float | None = None
        self._last_tick_ok_at: float | None = None
        self._tick_error: str | None = None
        self._rpc_errors_since_ok = 0
        self._last_rpc_error: str | None = None
        self._last_rpc_endpoint: str | None = None
        self._blocks_behind: int | None = None

    def mark_ready(self) -> None:
        """Setup finished: models loaded and verified, chain reachable."""
        self.ready = True
        self._progress_at = self.clock()

    def tick_ok(self, now: float | None = None) -> None:
        at = self.clock() if now is None else now
        self._progress_at = self._last_tick_at = self._last_tick_ok_at = at
        self._tick_error = None
        if self.metrics is not None:
            self.metrics.last_tick_timestamp.set(at)

    def tick_failed(self, error: str, now: float | None = None) -> None:
        """A tick raised. The loop still turns, so this keeps the node live but not ready."""
        self._progress_at = self._last_tick_at = self.clock() if now is None else now
        self._tick_error = _safe_error(error)
        if self.metrics is not None:
            self.metrics.tick_failures.inc()

    def rpc_error(self, kind: str, endpoint: str | None = None) -> None:
        """A transient RPC failure: degraded until the next rpc_ok(). The signature is
        FailoverProvider's on_error, so `on_error=health.rpc_error` plugs straight in."""
        label = _label(kind)
        self._rpc_errors_since_ok += 1
        self._last_rpc_error = label
        if endpoint is not None:
            self._last_rpc_endpoint = redact_url(endpoint)
        if self.metrics is not None:
            self.metrics.rpc_errors.labels(kind=label).inc()

    def rpc_ok(self) -> None:
        """An RPC answered (FailoverProvider's on_success): clears the RPC degradation."""
        self._rpc_errors_since_ok = 0

    def set_blocks_behind(self, n: int) -> None:
        self._blocks_behind = max(0, n)
        if self.metrics is not None:
            self.metrics.blocks_behind_head.set(self._blocks_behind)

    def stalled(self, now: float | None = None) -> bool:
        at = self.clock() if now is None else now
        return at - self._progress_at >= self.stall_after

    def degradations(self) -> list[str]:
        reasons = []
        if self._rpc_errors_since_ok:
            reasons.append("rpc_errors")
        if self._blocks_behind is not None and self._blocks_behind > self.max_blocks_behind:
            reasons.append("behind_head")
        if self._tick_error is not None:
            reasons.append("tick_failed")
        return reasons

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Everything both probes need, JSON-ready: `status` decides /health, `ready` /ready."""
        at = self.clock() if now is None else now
        stalled = self.stalled(at)
        degraded = self.degradations()
        not_ready = ([] if self.ready else ["starting"]) + (["stalled"] if stalled else []) + degraded
        return {
            "status": "stalled" if stalled else "degraded" if degraded else "ok",
            "ready": not not_ready,
            "reasons": not_ready,
            "phase": "running" if self.ready else "starting",
            "uptime_seconds": round(at - self.started_at, 3),
            "seconds_since_tick": _age(at, self._last_tick_at),
            "seconds_since_ok_tick": _age(at, self._last_tick_ok_at),
            "last_tick_error": self._tick_error,
            "rpc_errors_since_ok": self._rpc_errors_since_ok,
            "last_rpc_error": self._last_rpc_error,
            "last_rpc_error_endpoint": self._last_rpc_endpoint,
            "blocks_behind_head": self._blocks_behind,
            "max_blocks_behind": self.max_blocks_behind,
            "stall_after_seconds": self.stall_after,
        }


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else round(now - then, 3)


class MetricsServer:
    """`/metrics`, `/health` and `/ready` over HTTP, on the node's own event loop."""

    def __init__(self, metrics: NodeMetrics, health: Health) -> None:
        self.metrics = metrics
        self.health = health
        self.port: int | None = None
        self.app = web.Application()
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/health", self._health)
        self.app.router.add_get("/ready", self._ready)
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port; port 0 picks a free one, read back from `.port`."""
        if self._runner is not None:
            raise RuntimeError(f"metrics server already listening on port {self.port}")
        # No access log: a scrape every few seconds would drown the node's own lines.
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics server listening", host=host, port=self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        # Set as a header: web.Response refuses a content_type that carries its own charset.
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.Response:
        snapshot = self.health.snapshot()
        return web.json_response(snapshot, status=503 if snapshot["status"] == "stalled" else 200)

    async def _ready(self, request: web.Request) -> web.Response:
        snapshot = self.health.snapshot()
        return web.json_response(snapshot, status=200 if snapshot["ready"] else 503)
