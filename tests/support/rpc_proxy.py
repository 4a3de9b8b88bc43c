"""Test support shared by the end-to-end tests and the soak: an RPC proxy that fails on demand.

Imported as `support.rpc_proxy` (pytest puts tests/ on the path; `tests` itself is not importable
as a package here, since a dependency installs a top-level `tests` package into site-packages)."""

from __future__ import annotations

import json
from collections import Counter

import aiohttp
from aiohttp import web

from support.loopback import LoopbackServer

MODES = ("502", "429", "reset")


class FlakyProxy(LoopbackServer):
    """A JSON-RPC forwarder on a free loopback port that fails every request while `failing` is
    set: "502" and "429" answer with that HTTP status, "reset" aborts the connection."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream
        self.failing: str | None = None  # one of FAULT_MODES while an outage lasts
        self.refused: Counter[str] = Counter()
        # While set, eth_getTransactionReceipt answers null (not mined) whatever the chain says:
        # a sender whose confirmations are lost, though its transactions are mined.
        self.hide_receipts = False
        self.methods: Counter[str] = Counter()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self._forward)

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
