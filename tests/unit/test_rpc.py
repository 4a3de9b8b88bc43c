"""FailoverProvider against real sockets: a tiny aiohttp JSON-RPC stub that can answer 502, 429,
an error, reset the connection or hang, scripted per request, and counts what it receives."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from structlog.testing import capture_logs
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint
from yarl import URL

from infera.errors import RpcTransientError, RpcUnreachable
from infera.rpc import FailoverProvider, RpcErrorKind, classify, is_rate_limit_error, make_web3, redact_url

T = TypeVar("T")
CHAIN_ID = 31337
TX_HASH = "0x" + "ab" * 32
RESULTS = {"eth_chainId": hex(CHAIN_ID), "eth_blockNumber": "0x10", "web3_clientVersion": "stub/1",
           "eth_sendRawTransaction": TX_HASH, "evm_mine": "0x0"}


class Stub:
    """Answers each request by the next entry of ``script``, then by ``default``."""

    def __init__(self, *script: str, default: str = "ok") -> None:
        self.script = list(script)
        self.default = default
        self.methods: list[str] = []
        self.release = asyncio.Event()

    @property
    def requests(self) -> int:
        return len(self.methods)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.methods.append(body["method"])
        mode = self.script.pop(0) if self.script else self.default
        if mode in ("502", "429", "401"):
            return web.Response(status=int(mode), text="no")
        if mode == "reset":
            _reset(request)
            return web.Response()
        if mode == "hang":
            await asyncio.wait_for(self.release.wait(), 10)
        if mode == "rpc_error":
            return _error(body, -32000, "execution reverted")
        if mode == "rate_limited":
            return _error(body, -32005, "project ID request rate exceeded")
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": RESULTS[body["method"]]})


def _error(body: dict[str, Any], code: int, message: str) -> web.Response:
    return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": {"code": code, "message": message}})


def _reset(request: web.Request) -> None:
    """Close with an RST (SO_LINGER 0) rather than a FIN, as a crashing proxy does."""
    assert request.transport is not None
    sock = request.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    request.transport.abort()


@contextlib.asynccontextmanager
async def serving(*stubs: Stub) -> AsyncIterator[list[str]]:
    """Each stub on its own free port of 127.0.0.1; yields their URLs."""
    runners: list[web.AppRunner] = []
    urls: list[str] = []
    try:
        for stub in stubs:
            app = web.Application()
            app.router.add_post("/{tail:.*}", stub.handle)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            runners.append(runner)
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
            urls.append(f"http://127.0.0.1:{sock.getsockname()[1]}/")
        yield urls
    finally:
        for stub in stubs:
            stub.release.set()
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A port that is bound but not listening: connecting is refused at once, and no other
    process can take the port while the test runs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        sock.close()


class Recorder:
    def __init__(self) -> None:
        self.errors: list[tuple[RpcErrorKind, str]] = []
        self.successes = 0

    def on_error(self, kind: RpcErrorKind, endpoint: str) -> None:
        self.errors.append((kind, endpoint))

    def on_success(self) -> None:
        self.successes += 1

    @property
    def kinds(self) -> list[RpcErrorKind]:
        return [k for k, _ in self.errors]


def run(body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body()

    return asyncio.run(main())


async def chain_id(urls: list[str], rec: Recorder, timeout: float = 5.0, retry_for: float = 10.0) -> int:
    w3 = make_web3(urls, timeout=timeout, retry_for=retry_for, on_error=rec.on_error, on_success=rec.on_success)
    try:
        return await w3.eth.chain_id
    finally:
        await w3.provider.disconnect()


# ------------------------------------------------------------------ transient: retried
@pytest.mark.parametrize(("status", "kind"), [("502", RpcErrorKind.HTTP_5XX), ("429", RpcErrorKind.HTTP_429)])
def test_http_burst_is_retried_until_it_recovers(status: str, kind: RpcErrorKind) -> None:
    stub, rec = Stub(status, status), Recorder()

    async def body() -> int:
        async with serving(stub) as urls:
            return await chain_id(urls, rec)

    assert run(body) == CHAIN_ID
    assert rec.kinds == [kind, kind]
    assert stub.requests == 3
    assert rec.successes == 1


def test_connection_reset_is_retried() -> None:
    stub, rec = Stub("reset"), Recorder()

    async def body() -> int:
        async with serving(stub) as urls:
            return await chain_id(urls, rec)

    assert run(body) == CHAIN_ID
    assert rec.kinds == [RpcErrorKind.DISCONNECT]
    assert stub.requests == 2


def test_hanging_endpoint_times_out_and_is_retried() -> None:
    stub, rec = Stub("hang"), Recorder()

    async def body() -> int:
        async with serving(stub) as urls:
            return await chain_id(urls, rec, timeout=0.3)

    assert run(body) == CHAIN_ID
    assert rec.kinds == [RpcErrorKind.TIMEOUT]
    assert stub.requests == 2


def test_json_rpc_rate_limit_answer_counts_as_429() -> None:
    stub, rec = Stub("rate_limited"), Recorder()

    async def body() -> int:
        async with serving(stub) as urls:
            return await chain_id(urls, rec)

    assert run(body) == CHAIN_ID
    assert rec.kinds == [RpcErrorKind.HTTP_429]
    assert stub.requests == 2


def test_send_raw_transaction_is_retried() -> None:
    """Same signed bytes twice is harmless (the nonce is in them), so a 502 must not lose a send."""
    stub, rec = Stub("502"), Recorder()

    async def body() -> bytes:
        async with serving(stub) as urls:
            w3 = make_web3(urls, on_error=rec.on_error)
            try:
                return bytes(await w3.eth.send_raw_transaction(b"\x02\xf8"))
            finally:
                await w3.provider.disconnect()

    assert "0x" + run(body).hex() == TX_HASH
    assert stub.methods == ["eth_sendRawTransaction"] * 2


# ------------------------------------------------------------------ failover
def test_dead_first_url_fails_over_and_sticks_to_the_second(dead_url: str) -> None:
    stub, rec = Stub(), Recorder()

    async def body() -> tuple[int, int, float]:
        async with serving(stub) as urls:
            w3 = make_web3([dead_url, *urls], on_error=rec.on_error)
            try:
                start = time.monotonic()
                first = await w3.eth.chain_id
                elapsed = time.monotonic() - start
                return first, await w3.eth.block_number, elapsed
            finally:
                await w3.provider.disconnect()

    first, block, elapsed = run(body)
    assert (first, block) == (CHAIN_ID, 16)
    assert rec.errors == [(RpcErrorKind.CONNECTION, redact_url(dead_url))]  # once: the second call stuck
    assert stub.methods == ["eth_chainId", "eth_blockNumber"]
    assert elapsed < 0.5  # failing over within a sweep does not wait for the backoff


def test_all_endpoints_failing_past_retry_for_raise_rpc_transient_error() -> None:
    a, b, rec = Stub(default="502"), Stub(default="502"), Recorder()
    secret_urls: list[str] = []

    async def body() -> float:
        async with serving(a, b) as urls:
            secret_urls.extend(u.replace("http://", "http://user:hunter2@") + "v3/KEY123?t=TOK" for u in urls)
            start = time.monotonic()
            with capture_logs() as logs, pytest.raises(RpcTransientError) as caught:
                await chain_id(secret_urls, rec, retry_for=1.5)
            assert caught.value.kind == "http_5xx"
            assert isinstance(caught.value, RpcUnreachable)
            text = str(caught.value) + repr(logs) + repr(rec.errors)
            for secret in ("hunter2", "KEY123", "TOK", "user"):
                assert secret not in text
            assert logs and all(entry["kind"] == "http_5xx" for entry in logs)
            assert {entry["endpoint"] for entry in logs} == {redact_url(u) for u in urls}
            return time.monotonic() - start

    elapsed = run(body)
    assert 1.4 <= elapsed < 4.0
    assert a.requests >= 2 and b.requests >= 2  # round robin over both, several sweeps


# ------------------------------------------------------------------ not transient: at once
def test_json_rpc_error_answer_is_not_retried() -> None:
    stub, rec = Stub(default="rpc_error"), Recorder()

    async def body() -> None:
        async with serving(stub) as urls:
            with pytest.raises(Web3RPCError, match="execution reverted"):
                await chain_id(urls, rec)

    run(body)
    assert stub.requests == 1
    assert rec.errors == []


def test_http_401_is_not_retried_nor_failed_over() -> None:
    first, second, rec = Stub(default="401"), Stub(), Recorder()

    async def body() -> None:
        async with serving(first, second) as urls:
            with pytest.raises(RpcUnreachable, match="HTTP 401.*check INFERA_RPC_URL") as caught:
                await chain_id(urls, rec)
            assert not isinstance(caught.value, RpcTransientError)
            cause = caught.value.__cause__
            assert isinstance(cause, aiohttp.ClientResponseError) and cause.status == 401

    run(body)
    assert (first.requests, second.requests) == (1, 0)
    assert rec.errors == []


def test_non_idempotent_devnet_method_is_sent_once() -> None:
    """evm_mine twice mines two blocks; web3's own retry (which would retry it: "evm" is in its
    allowlist) must be off as well as ours."""
    stub, rec = Stub("502"), Recorder()

    async def body() -> None:
        async with serving(stub) as urls:
            provider = FailoverProvider(urls, on_error=rec.on_error)
            try:
                with pytest.raises(RpcTransientError, match="sent once") as caught:
                    await provider.make_request(RPCEndpoint("evm_mine"), [])
                assert caught.value.kind == "http_5xx"
                assert isinstance(caught.value.__cause__, aiohttp.ClientResponseError)
            finally:
                await provider.disconnect()

    run(body)
    assert stub.requests == 1
    assert rec.kinds == [RpcErrorKind.HTTP_5XX]


def test_is_connected_tries_each_endpoint_once(dead_url: str) -> None:
    stub = Stub()

    async def body() -> tuple[bool, bool, float]:
        async with serving(stub) as urls:
            alive, dead = FailoverProvider([dead_url, *urls]), FailoverProvider([dead_url], retry_for=30)
            try:
                start = time.monotonic()
                return await alive.is_connected(), await dead.is_connected(), time.monotonic() - start
            finally:
                await alive.disconnect()
                await dead.disconnect()

    alive, dead, elapsed = run(body)
    assert (alive, dead) == (True, False)
    assert elapsed < 2.0  # not the 30 s retry budget


def test_endpoint_chain_ids_asks_every_endpoint_once(dead_url: str) -> None:
    a, b = Stub(), Stub()

    async def body() -> tuple[list[tuple[str, int | None]], list[str]]:
        async with serving(a, b) as urls:
            provider = FailoverProvider([urls[0], dead_url, urls[1]])
            try:
                return await provider.endpoint_chain_ids(), urls
            finally:
                await provider.disconnect()

    found, urls = run(body)
    assert found == [(redact_url(urls[0]), CHAIN_ID), (redact_url(dead_url), None), (redact_url(urls[1]), CHAIN_ID)]
    assert a.methods == b.methods == ["eth_chainId"]


# ------------------------------------------------------------------ classify
def _response_error(status: int) -> aiohttp.ClientResponseError:
    info = aiohttp.RequestInfo(URL("http://h/"), "POST", CIMultiDictProxy(CIMultiDict()), URL("http://h/"))
    return aiohttp.ClientResponseError(info, (), status=status)


def _rpc_error(code: int, message: str) -> Web3RPCError:
    return Web3RPCError(message, rpc_response={"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}})


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_response_error(502), RpcErrorKind.HTTP_5XX),
        (_response_error(503), RpcErrorKind.HTTP_5XX),
        (_response_error(429), RpcErrorKind.HTTP_429),
        (_response_error(400), None),
        (_response_error(401), None),
        (_response_error(404), None),
        (aiohttp.ServerDisconnectedError(), RpcErrorKind.DISCONNECT),
        (aiohttp.ClientPayloadError("truncated"), RpcErrorKind.DISCONNECT),
        (aiohttp.ClientConnectionResetError("reset"), RpcErrorKind.DISCONNECT),
        (ConnectionResetError(), RpcErrorKind.DISCONNECT),
        (aiohttp.ClientOSError(errno.ECONNREFUSED, "refused"), RpcErrorKind.CONNECTION),
        (aiohttp.ClientOSError(errno.ECONNRESET, "reset by peer"), RpcErrorKind.DISCONNECT),
        (ConnectionRefusedError(), RpcErrorKind.CONNECTION),
        (aiohttp.ServerTimeoutError(), RpcErrorKind.TIMEOUT),
        (TimeoutError(), RpcErrorKind.TIMEOUT),
        (aiohttp.ServerFingerprintMismatch(b"a", b"b", "h", 443), None),
        (aiohttp.InvalidURL("nope"), None),
        (ValueError("bad"), None),
        (ContractLogicError("execution reverted"), None),
        (_rpc_error(-32000, "execution reverted"), None),
        (_rpc_error(-32000, "nonce too low"), None),
        (_rpc_error(-32005, "daily request count exceeded, request rate limited"), RpcErrorKind.HTTP_429),
        (asyncio.CancelledError(), None),
        (KeyboardInterrupt(), None),
    ],
    ids=repr,
)
def test_classify(exc: BaseException, kind: RpcErrorKind | None) -> None:
    assert classify(exc) == kind


@pytest.mark.parametrize(
    ("code", "message", "limited"),
    [
        (429, "slow down", True),
        (-32005, "project ID request rate exceeded", True),
        (-32005, "limit exceeded", True),
        (-32000, "Too Many Requests", True),
        (-32005, "query returned more than 10000 results", False),
        (-32602, "block range is too wide", False),
        (-32000, "exceeds block gas limit", False),
        (-32000, "already known", False),
    ],
)
def test_rate_limit_answers(code: int, message: str, limited: bool) -> None:
    assert is_rate_limit_error({"code": code, "message": message}) is limited


def test_redact_url_keeps_only_scheme_host_and_port() -> None:
    assert redact_url("https://user:pw@rpc.example.org:8545/v3/KEY?apikey=X") == "https://rpc.example.org:8545"
    assert redact_url("http://[::1]:8545/") == "http://[::1]:8545"
