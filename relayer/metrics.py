"""Prometheus metrics of a relayer, in a registry of its own (as the node's, so that tests and
several relayers in one process never register a metric twice)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Same exposition label as oracle_node.metrics, for the same reason (see there).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
REQUEST_OUTCOMES = ("accepted", "replayed")
JOB_OUTCOMES = ("accepted", "refunded")
KEEPER_ACTIONS = ("assign", "advanced", "finalized")


class RelayerMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("infera_relayer_requests_total", "Job requests taken (202).", ["outcome"], registry=r)
        self.client_errors = Counter("infera_relayer_client_errors_total", "Requests refused, by error code.",
                                     ["code"], registry=r)
        self.batches = Counter("infera_relayer_batches_sent_total", "Submit transactions sent.", registry=r)
        self.batch_jobs = Histogram("infera_relayer_batch_jobs", "Jobs per submit transaction.",
                                    buckets=BATCH_BUCKETS, registry=r)
        self.refusals = Counter("infera_relayer_submit_refusals_total",
                                "Batches the chain refused (queued again with back-off), by reason.", ["reason"],
                                registry=r)
        self.jobs_final = Counter("infera_relayer_jobs_final_total", "Jobs seen final.", ["status"], registry=r)
        self.queued = Gauge("infera_relayer_queued_requests", "Requests waiting for a batch.", registry=r)
        self.keeper_txs = Counter("infera_relayer_keeper_txs_total",
                                  "Keeper transactions sent (assign, advanced, finalized), by action.", ["action"],
                                  registry=r)
        self.keeper_jobs = Counter("infera_relayer_keeper_jobs_total",
                                   "Stuck jobs the keeper moved on (advanced, finalized), by action.", ["action"],
                                   registry=r)
        self.keeper_refused = Counter("infera_relayer_keeper_refused_total",
                                      "Keeper calls whose simulation found nothing to do (another sender was first).",
                                      ["action"], registry=r)
        self.open_jobs = Gauge("infera_relayer_open_jobs", "Jobs on chain not yet final.", registry=r)
        for outcome in REQUEST_OUTCOMES:
            self.requests.labels(outcome=outcome)
        for action in KEEPER_ACTIONS:
            self.keeper_txs.labels(action=action)
        for status in JOB_OUTCOMES:
            self.jobs_final.labels(status=status)

    def render(self) -> bytes:
        return generate_latest(self.registry)
