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
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from infera.client import InferaClient
from infera.devnet import free_port
from infera.localnet import LocalNetwork
from infera.types import JobStatus

OUTAGE_S = 30.0
MODES = ("502", "429", "reset")


class FlakyProxy:
    """A JSON-RPC forwarder on a free loopback port that can be told to answer 502."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.failing: str | None = None  # one of MODES while an outage lasts
        self.refused: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/", self._forward)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _forward(self, request: web.Request) -> web.Response:
        mode = self.failing
        if mode is not None:
            self.refused[mode] = self.refused.get(mode, 0) + 1
            if mode == "reset":
                assert request.transport is not None
                request.transport.abort()  # the connection dies mid-request, as behind a crashing proxy
                return web.Response(status=500)
            return web.Response(status=int(mode), text="bad gateway" if mode == "502" else "too many requests")
        body = await request.read()
        async with aiohttp.ClientSession() as session, session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as upstream:
            return web.Response(body=await upstream.read(), status=upstream.status, content_type="application/json")


@pytest.fixture
def proxy(network: LocalNetwork) -> Iterator[FlakyProxy]:
    with FlakyProxy(network.rpc_url) as p:
        yield p


async def _submit(net: LocalNetwork, text: str) -> int:
    chain = await net.connect()
    try:
        return (await InferaClient(chain).submit_texts([text]))[0]
    finally:
        await chain.close()


async def _results(net: LocalNetwork, job_ids: list[int]) -> list[JobStatus]:
    chain = await net.connect()
    try:
        client = InferaClient(chain)
        return [(await client.wait_for_result(job_id, timeout=240)).status for job_id in job_ids]
    finally:
        await chain.close()


async def _stakes(net: LocalNetwork) -> dict[str, int]:
    chain = await net.connect()
    try:
        return {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
    finally:
        await chain.close()


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
    stakes = asyncio.run(_stakes(network))
    before = asyncio.run(_submit(network, "Submitted while the RPC is healthy."))
    assert asyncio.run(_results(network, [before])) == [JobStatus.ACCEPTED]
    _wait_probe(ports[1], "/ready", 200)

    later = []
    for mode in MODES:
        proxy.failing = mode
        later.append(asyncio.run(_submit(network, f"Submitted while the nodes' RPC fails with {mode}.")))
        # Alive but not ready while its RPC fails: an orchestrator must not restart it.
        assert json.loads(_wait_probe(ports[1], "/ready", 503))["status"] == "degraded"
        assert _probe(ports[1], "/health")[0] == 200
        time.sleep(OUTAGE_S)
        proxy.failing = None
        later.append(asyncio.run(_submit(network, f"Submitted after the {mode} outage.")))
        _wait_probe(ports[1], "/ready", 200, timeout=60)

    assert asyncio.run(_results(network, later)) == [JobStatus.ACCEPTED] * len(later)
    assert set(proxy.refused) == set(MODES) and min(proxy.refused.values()) > 0
    assert asyncio.run(_stakes(network)) == stakes, "an honest node lost stake"
    for node in nodes:
        assert node.process.poll() is None, f"node {node.index} exited:\n{node.log_text()[-3000:]}"
        assert '"rpc endpoint failed"' in node.log_text()
    metrics = _probe(ports[1], "/metrics")[1]
    for kind in ("http_5xx", "http_429", "disconnect"):
        assert _counter(metrics, f'infera_node_rpc_errors_total{{kind="{kind}"}}') > 0, kind
    assert _counter(metrics, 'infera_node_jobs_total{event="accepted"}') >= len(later)


def _counter(metrics: str, series: str) -> float:
    return next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(series + " "))


def test_a_dead_first_endpoint_is_failed_over(network: LocalNetwork) -> None:
    """INFERA_RPC_URLS lists a dead endpoint first: the node starts and serves through the second."""
    asyncio.run(network.register_nodes([1, 2, 3]))
    dead = f"http://127.0.0.1:{free_port()}"
    for i in (1, 2, 3):
        network.start_node(i, rpc_urls=f'["{dead}", "{network.rpc_url}"]')
    network.wait_nodes_ready()
    job = asyncio.run(_submit(network, "Served through the second endpoint."))
    assert asyncio.run(_results(network, [job])) == [JobStatus.ACCEPTED]
