"""An RPC endpoint that answers HTTP 502, then 429, then resets connections, 30 s each, never
stops a node, and a second endpoint is failed over to when the first is dead.

Before the fix, 20 s of 502 from a load balancer in front of the RPC made every node exit with
an uncaught aiohttp.ClientResponseError, and jobs submitted afterwards were never served. The
nodes here reach the devnet only through a proxy that the test switches into each fault in
turn; jobs submitted before, during and after every outage must all be accepted by the same node
processes, and no node may lose stake."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from infera.devnet import free_port
from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork
from support.network import results, stakes, submit
from support.rpc_proxy import MODES, FlakyProxy

OUTAGE_S = 30.0


@pytest.fixture
def proxy(network: LocalNetwork) -> Iterator[FlakyProxy]:
    with FlakyProxy(network.rpc_url) as p:
        yield p


def _probe(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_probe(port: int, path: str, status: int, timeout: float = 25.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        code, body = _probe(port, path)
        if code == status:
            return body
        assert time.monotonic() < deadline, f"{path} stayed {code}: {body}"
        time.sleep(0.3)


def test_nodes_ride_out_502_then_429_then_connection_resets(network: LocalNetwork, proxy: FlakyProxy) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    ports = {i: free_port() for i in (1, 2, 3)}
    nodes = [network.start_node(i, rpc_url=proxy.url, metrics_port=str(ports[i])) for i in (1, 2, 3)]
    network.wait_nodes_ready()
    staked = stakes(network)
    before = submit(network, ["Submitted while the RPC is healthy."])
    assert [r.status for r in results(network, before)] == [JobStatus.ACCEPTED]
    _wait_probe(ports[1], "/ready", 200)

    later: list[int] = []
    for mode in MODES:
        proxy.failing = mode
        later += submit(network, [f"Submitted while the nodes' RPC fails with {mode}."])
        # Alive but not ready while its RPC fails: an orchestrator must not restart it.
        assert json.loads(_wait_probe(ports[1], "/ready", 503))["status"] == "degraded"
        assert _probe(ports[1], "/health")[0] == 200
        time.sleep(OUTAGE_S)
        proxy.failing = None
        later += submit(network, [f"Submitted after the {mode} outage."])
        _wait_probe(ports[1], "/ready", 200, timeout=60)

    assert [r.status for r in results(network, later)] == [JobStatus.ACCEPTED] * len(later)
    assert set(proxy.refused) == set(MODES) and min(proxy.refused.values()) > 0
    assert stakes(network) == staked, "an honest node lost stake"
    for node in nodes:
        assert node.process.poll() is None, f"node {node.index} exited:\n{node.log_text()[-3000:]}"
        assert '"rpc endpoint failed"' in node.log_text()
    metrics = _probe(ports[1], "/metrics")[1]
    for kind in ("http_5xx", "http_429", "disconnect"):
        assert _counter(metrics, f'infera_node_rpc_errors_total{{kind="{kind}"}}') > 0, kind
    # The node counts a job when its own next tick finds it closed, which may come after our read.
    _wait_counter(ports[1], 'infera_node_jobs_total{event="accepted"}', at_least=len(later) + 1)


def _wait_counter(port: int, series: str, at_least: float, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (value := _counter(_probe(port, "/metrics")[1], series)) < at_least:
        assert time.monotonic() < deadline, f"{series} stayed at {value}, expected at least {at_least}"
        time.sleep(0.5)


def _counter(metrics: str, series: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(series + " "))


def test_a_dead_first_endpoint_is_failed_over(network: LocalNetwork) -> None:
    """INFERA_RPC_URLS lists a dead endpoint first: the node starts and serves through the second."""
    asyncio.run(network.register_nodes([1, 2, 3]))
    dead = f"http://127.0.0.1:{free_port()}"
    for i in (1, 2, 3):
        network.start_node(i, rpc_urls=f'["{dead}", "{network.rpc_url}"]')
    network.wait_nodes_ready()
    job = submit(network, ["Served through the second endpoint."])
    assert [r.status for r in results(network, job)] == [JobStatus.ACCEPTED]
