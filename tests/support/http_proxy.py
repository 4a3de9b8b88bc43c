"""An HTTP forwarder that loses answers on demand: the request reaches the upstream server and is
handled there, but the connection is cut before the client reads the response (a client's
retry must then not make a second request)."""

from __future__ import annotations

from collections import Counter

import aiohttp
from aiohttp import web

from support.loopback import LoopbackServer


class LosingProxy(LoopbackServer):
    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.lose: Counter[tuple[str, str]] = Counter()  # (method, path) -> answers still to lose
        self.seen: Counter[tuple[str, str]] = Counter()

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

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
