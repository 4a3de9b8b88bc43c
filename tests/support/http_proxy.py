"""An HTTP forwarder that loses answers on demand: the request reaches the upstream server and is
handled there, but the connection is cut before the client reads the response (a client's
retry must then not make a second request)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import aiohttp
from aiohttp import web

from infera.devnet import free_port


class LosingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.lose: Counter[tuple[str, str]] = Counter()  # (method, path) -> answers still to lose
        self.seen: Counter[tuple[str, str]] = Counter()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LosingProxy:
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        key = (request.method, request.path)
        self.seen[key] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
            request.method, self.upstream + request.path_qs, data=await request.read(), headers=headers
        ) as upstream:
            body = await upstream.read()
            if self.lose[key] > 0:
                self.lose[key] -= 1
                assert request.transport is not None
                request.transport.abort()  # handled upstream; the client never reads the answer
                return web.Response(status=500)
            return web.Response(body=body, status=upstream.status,
                                content_type=upstream.content_type, headers={
                                    k: v for k, v in upstream.headers.items()
                                    if k.lower() in ("location", "retry-after")})
