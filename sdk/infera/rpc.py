"""A JSON-RPC provider for web3.py v7 (async) that classifies errors, retries and fails over.

Why: one flaky RPC endpoint (a 502 from a load balancer, a 429, a dropped connection) should
make a node *degraded*, not dead, and a second endpoint should take over. So:

* ``classify`` sorts a transport error into a transient kind, or None for everything else
  (JSON-RPC error answers, reverts, HTTP 4xx but 429, bad URLs, TLS certificate mismatches):
  those are answers or misconfiguration, and retrying cannot change them.
* ``FailoverProvider`` holds one web3 ``AsyncHTTPProvider`` per URL, with web3's own retry
  switched off so that exactly one retry layer exists: ours, built on tenacity. One attempt is a
  *sweep*: the endpoint that last worked first (sticky), then the others in round-robin order,
  with no pause in between (another endpoint may well be healthy). Whole sweeps are retried with
  exponential backoff and full jitter until ``retry_for`` seconds have passed, then
  ``RpcTransientError`` is raised. The caller (the node's loop) catches it and tries again on its
  next tick, so retrying is indefinite at the node level while one call stays bounded.

web3 7.16's ``AsyncHTTPProvider`` does not wrap transport errors: its session is created with
``raise_for_status=True``, so a 502 surfaces as ``aiohttp.ClientResponseError(status=502)``, a
dead port as ``aiohttp.ClientConnectorError``, a dropped connection as
``aiohttp.ServerDisconnectedError`` and a request past its ``ClientTimeout`` as
``asyncio.TimeoutError`` (``TimeoutError`` on 3.11). JSON-RPC error answers come back as HTTP 200
and are turned into ``Web3RPCError`` (or ``ContractLogicError``) by web3's request manager,
above this provider.

Rate limits answered as JSON-RPC errors (HTTP 200; Infura, Ankr and others do this) count as
``http_429``: code 429, or code -32005 ("limit exceeded", EIP-1474), or a message that names a
request rate ("rate limit", "too many requests", "request rate", "rate exceeded", "request limit",
"count exceeded", "limit exceeded"). A message about gas, results, response size, a block range
or blocks never counts, even with -32005: "query returned more than 10000 results" is -32005 too
and asking again returns the same answer, so retrying it would only burn the budget.

What leaves the provider is an SDK error, never aiohttp's: a transport error that retrying cannot
help is ``RpcUnreachable`` (a 401, a TLS mismatch, a bad URL: configuration), a transient one
on a method sent once is ``RpcTransientError``, each with the original as ``__cause__``.

Methods that are not idempotent (``eth_sendTransaction``, where the node picks the nonce, and the
devnet ``evm_*``/``hardhat_*``/``anvil_*`` methods: a retried ``evm_mine`` mines twice) are sent
once, transient errors included. ``eth_sendRawTransaction`` *is* retried: the signed bytes fix
the nonce, so a duplicate is answered "already known" or "nonce too low", a JSON-RPC error the
caller handles.
"""

from __future__ import annotations

import asyncio
import errno
import re
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, NoReturn, TypeVar, cast
from urllib.parse import urlsplit

import aiohttp
import structlog
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception, stop_after_delay
from tenacity.wait import wait_random_exponential
from web3 import AsyncWeb3
from web3.exceptions import ProviderConnectionError, Web3RPCError
from web3.providers.async_base import AsyncJSONBaseProvider
from web3.providers.rpc import AsyncHTTPProvider
from web3.types import RPCEndpoint, RPCResponse

from infera.errors import ConfigError, RpcTransientError, RpcUnreachable

log = structlog.get_logger("infera")
T = TypeVar("T")

OnError = Callable[["RpcErrorKind", str], None]
OnSuccess = Callable[[], None]

# Sent once: re-sending them is not a no-op (see the module docstring).
_ONCE_METHODS = frozenset({"eth_sendTransaction", "personal_sendTransaction"})
_ONCE_PREFIXES = ("evm_", "hardhat_", "anvil_")

_RATE_LIMIT_CODES = frozenset({429, -32005})
_RATE_LIMIT_TEXT = re.compile(
    r"rate[ _-]?limit|too many requests|request rate|rate exceeded|request limit|count exceeded|limit exceeded",
    re.IGNORECASE,
)
_DROPPED_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
# Limits that do not pass with time: asking again gets the same answer.
_NOT_RATE_LIMIT_TEXT = re.compile(r"gas|result|size|range|block", re.IGNORECASE)


