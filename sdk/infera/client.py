"""The SDK's front door: verified embeddings in one call, on chain or through a relayer.

    from infera.client import Infera

    with Infera.connect() as infera:                    # INFERA_* settings, or keyword overrides
        quote = infera.quote(2)                         # the fee before paying it
        out = infera.embed(["hello world", "bonjour"])  # verified, unit-length vectors
        out.vectors, out.numpy(), out.to_json()

`InferaClient` is the same API for asyncio (``async with await InferaClient.connect() as c``),
with ``submit`` / ``stream`` / ``reattach`` for many jobs: references from ``submit`` are strings
to persist, and ``reattach`` gets their results after a timeout or a restart without paying again.
Which transport carries the calls is configuration (ClientSettings): ``chain`` signs and pays with
your key; ``relayer`` goes through a relayer's HTTP API, gasless with your key or paid by the
relayer for an API key. Every public method raises only infera.errors.InferaError subclasses.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, Self, TypeVar

import aiohttp
import numpy as np
import numpy.typing as npt
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict
from web3.exceptions import Web3Exception

from infera.chain import Chain, load_account
from infera.deployment import Deployment, load_deployment
from infera.errors import (
    ConfigError,
    InferaError,
    JobRefunded,
    JobTimeout,
    RelayerUnreachable,
    ResultsTimeout,
    RpcUnreachable,
    TransactionFailed,
)
from infera.inputs import InvalidInput, canonical_text, encode_input
from infera.paths import user_data_dir
from infera.results import Embeddings, FeeQuote, JobRef, JobResult, PairCosine
from infera.settings import ChainSettings
from infera.transport import DEFAULT_MODEL, Transport
from infera.transport.chain import MAX_BATCH, ChainTransport
from infera.transport.journal import SubmitJournal
from infera.transport.relayer import RelayerTransport
from infera.types import Job, JobStatus
from infera.vectors import PPM, cosine, unpack

__all__ = ["MAX_BATCH", "ClientSettings", "Embeddings", "FeeQuote", "Infera", "InferaClient", "InvalidInput",
           "JobRef", "JobResult", "PairCosine", "Verification", "validate_inputs"]

P = ParamSpec("P")
T = TypeVar("T")
POLL_S = 0.5


class ClientSettings(ChainSettings):
    """How the client reaches the network (INFERA_* variables or a .env file; keywords override)."""

    model_config = SettingsConfigDict(env_prefix="INFERA_", env_file=".env", extra="ignore")

    transport: Literal["chain", "relayer"] = "chain"
    """chain: sign and pay from your key; relayer: through a relayer's HTTP API."""
    relayer_url: str | None = None
    """The relayer's base URL (http://host:port), for transport=relayer."""
    api_key: SecretStr | None = None
    """A relayer API key (ifr_<id>_<secret>): the relayer pays for requests without a signer."""
    keyfile: Path | None = None
    """An Ethereum keyfile (JSON, as geth and ape write them), with keyfile_password."""
    keyfile_password: SecretStr | None = None
    ape_account: str | None = None
    """The alias of an ape account (`ape accounts list`); its keyfile is decrypted with keyfile_password."""
    deployments_dir: Path | None = None
    state_dir: Path = Field(default_factory=lambda: user_data_dir("client"))
    """Where the chain transport journals the transactions it signed (submits.sqlite), so that a
    submit retried with the same idempotency_key after a crash or a restart is not paid twice.
    Default $XDG_DATA_HOME/infera/client, else ~/.local/share/infera/client."""
    receipt_timeout: float = Field(default=60.0, gt=0)
    """Seconds a submit waits for its transaction's receipt before SubmitUnconfirmed."""
    poll_interval: float = Field(default=POLL_S, gt=0)

    @model_validator(mode="after")
    def _one_signer_and_a_route(self) -> Self:
        chosen = [name for name, value in (("private_key", self.private_key), ("keyfile", self.keyfile),
                                           ("ape_account", self.ape_account)) if value is not None]
        if len(chosen) > 1:
            raise ValueError(f"set one signer, not {' and '.join(chosen)} (INFERA_PRIVATE_KEY, INFERA_KEYFILE or "
                             "INFERA_APE_ACCOUNT)")
        if self.transport == "chain" and not chosen:
            raise ValueError("the chain transport signs with your key: set INFERA_PRIVATE_KEY, INFERA_KEYFILE or "
                             "INFERA_APE_ACCOUNT (or use transport=relayer with an API key)")
        if self.transport == "relayer":
            if not self.relayer_url:
                raise ValueError("transport=relayer needs INFERA_RELAYER_URL (such as http://127.0.0.1:8080)")
            if not chosen and self.api_key is None:
                raise ValueError("transport=relayer needs a signer (gasless: you pay INFER) or INFERA_API_KEY "
                                 "(the relayer pays)")
        return self

    @property
    def has_signer(self) -> bool:
        return any(v is not None for v in (self.private_key, self.keyfile, self.ape_account))


