"""Test support shared by the end-to-end tests and the soak: an RPC proxy that fails on demand.

Imported as `support.rpc_proxy` (pytest puts tests/ on the path; `tests` itself is not importable
as a package here, since a dependency installs a top-level `tests` package into site-packages)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter

import aiohttp
from aiohttp import web

from infera.devnet import free_port

MODES = ("502", "429", "reset")


class FlakyProxy:
    """A JSON-RPC forwarder on a free loopback port that fails every request while `failing` is
    set: "502" and "429" answer with that HTTP status, "reset" aborts the connection."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.failing: str | None = None  # one of FAULT_MODES while an outage lasts
        self.refused: Counter[str] = Counter()
        # While set, eth_getTransactionReceipt answers null (not mined) whatever the chain says:
        # a sender whose confirmations are lost, though its transactions are mined.
        self.hide_receipts = False
        self.methods: Counter[str] = Counter()
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
            self.refused[mode] += 1
            if mode == "reset":
                assert request.transport is not None
                request.transport.abort()  # the connection dies mid-request, as behind a crashing proxy
                return web.Response(status=500)
            return web.Response(status=int(mode), text="bad gateway" if mode == "502" else "too many requests")
        body = await request.read()
        method = _method(body)
        self.methods[method] += 1
        async with aiohttp.ClientSession() as session, session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as upstream:
            answer = await upstream.read()
            if self.hide_receipts and method == "eth_getTransactionReceipt":
                reply = json.loads(answer)
                answer = json.dumps({"jsonrpc": "2.0", "id": reply.get("id"), "result": None}).encode()
            return web.Response(body=answer, status=upstream.status, content_type="application/json")


def _method(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return "?"
    return str(parsed.get("method", "?")) if isinstance(parsed, dict) else "batch"