class RpcErrorKind(StrEnum):
    """The transient failure kinds; values are stable (metrics labels, health reports)."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_429 = "http_429"
    HTTP_5XX = "http_5xx"
    DISCONNECT = "disconnect"
    OTHER = "other"


class RateLimitedResponse(Exception):
    """A JSON-RPC answer that is a rate-limit error: raised inside the provider so that the
    retry layer treats it like an HTTP 429 (it never leaves ``FailoverProvider``)."""

    def __init__(self, response: RPCResponse) -> None:
        self.response = response
        super().__init__(f"rate limited: {response.get('error')}")


def is_rate_limit_error(error: Any) -> bool:
    """Whether a JSON-RPC ``error`` object says "slow down" rather than "no"."""
    if not isinstance(error, dict):
        return False
    code, message = error.get("code"), str(error.get("message", ""))
    if code == 429:
        return True
    if _NOT_RATE_LIMIT_TEXT.search(message):
        return False
    return code in _RATE_LIMIT_CODES or bool(_RATE_LIMIT_TEXT.search(message))


def classify(exc: BaseException) -> RpcErrorKind | None:
    """The transient kind of a transport error, or None when retrying cannot help.

    Order matters: aiohttp's ``ServerTimeoutError`` is both a ``TimeoutError`` and a
    ``ClientConnectionError`` (it is a timeout), and ``ClientResponseError`` carries the status.
    """
    if isinstance(exc, RateLimitedResponse):
        return RpcErrorKind.HTTP_429
    if isinstance(exc, Web3RPCError):
        error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
        return RpcErrorKind.HTTP_429 if is_rate_limit_error(error) else None
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError on 3.11
        return RpcErrorKind.TIMEOUT
    if isinstance(exc, aiohttp.ClientResponseError):
        return _classify_status(exc.status)
    if isinstance(exc, aiohttp.ClientError):
        return _classify_client_error(exc)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return RpcErrorKind.DISCONNECT
    if isinstance(exc, (ConnectionError, ProviderConnectionError)):
        return RpcErrorKind.CONNECTION
    return None


def _classify_status(status: int) -> RpcErrorKind | None:
    if status == 429:
        return RpcErrorKind.HTTP_429
    if 500 <= status <= 599:
        return RpcErrorKind.HTTP_5XX
    return None  # 4xx: a bad key, a bad path, a refused method: asking again gets the same answer


def _classify_client_error(exc: aiohttp.ClientError) -> RpcErrorKind | None:
    # A wrong TLS certificate or pinned fingerprint, or a malformed URL, is configuration.
    if isinstance(exc, (aiohttp.ServerFingerprintMismatch, aiohttp.ClientSSLError, aiohttp.InvalidURL)):
        return None
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, ConnectionResetError)):
        return RpcErrorKind.DISCONNECT
    # aiohttp reports a reset of an open connection as ClientOSError(ECONNRESET), not as a
    # ConnectionResetError: the peer was there and dropped us, which is a disconnect.
    if isinstance(exc, aiohttp.ClientOSError) and exc.errno in _DROPPED_ERRNOS:
        return RpcErrorKind.DISCONNECT
    if isinstance(exc, aiohttp.ClientConnectionError):
        return RpcErrorKind.CONNECTION
    return None


def redact_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL: userinfo, path and query often hold API keys
    (Infura and Alchemy put the key in the path), so logs and metrics get only this."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme or 'http'}://{host}{port}"


def _sent_once(method: str) -> bool:
    return method in _ONCE_METHODS or method.startswith(_ONCE_PREFIXES)


class FailoverProvider(AsyncJSONBaseProvider):
    """Several HTTP endpoints behind one web3 provider, with classified retries and failover.

    ``on_error(kind, endpoint)`` is called for every transient failure and ``on_success()`` for
    every answer (a JSON-RPC error answer included: the endpoint works), so that a caller can
    report "degraded" and "ok". ``endpoint`` is the redacted ``scheme://host[:port]``.
    """

    def __init__(
        self,
        urls: Sequence[str],
        timeout: float = 10.0,
        retry_for: float = 30.0,
        on_error: OnError | None = None,
        on_success: OnSuccess | None = None,
        *,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        super().__init__()
        if isinstance(urls, str) or not urls:
            raise ConfigError("FailoverProvider needs a non-empty sequence of RPC URLs")
        self.urls = list(urls)
        self.labels = [redact_url(u) for u in self.urls]
        self.retry_for = retry_for
        self._on_error = on_error
        self._on_success = on_success
        self._backoff = wait_random_exponential(multiplier=backoff_initial, max=backoff_max)
        self._current = 0
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        # exception_retry_configuration=None: web3's built-in retry off, so ours is the only layer.
        self.providers = [
            AsyncHTTPProvider(u, request_kwargs={"timeout": client_timeout}, exception_retry_configuration=None)
            for u in self.urls
        ]

    def __str__(self) -> str:
        return f"FailoverProvider({', '.join(self.labels)})"

    @property
    def current_endpoint(self) -> str:
        """The redacted endpoint the next request goes to first."""
        return self.labels[self._current]

    # ------------------------------------------------------------------ requests
    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        async def send(provider: AsyncHTTPProvider) -> RPCResponse:
            response = await provider.make_request(method, params)
            if isinstance(response, dict) and is_rate_limit_error(response.get("error")):
                raise RateLimitedResponse(response)
            return response

        if _sent_once(method):
            return await self._once(send)
        return await self._retrying(send)

    async def make_batch_request(
        self, batch_requests: list[tuple[RPCEndpoint, Any]]
    ) -> list[RPCResponse] | RPCResponse:
        async def send(provider: AsyncHTTPProvider) -> list[RPCResponse] | RPCResponse:
            response = await provider.make_batch_request(batch_requests)
            if isinstance(response, dict) and is_rate_limit_error(response.get("error")):
                raise RateLimitedResponse(response)
            return response

        if any(_sent_once(m) for m, _ in batch_requests):
            return await self._once(send)
        return await self._retrying(send)

    async def _retrying(self, send: Callable[[AsyncHTTPProvider], Awaitable[T]]) -> T:
        """Sweeps retried by tenacity until ``retry_for`` passes; then RpcTransientError."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: classify(e) is not None),
            stop=stop_after_delay(self.retry_for),
            wait=self._wait,
            reraise=False,
        )
        try:
            return cast(T, await retrying(self._sweep, send))
        except RetryError as exc:
            raise self._exhausted(exc.last_attempt.exception()) from exc.last_attempt.exception()

    def _wait(self, state: RetryCallState) -> float:
        """Backoff with full jitter, clamped so that the last sweep starts at the deadline
        rather than up to ``backoff_max`` after it."""
        elapsed = state.seconds_since_start or 0.0
        return max(0.0, min(self._backoff(state), self.retry_for - elapsed))

    async def _sweep(self, send: Callable[[AsyncHTTPProvider], Awaitable[T]]) -> T:
        """One attempt: the sticky endpoint first, then each other one once, without pausing.
        Raises the last transient error when all failed; anything else at once."""
        last: BaseException | None = None
        for _ in self.providers:
            index = self._current
            try:
                result = await send(self.providers[index])
            except Exception as exc:
                if classify(exc) is None:
                    _raise_refused(self.labels[index], exc)
                self._failed(index, exc)
                last = exc
                continue
            self._succeeded()
            return result
        assert last is not None  # the loop ran at least once and every pass failed
        raise last

    async def _once(self, send: Callable[[AsyncHTTPProvider], Awaitable[T]]) -> T:
        """A single try on the sticky endpoint, for methods that must not be sent twice."""
        index = self._current
        try:
            result = await send(self.providers[index])
        except RateLimitedResponse as exc:
            self._failed(index, exc)
            return cast(T, exc.response)  # web3 raises it as the Web3RPCError it is
        except Exception as exc:
            kind = classify(exc)
            if kind is None:
                _raise_refused(self.labels[index], exc)
            self._failed(index, exc)
            raise RpcTransientError(
                f"RPC endpoint {self.labels[index]} failed ({kind}: {type(exc).__name__}: {_short(exc)}) on a "
                "method that is sent once (it is not idempotent), so it was not retried; check the chain "
                "before sending it again", kind=str(kind)) from exc
        self._succeeded()
        return result

    def _failed(self, index: int, exc: BaseException) -> None:
        kind = classify(exc) or RpcErrorKind.OTHER
        # Move on only if no concurrent request has already moved on from this endpoint.
        if self._current == index:
            self._current = (index + 1) % len(self.providers)
        log.warning(
            "rpc endpoint failed",
            endpoint=self.labels[index],
            kind=str(kind),
            error=type(exc).__name__,
            next_endpoint=self.labels[self._current],
        )
        if self._on_error is not None:
            self._on_error(kind, self.labels[index])

    def _succeeded(self) -> None:
        if self._on_success is not None:
            self._on_success()

    def _exhausted(self, last: BaseException | None) -> RpcTransientError:
        kind = (classify(last) if last is not None else None) or RpcErrorKind.OTHER
        detail = f"{type(last).__name__}: {_short(last)}" if last is not None else "no attempt made"
        return RpcTransientError(
            f"every RPC endpoint ({', '.join(self.labels)}) failed with transient errors for "
            f"{self.retry_for:g}s; last {kind}: {detail}",
            kind=str(kind),
        )

    # ---------------------------------------------------------------- lifecycle
    async def is_connected(self, show_traceback: bool = False) -> bool:
        """Whether any endpoint answers ``web3_clientVersion`` now: one try each, no backoff,
        so that a health probe never blocks for ``retry_for``."""
        problems: list[str] = []
        for label, provider in zip(self.labels, self.providers, strict=True):
            try:
                response = await provider.make_request(RPCEndpoint("web3_clientVersion"), [])
            except Exception as exc:  # a 401 or a revert-free error answer also means "not usable"
                problems.append(f"{label}: {type(exc).__name__}")
                continue
            if "error" not in response and response.get("jsonrpc") == "2.0":
                return True
            problems.append(f"{label}: bad answer")
        if show_traceback:
            raise ProviderConnectionError(f"no RPC endpoint answers: {'; '.join(problems)}")
        return False

    async def endpoint_chain_ids(self) -> list[tuple[str, int | None]]:
        """``(endpoint, chain id)`` of every endpoint, asked once each (None where it failed
        transiently). Failover may move to any endpoint later, so a caller checks them all
        for the wrong chain up front, not only the one that answered first."""
        found: list[tuple[str, int | None]] = []
        for label, provider in zip(self.labels, self.providers, strict=True):
            try:
                response = await provider.make_request(RPCEndpoint("eth_chainId"), [])
            except Exception as exc:
                if classify(exc) is None:
                    _raise_refused(label, exc)
                found.append((label, None))
                continue
            result = response.get("result")
            found.append((label, int(result, 16) if isinstance(result, str) else None))
        return found

    async def disconnect(self) -> None:
        """Close every endpoint's aiohttp session (each provider keeps one per event loop)."""
        await asyncio.gather(*(p.disconnect() for p in self.providers))