def load_settings(settings: ClientSettings | None, overrides: dict[str, Any]) -> ClientSettings:
    """The settings with keyword overrides applied, validated; a ConfigError that says what to fix."""
    try:
        if settings is None:
            return ClientSettings(**overrides)
        return ClientSettings.model_validate(settings.model_dump() | overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
                             for e in exc.errors(include_url=False))
        raise ConfigError(f"invalid client settings: {problems}") from None


def load_signer(settings: ClientSettings) -> LocalAccount | None:
    """The account that signs, from whichever of the three signer settings is set."""
    if settings.private_key is not None:
        return load_account(settings.private_key.get_secret_value())
    if settings.keyfile is not None:
        return _decrypt(settings.keyfile, settings.keyfile_password, "INFERA_KEYFILE_PASSWORD")
    if settings.ape_account is not None:
        return _decrypt(_ape_keyfile(settings.ape_account), settings.keyfile_password, "INFERA_KEYFILE_PASSWORD")
    return None


def _ape_keyfile(alias: str) -> Path:
    # ape is imported only here: loading it costs seconds and reads its whole plugin set.
    try:
        from ape import accounts
        from ape.exceptions import AccountsError
    except ImportError:
        raise ConfigError("INFERA_APE_ACCOUNT needs ape installed (pip install eth-ape)") from None
    try:
        account = accounts.load(alias)
    except (AccountsError, KeyError, IndexError) as exc:
        raise ConfigError(f"no ape account {alias!r} ({exc}); `ape accounts list` shows them") from None
    path = getattr(account, "keyfile_path", None)
    if path is None:
        raise ConfigError(f"ape account {alias!r} is not a keyfile account; export its key or use INFERA_KEYFILE")
    return Path(path)


def _decrypt(path: Path, password: SecretStr | None, variable: str) -> LocalAccount:
    try:
        keyfile = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read keyfile {path}: {exc}") from None
    if password is None:
        raise ConfigError(f"keyfile {path} is encrypted: set {variable}")
    try:
        return load_account("0x" + bytes(Account.decrypt(keyfile, password.get_secret_value())).hex())
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot decrypt keyfile {path}: {exc} (check {variable})") from None


# ---------------------------------------------------------------- errors
_WRAPPED: tuple[type[BaseException], ...] = (Web3Exception, aiohttp.ClientError, TimeoutError, OSError)


def _as_infera_error(exc: BaseException) -> InferaError:
    """An error of a library below the SDK, as the SDK's own: what failed and what to do."""
    text = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, aiohttp.ClientError):
        return RelayerUnreachable(f"the relayer does not answer ({text}); check INFERA_RELAYER_URL")
    if isinstance(exc, Web3Exception) and not isinstance(exc, TimeoutError):
        return TransactionFailed(f"the chain refused a call ({text})")
    return RpcUnreachable(f"the network does not answer ({text}); check INFERA_RPC_URL and retry")


