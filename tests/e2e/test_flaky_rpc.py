"""An RPC endpoint that answers HTTP 502 for a while never stops a node.

Before the fix, 20 s of 502 from a load balancer in front of the RPC made every node exit with
an uncaught aiohttp.ClientResponseError, and jobs submitted afterwards were never served. The
nodes here reach the devnet only through a proxy that the test switches to 502 mid-run; jobs
submitted before, during and after the outage must all be accepted by the same node processes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from infera.client import InferaClient
from infera.devnet import free_port
from infera.localnet import LocalNetwork
from infera.types import JobStatus

OUTAGE_S = 20.0


class FlakyProxy:
    """A JSON-RPC forwarder on a free loopback port that can be told to answer 502."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.failing = False
        self.refused = 0
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
        if self.failing:
            self.refused += 1
            return web.Response(status=502, text="bad gateway")
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


def test_nodes_ride_out_an_rpc_answering_502(network: LocalNetwork, proxy: FlakyProxy) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    nodes = [network.start_node(i, rpc_url=proxy.url) for i in (1, 2, 3)]
    network.wait_nodes_ready()
    before = asyncio.run(_submit(network, "Submitted while the RPC is healthy."))
    assert asyncio.run(_results(network, [before])) == [JobStatus.ACCEPTED]

    proxy.failing = True
    during = asyncio.run(_submit(network, "Submitted while the nodes' RPC answers 502."))
    time.sleep(OUTAGE_S)
    proxy.failing = False
    after = asyncio.run(_submit(network, "Submitted after the RPC came back."))

    assert asyncio.run(_results(network, [during, after])) == [JobStatus.ACCEPTED] * 2
    assert proxy.refused > 0
    for node in nodes:
        assert node.process.poll() is None, f"node {node.index} exited:\n{node.log_text()[-3000:]}"
        assert '"tick failed; retrying"' in node.log_text()