def _raise_refused(endpoint: str, exc: Exception) -> NoReturn:
    """Raise a transport error retrying cannot help as RpcUnreachable; anything else (a bug of
    ours, web3's own errors) as it is. Called in an except block."""
    if not isinstance(exc, (aiohttp.ClientError, OSError, ProviderConnectionError)):
        raise exc
    status = f"HTTP {exc.status} " if isinstance(exc, aiohttp.ClientResponseError) else ""
    raise RpcUnreachable(
        f"RPC endpoint {endpoint} refused the request ({status}{type(exc).__name__}: {_short(exc)}); asking again "
        "will not help: check INFERA_RPC_URL (its key, path, scheme and TLS certificate)") from exc


def _short(exc: BaseException) -> str:
    # aiohttp messages can embed the request URL (with its key); keep the status/reason only.
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{exc.status} {exc.message}"
    return type(exc).__name__ if "://" in str(exc) else str(exc)


def make_web3(
    urls: Sequence[str],
    timeout: float = 10.0,
    retry_for: float = 30.0,
    on_error: OnError | None = None,
    on_success: OnSuccess | None = None,
) -> AsyncWeb3[FailoverProvider]:
    """An ``AsyncWeb3`` over a ``FailoverProvider`` for ``urls``, without web3's validation
    middleware: it asks eth_chainId twice for every eth_call, estimate and send (measured: a
    sixth of a node's event-loop CPU, and three requests where one does). Chain.connect checks
    every endpoint's chain id once, and a transaction is signed here for its chain (EIP-155), so
    an endpoint on another chain refuses it anyway."""
    w3 = AsyncWeb3(FailoverProvider(urls, timeout, retry_for, on_error, on_success))
    w3.middleware_onion.remove("validation")
    return w3
