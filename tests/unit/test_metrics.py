"""The node's /metrics, /health and /ready, served for real on a free local port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from infera.rpc import OnError, OnSuccess, RpcErrorKind
from oracle_node.metrics import Health, MetricsServer, NodeMetrics

START = 1_700_000_000.0


class FakeClock:
    """Time the test moves by hand, so stalls need no sleeping."""

    def __init__(self, t: float = START) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Probe:
    """A running MetricsServer and a client for it."""

    def __init__(self, server: MetricsServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    async def get(self, path: str) -> tuple[int, str, str]:
        async with self.session.get(f"http://127.0.0.1:{self.server.port}{path}") as resp:
            return resp.status, resp.headers["Content-Type"], await resp.text()

    async def json(self, path: str) -> tuple[int, dict[str, Any]]:
        async with self.session.get(f"http://127.0.0.1:{self.server.port}{path}") as resp:
            return resp.status, await resp.json()

    async def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, _, text = await self.get("/metrics")
        assert status == 200
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }


@asynccontextmanager
async def serving(metrics: NodeMetrics, health: Health) -> AsyncIterator[Probe]:
    server = MetricsServer(metrics, health)
    await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            yield Probe(server, session)
    finally:
        await server.stop()


def run_with_probe(body: Callable[[Probe, Health, NodeMetrics, FakeClock], Awaitable[None]], **health: Any) -> None:
    clock = FakeClock()
    metrics = NodeMetrics()
    node_health = Health(metrics=metrics, clock=clock, **health)

    async def main() -> None:
        async with serving(metrics, node_health) as probe:
            await body(probe, node_health, metrics, clock)

    asyncio.run(main())


def test_metrics_endpoint_serves_every_metric_with_its_current_value() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        assert probe.server.port not in (None, 0)
        m.jobs.labels(event="seen").inc(3)
        m.jobs.labels(event="slashed").inc()
        m.embed_seconds.observe(0.02)
        m.embed_batch_size.observe(16)
        m.tx_batch_size.labels(action="commit").observe(5)
        m.pending_transactions.set(2)
        m.transactions_sent.labels(action="reveal").inc()
        m.transactions_replaced.labels(reason="fee_bump").inc()
        health.rpc_error("timeout")
        health.set_blocks_behind(7)
        health.tick_ok(START + 5)
        health.tick_failed("boom")

        status, content_type, _ = await probe.get("/metrics")
        assert status == 200
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"
        v = await probe.samples()
        assert v[("infera_node_jobs_total", (("event", "seen"),))] == 3
        assert v[("infera_node_jobs_total", (("event", "slashed"),))] == 1
        assert v[("infera_node_embed_seconds_count", ())] == 1
        assert v[("infera_node_embed_seconds_sum", ())] == pytest.approx(0.02)
        assert v[("infera_node_embed_seconds_bucket", (("le", "0.001"),))] == 0
        assert v[("infera_node_embed_seconds_bucket", (("le", "30.0"),))] == 1
        assert v[("infera_node_embed_batch_size_sum", ())] == 16
        assert v[("infera_node_tx_batch_items_sum", (("action", "commit"),))] == 5
        assert v[("infera_node_pending_transactions", ())] == 2
        assert v[("infera_node_transactions_sent_total", (("action", "reveal"),))] == 1
        assert v[("infera_node_transactions_replaced_total", (("reason", "fee_bump"),))] == 1
        # Health feeds the metrics it relates to.
        assert v[("infera_node_rpc_errors_total", (("kind", "timeout"),))] == 1
        assert v[("infera_node_blocks_behind_head", ())] == 7
        assert v[("infera_node_last_tick_timestamp_seconds", ())] == START + 5
        assert v[("infera_node_tick_failures_total", ())] == 1

    run_with_probe(body)


def test_series_exist_at_zero_before_anything_happens() -> None:
    # rate() and increase() only see an increment on a series that already existed.
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        v = await probe.samples()
        for event in ("seen", "committed", "revealed", "accepted", "slashed", "given_up"):
            assert v[("infera_node_jobs_total", (("event", event),))] == 0
        for action in ("commit", "reveal", "advance", "finalize", "assign"):
            assert v[("infera_node_transactions_sent_total", (("action", action),))] == 0
        for reason in ("fee_bump", "dropped"):
            assert v[("infera_node_transactions_replaced_total", (("reason", reason),))] == 0
        for kind in ("timeout", "connection", "http_429", "http_5xx", "disconnect", "other"):
            assert v[("infera_node_rpc_errors_total", (("kind", kind),))] == 0

    run_with_probe(body)


def test_two_nodes_in_one_process_keep_separate_metrics() -> None:
    a, b = NodeMetrics(), NodeMetrics()  # the global registry would refuse the second
    a.jobs.labels(event="seen").inc()
    assert b'infera_node_jobs_total{event="seen"} 1.0' in a.render()
    assert b'infera_node_jobs_total{event="seen"} 0.0' in b.render()


def test_health_is_degraded_by_rpc_errors_until_an_rpc_succeeds() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        health.mark_ready()
        health.tick_ok()
        status, snap = await probe.json("/health")
        assert (status, snap["status"]) == (200, "ok")
        health.rpc_error("connection")
        status, snap = await probe.json("/health")
        assert (status, snap["status"], snap["reasons"]) == (200, "degraded", ["rpc_errors"])
        assert snap["last_rpc_error"] == "connection"
        health.rpc_ok()
        status, snap = await probe.json("/health")
        assert (status, snap["status"]) == (200, "ok")

    run_with_probe(body)


def test_health_is_degraded_when_far_behind_head() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        health.tick_ok()
        health.set_blocks_behind(3)
        assert (await probe.json("/health"))[1]["status"] == "ok"
        health.set_blocks_behind(4)
        status, snap = await probe.json("/health")
        assert (status, snap["status"], snap["reasons"]) == (200, "degraded", ["starting", "behind_head"])

    run_with_probe(body, max_blocks_behind=3)


def test_health_reports_stalled_when_the_loop_stops_ticking() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        health.mark_ready()
        health.tick_ok()
        clock.t += 9.9
        status, snap = await probe.json("/health")
        assert (status, snap["status"]) == (200, "ok")
        clock.t += 0.1
        status, snap = await probe.json("/health")
        assert (status, snap["status"], snap["seconds_since_tick"]) == (503, "stalled", 10.0)
        assert (await probe.json("/ready"))[0] == 503
        health.tick_ok()  # the loop came back
        assert (await probe.json("/health"))[0] == 200

    run_with_probe(body, stall_after=10.0)


def test_setup_is_live_for_stall_after_seconds_then_stalls() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        clock.t += 59
        status, snap = await probe.json("/health")
        assert (status, snap["status"], snap["phase"]) == (200, "ok", "starting")
        clock.t += 1
        status, snap = await probe.json("/health")
        assert (status, snap["status"]) == (503, "stalled")

    run_with_probe(body)  # the default stall_after, 60 s


def test_the_first_tick_is_due_stall_after_seconds_after_setup_ends() -> None:
    # A slow model load followed by a slow first tick is not a stall.
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        clock.t += 50
        health.mark_ready()
        clock.t += 50
        status, snap = await probe.json("/health")
        assert (status, snap["status"], snap["ready"]) == (200, "ok", True)
        clock.t += 10
        assert (await probe.json("/health"))[0] == 503

    run_with_probe(body)


def test_ready_only_once_set_up_and_while_not_degraded() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        status, snap = await probe.json("/ready")
        assert (status, snap["ready"], snap["reasons"]) == (503, False, ["starting"])
        health.mark_ready()
        status, snap = await probe.json("/ready")
        assert (status, snap["ready"], snap["reasons"]) == (200, True, [])
        health.rpc_error("http_5xx")
        status, snap = await probe.json("/ready")
        assert (status, snap["reasons"]) == (503, ["rpc_errors"])
        health.rpc_ok()
        health.set_blocks_behind(21)  # the default limit is 20
        status, snap = await probe.json("/ready")
        assert (status, snap["reasons"]) == (503, ["behind_head"])
        health.set_blocks_behind(20)
        assert (await probe.json("/ready"))[0] == 200

    run_with_probe(body)


def test_a_failing_tick_keeps_the_node_live_but_not_ready() -> None:
    async def body(probe: Probe, health: Health, m: NodeMetrics, clock: FakeClock) -> None:
        health.mark_ready()
        health.tick_ok()
        clock.t += 9
        health.tick_failed("RpcUnreachable: https://rpc.example/v3/SECRETKEY refused")
        clock.t += 9  # 18 s since the last good tick, 9 s since the loop last turned
        status, snap = await probe.json("/health")
        assert (status, snap["status"], snap["reasons"]) == (200, "degraded", ["tick_failed"])
        assert snap["last_tick_error"] == "RpcUnreachable: <url> refused"  # no key leaks over HTTP
        assert (snap["seconds_since_tick"], snap["seconds_since_ok_tick"]) == (9.0, 18.0)
        assert (await probe.json("/ready"))[0] == 503
        health.tick_ok()
        assert (await probe.json("/ready"))[0] == 200

    run_with_probe(body, stall_after=10.0)


def test_rpc_error_kinds_are_bounded_labels() -> None:
    metrics = NodeMetrics(process_metrics=False)
    health = Health(metrics=metrics)
    health.rpc_error("HTTP 503 Service Unavailable!" + "x" * 100)
    health.rpc_error("")
    text = metrics.render().decode()
    assert 'infera_node_rpc_errors_total{kind="http_503_service_unavailable_xxx"} 1.0' in text
    assert 'infera_node_rpc_errors_total{kind="other"} 1.0' in text


def test_failover_provider_callbacks_plug_into_health() -> None:
    metrics = NodeMetrics(process_metrics=False)
    health = Health(metrics=metrics)
    on_error: OnError = health.rpc_error
    on_success: OnSuccess = health.rpc_ok
    on_error(RpcErrorKind.DISCONNECT, "https://rpc.example/v3/SECRETKEY")
    snap = health.snapshot()
    assert (snap["status"], snap["last_rpc_error"]) == ("degraded", "disconnect")
    assert snap["last_rpc_error_endpoint"] == "https://rpc.example"  # the key stays private
    assert 'infera_node_rpc_errors_total{kind="disconnect"} 1.0' in metrics.render().decode()
    on_success()
    assert health.snapshot()["status"] == "ok"


def test_stop_releases_the_port() -> None:
    async def main() -> None:
        server = MetricsServer(NodeMetrics(), Health())
        await server.start("127.0.0.1", 0)
        port = server.port
        await server.stop()
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"http://127.0.0.1:{port}/health")

    asyncio.run(main())