def _public(fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Let only InferaError subclasses out of a public coroutine."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except InferaError:
            raise
        except _WRAPPED as exc:
            raise _as_infera_error(exc) from exc

    return wrapper


def validate_inputs(texts: Sequence[str]) -> None:
    """Reject what the contract would reject, and text that is not valid Unicode (which no UTF-8
    encoding exists for), with the offending index in the message."""
    if isinstance(texts, str):
        raise InvalidInput("pass a list of texts, not one string")
    if not texts:
        raise InvalidInput("no inputs given")
    for i, text in enumerate(texts):
        encode_input(text, i)


@dataclass(frozen=True)
class Verification:
    """How a result was verified: every revealed vector and their pairwise integer cosines."""

    job_id: int
    threshold: float
    reveals: dict[str, npt.NDArray[np.int8]]
    agreeing: tuple[str, ...]
    pairwise: dict[tuple[str, str], float]

    @property
    def min_agreeing_cosine(self) -> float:
        """Lowest cosine between any two agreeing nodes (1.0 with a single agreeing node)."""
        pairs = [self.pairwise[(a, b)] for a, b in itertools.combinations(self.agreeing, 2)]
        return min(pairs, default=1.0)


# ---------------------------------------------------------------- the client
class InferaClient:
    """Async client. ``await InferaClient.connect(...)`` picks the transport from ClientSettings;
    ``InferaClient(chain)`` wraps an open infera.chain.Chain (the chain transport)."""

    def __init__(self, transport: Transport | Chain, poll_interval: float = POLL_S) -> None:
        self.transport: Transport = ChainTransport(transport) if isinstance(transport, Chain) else transport
        self.poll_interval = poll_interval

    @classmethod
    @_public
    async def connect(cls, settings: ClientSettings | None = None, *, deployment: Deployment | None = None,
                      **overrides: Any) -> InferaClient:
        """Connect as the settings say (INFERA_* variables, a .env file, these keyword overrides)."""
        s = load_settings(settings, overrides)
        signer = load_signer(s)
        if s.transport == "relayer":
            assert s.relayer_url is not None
            chain = None
            if signer is not None:  # gasless requests read the fee and nonces from the chain
                record = deployment or load_deployment(s.network, s.deployments_dir)
                chain = await Chain.connect(s.endpoints(), record, retry_for=s.rpc_retry_for)
            api_key = s.api_key.get_secret_value() if s.api_key else None
            transport: Transport = RelayerTransport(s.relayer_url, api_key, signer, chain, retry_for=s.rpc_retry_for)
        else:
            record = deployment or load_deployment(s.network, s.deployments_dir)
            key = "0x" + bytes(signer.key).hex() if signer is not None else None
            chain = await Chain.connect(s.endpoints(), record, key, retry_for=s.rpc_retry_for)
            transport = ChainTransport(chain, receipt_timeout=s.receipt_timeout,
                                       journal=SubmitJournal(s.state_dir / "submits.sqlite"))
        return cls(transport, s.poll_interval)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    @_public
    async def close(self) -> None:
        await self.transport.close()

    @property
    def chain(self) -> Chain:
        """The chain connection (chain transport only)."""
        if isinstance(self.transport, ChainTransport):
            return self.transport.chain
        raise ConfigError("this client goes through a relayer; it has no chain connection of its own")

    # ------------------------------------------------------------- the API
    @_public
    async def quote(self, texts: int | Sequence[str], model: str | int = DEFAULT_MODEL) -> FeeQuote:
        """What submitting these texts (or this many) costs now, in wei and INFER."""
        jobs = texts if isinstance(texts, int) else len(texts)
        if jobs < 0:
            raise InvalidInput(f"cannot quote {jobs} jobs")
        return await self.transport.quote(model, jobs)

    @_public
    async def submit(self, texts: Sequence[str], model: str | int = DEFAULT_MODEL,
                     idempotency_key: str | None = None) -> list[JobRef]:
        """Submit one job per text and return their references (``str(ref)`` to persist them).
        Retrying with the same `idempotency_key` (after SubmitUnconfirmed, say) never pays twice."""
        validate_inputs(texts)
        return await self.transport.submit(list(texts), model, idempotency_key or uuid.uuid4().hex)

    async def stream(self, texts_or_refs: Sequence[str | JobRef], model: str | int = DEFAULT_MODEL,
                     timeout: float = 600.0) -> AsyncGenerator[JobResult, None]:
        """Each job's result as it becomes final, in completion order. Given texts, they are
        submitted first; given references (JobRef or their strings), nothing is paid. Raises
        ResultsTimeout naming the jobs still open after `timeout` seconds."""
        try:
            refs = await self._refs_of(texts_or_refs, model)
            deadline = time.monotonic() + timeout
            waiting = list(refs)
            while waiting:
                found = {ref.key: result for ref, result in (await self.transport.poll(waiting)).items()}
                for ref in waiting:
                    if ref.key in found:
                        yield found[ref.key]
                waiting = [r for r in waiting if r.key not in found]
                if not waiting:
                    return
                if time.monotonic() > deadline:
                    raise ResultsTimeout(f"{len(waiting)} of {len(refs)} jobs not final after {timeout:.0f} s "
                                         f"(first: {waiting[0]}); reattach to them later", tuple(map(str, waiting)))
                await asyncio.sleep(self.poll_interval)
        except InferaError:
            raise
        except _WRAPPED as exc:
            raise _as_infera_error(exc) from exc

    async def _refs_of(self, items: Sequence[str | JobRef], model: str | int) -> list[JobRef]:
        if isinstance(items, str):
            raise InvalidInput("pass a list of texts or references, not one string")
        if items and all(isinstance(i, JobRef) for i in items):
            return [i for i in items if isinstance(i, JobRef)]
        return await self.submit([str(i) for i in items], model)

    @_public
    async def results(self, refs: Iterable[JobRef | str], timeout: float = 600.0) -> list[JobResult]:
        """The results of these jobs, in the order given, once all are final."""
        wanted = [JobRef.parse(r) for r in refs]
        got = {result.ref.key: result async for result in self.stream(wanted, timeout=timeout)}
        return [got[r.key] for r in wanted]

    @_public
    async def reattach(self, refs: Iterable[JobRef | str], timeout: float = 600.0) -> list[JobResult]:
        """After a timeout or a restart: the results of persisted references, without submitting
        or paying again."""
        return await self.results(refs, timeout)

    @_public
    async def embed(self, texts: Sequence[str], *, model: str | int = DEFAULT_MODEL, timeout: float = 120.0,
                    allow_partial: bool = False, idempotency_key: str | None = None) -> Embeddings:
        """Submit, wait and return verified vectors, in the order of `texts`. A refunded job raises
        JobRefunded (naming it) unless `allow_partial`, which gives None in its place."""
        refs = await self.submit(texts, model, idempotency_key)
        results = await self.results(refs, timeout)
        refunded = [r for r in results if not r.accepted]
        if refunded and not allow_partial:
            names = tuple(str(r.ref) for r in refunded)
            raise JobRefunded(f"{len(refunded)} of {len(results)} jobs were refunded, not verified: "
                              f"{', '.join(names)}; pass allow_partial=True to get None for them", names)
        name = model if isinstance(model, str) else str(model)
        return Embeddings(model=name, results=results)

    # ------------------------------------------- chain-only, kept for callers of the first SDK
    async def submit_texts(self, texts: list[str], model: str | int = DEFAULT_MODEL,
                           callback: bool = False) -> list[int]:
        """Submit on chain and return job ids (the first SDK's call; `submit` is the new one)."""
        validate_inputs(texts)
        transport = self._chain_transport()
        refs = await transport.submit(list(texts), model, uuid.uuid4().hex, callback=callback)
        return [r.job_id for r in refs if r.job_id is not None]

    def _chain_transport(self) -> ChainTransport:
        if not isinstance(self.transport, ChainTransport):
            raise ConfigError("this call reads the chain directly; connect with transport=chain")
        return self.transport

    async def wait_for_job(self, job_id: int, timeout: float = 600.0, poll: float = 0.5) -> Job:
        """Poll until the job is accepted or refunded."""
        deadline = time.monotonic() + timeout
        while True:
            job = await self.chain.get_job(job_id)
            if job.status.terminal:
                return job
            if time.monotonic() > deadline:
                raise JobTimeout(f"job {job_id} still {job.status.name.lower()} after {timeout:.0f}s")
            await asyncio.sleep(poll)

    async def wait_for_result(self, job_id: int, timeout: float = 600.0) -> JobResult:
        await self.wait_for_job(job_id, timeout)
        return await self.result(job_id)

    async def result(self, job_id: int) -> JobResult:
        """The job's outcome as recorded in its events (it must be final)."""
        ref = JobRef(job_id=job_id)
        found = await self._chain_transport().poll([ref])
        if ref not in found:
            job = await self.chain.get_job(job_id)
            raise InferaError(f"job {job_id} is {job.status.name.lower()}, not final (or its event is not "
                              "visible yet); wait_for_result waits for it")
        return found[ref]

    async def input_of(self, job_id: int) -> str:
        return canonical_text(await self.chain.job_input(job_id))

    async def verification(self, job_id: int) -> Verification:
        """Every revealed vector of the job and the integer cosine of each pair."""
        job = await self.chain.get_job(job_id)
        revealed = await self.chain.revealed_vectors(job_id)
        if not revealed:
            raise InferaError(f"no Revealed event for job {job_id}")
        reveals = {node: unpack(vector, job.dimension) for node, vector in revealed.items()}
        pairwise: dict[tuple[str, str], float] = {}
        for a, b in itertools.combinations(reveals, 2):
            pairwise[(a, b)] = pairwise[(b, a)] = cosine(reveals[a], reveals[b])
        agreeing: tuple[str, ...] = ()
        if job.status is JobStatus.ACCEPTED:
            agreeing = tuple((await self.result(job_id)).agreeing)
        return Verification(job_id, job.threshold_ppm / PPM, reveals, agreeing, pairwise)


# ---------------------------------------------------------------- sync
class Infera:
    """The blocking client: InferaClient's methods, run on an event loop of its own in a
    background thread, so it works where the calling thread already runs a loop (Jupyter)."""

    def __init__(self, settings: ClientSettings | None = None, *, deployment: Deployment | None = None,
                 **overrides: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="infera-client", daemon=True)
        self._thread.start()
        try:
            self._client = self._run(InferaClient.connect(settings, deployment=deployment, **overrides))
        except BaseException:
            self._stop_loop()
            raise

    @classmethod
    def connect(cls, settings: ClientSettings | None = None, *, deployment: Deployment | None = None,
                **overrides: Any) -> Infera:
        return cls(settings, deployment=deployment, **overrides)

    @property
    def client(self) -> InferaClient:
        """The async client underneath (its coroutines run on this object's loop only)."""
        return self._client

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if not self._loop.is_running():
            coro.close()
            raise InferaError("this Infera client is closed; connect a new one")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C in the caller: stop the call too
            raise

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await one of `client`'s coroutines from another event loop (the caller's): it runs on
        this object's loop, and the caller's loop is not blocked meanwhile."""
        if not self._loop.is_running():
            coro.close()
            raise InferaError("this Infera client is closed; connect a new one")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_running():
            try:
                self._run(self._client.close())
            finally:
                self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def quote(self, texts: int | Sequence[str], model: str | int = DEFAULT_MODEL) -> FeeQuote:
        return self._run(self._client.quote(texts, model))

    def submit(self, texts: Sequence[str], model: str | int = DEFAULT_MODEL,
               idempotency_key: str | None = None) -> list[JobRef]:
        return self._run(self._client.submit(texts, model, idempotency_key))

    def results(self, refs: Iterable[JobRef | str], timeout: float = 600.0) -> list[JobResult]:
        return self._run(self._client.results(list(refs), timeout))

    def reattach(self, refs: Iterable[JobRef | str], timeout: float = 600.0) -> list[JobResult]:
        return self._run(self._client.reattach(list(refs), timeout))

    def embed(self, texts: Sequence[str], *, model: str | int = DEFAULT_MODEL, timeout: float = 120.0,
              allow_partial: bool = False, idempotency_key: str | None = None) -> Embeddings:
        return self._run(self._client.embed(texts, model=model, timeout=timeout, allow_partial=allow_partial,
                                            idempotency_key=idempotency_key))

    def stream(self, texts_or_refs: Sequence[str | JobRef], model: str | int = DEFAULT_MODEL,
               timeout: float = 600.0) -> Iterator[JobResult]:
        """Results in completion order, as InferaClient.stream."""
        agen = self._client.stream(texts_or_refs, model, timeout)
        try:
            while True:
                try:
                    yield self._run(_next(agen))
                except StopAsyncIteration:
                    return
        finally:
            if self._loop.is_running():
                self._run(agen.aclose())


async def _next(agen: AsyncIterator[T]) -> T:
    return await agen.__anext__()

