"""Through a relayer's HTTP API (relayer/app.py).

Two ways to pay. With an API key and no signer, texts go to ``POST /v1/jobs`` and the relayer
pays fee and gas; every attempt of one submit call carries the same ``Idempotency-Key``, so a
retry after a lost response gets the stored request back instead of a second one. With a signer,
each request is gasless (infera.gasless): the user signs a permit for exactly the fee and an
ERC-2771 forward request, pays INFER and no gas, and ``POST /v1/jobs/gasless`` relays it; the
forwarder's nonce makes a signed request run at most once, however often it is posted.

Results are read with ``GET /v1/jobs/{request_id}`` (one read for all the jobs of a request).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import aiohttp
import structlog
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, ValidationError

from infera.chain import Chain
from infera.errors import (
    InferaError,
    RelayerRejected,
    RelayerUnreachable,
    RequestFailed,
    SubmitUnconfirmed,
    UnknownModel,
)
from infera.gasless import prepare_gasless, sign_gasless
from infera.results import FeeQuote, JobRef, JobResult

log = structlog.get_logger("infera.client")
M = TypeVar("M", bound=BaseModel)
MAX_BATCH = 64  # texts per relayer request (its MAX_BATCH)
FINAL_JOB_STATES = ("accepted", "refunded")
RETRY_STATUSES = (429, 502, 503, 504)


class _Answer(BaseModel):
    # The fields read here of relayer/models.py's bodies; the SDK does not import the relayer.
    model_config = ConfigDict(extra="ignore")


class _Model(_Answer):
    name: str
    model_id: int
    fee_wei: int


class _Models(_Answer):
    models: list[_Model]


class _Submitted(_Answer):
    request_id: str
    jobs: int


class _Job(_Answer):
    index: int
    job_id: int | None
    status: str
    result_hash: str | None = None
    vector: list[int] | None = None
    agreeing: list[str] = []
    threshold: float | None = None
    cosines: list[dict[str, Any]] = []


class _Request(_Answer):
    request_id: str
    status: str
    last_error: str | None = None
    jobs: list[_Job]


class RelayerTransport:
    name = "relayer"

    def __init__(self, url: str, api_key: str | None = None, signer: LocalAccount | None = None,
                 chain: Chain | None = None, retry_for: float = 30.0, request_timeout: float = 15.0) -> None:
        """`chain` (read-only) is needed for gasless requests: the fee, the nonces and the chain's time."""
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.signer = signer
        self.chain = chain
        self.retry_for = retry_for
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=request_timeout))
        self._texts: dict[tuple[str | None, int | None], str] = {}
        self._submitted: dict[str, list[JobRef]] = {}

    async def close(self) -> None:
        await self._http.close()
        if self.chain is not None:
            await self.chain.close()

    # ------------------------------------------------------------------- HTTP
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return headers | (extra or {})

    async def _call(self, shape: type[M], method: str, path: str, body: Any = None,
                    headers: dict[str, str] | None = None) -> M:
        """`_request`, its answer read as `shape`; another shape is not this API (a wrong URL)."""
        _, payload = await self._request(method, path, body, headers)
        try:
            return shape.model_validate(payload)
        except ValidationError as exc:
            raise RelayerRejected(200, "unexpected_answer", f"{self.url}{path} did not answer as an Infera relayer "
                                  f"({exc.error_count()} problems, first: {exc.errors()[0]['msg']}); check "
                                  "INFERA_RELAYER_URL") from None

    async def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                       retry: bool = True) -> tuple[int, Any]:
        """One call, retried through connection errors, timeouts and 429/5xx for `retry_for`
        seconds (with the same body and headers, so an idempotent request stays one request).
        4xx answers raise RelayerRejected."""
        deadline = time.monotonic() + self.retry_for
        delay = 0.2
        while True:
            try:
                async with self._http.request(method, self.url + path, json=body, headers=self._headers(headers)) as r:
                    payload = await r.json(content_type=None)
                    if r.status < 400:
                        return r.status, payload
                    error = (payload or {}).get("error", {}) if isinstance(payload, dict) else {}
                    code, message = str(error.get("code", "http_error")), str(error.get("message", payload))
                    if r.status not in RETRY_STATUSES:
                        raise RelayerRejected(r.status, code, message)
                    failure = f"HTTP {r.status} {code}: {message}"
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            if not retry or time.monotonic() + delay > deadline:
                raise RelayerUnreachable(f"relayer {self.url} {method} {path} failed for {self.retry_for:.0f} s "
                                         f"({failure}); check INFERA_RELAYER_URL and that the relayer runs")
            log.info("relayer call failed; retrying", path=path, error=failure[:200])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    # ------------------------------------------------------------------ quote
    async def quote(self, model: str | int, jobs: int) -> FeeQuote:
        served = (await self._call(_Models, "GET", "/v1/models")).models
        for m in served:
            if model in (m.name, m.model_id, str(m.model_id)):
                return FeeQuote(model=m.name, model_id=m.model_id, jobs=jobs, fee_per_job_wei=m.fee_wei,
                                total_wei=m.fee_wei * jobs)
        known = ", ".join(m.name for m in served) or "none"
        raise UnknownModel(f"model {model!r} is not served by relayer {self.url} (known: {known})")

    # ----------------------------------------------------------------- submit
    async def submit(self, texts: Sequence[str], model: str | int, idempotency_key: str) -> list[JobRef]:
        if idempotency_key in self._submitted:
            return self._submitted[idempotency_key]
        if self.signer is not None:
            refs = await self._submit_gasless(list(texts), model, idempotency_key)
        else:
            refs = await self._submit_paid(list(texts), model, idempotency_key)
        for ref, text in zip(refs, texts, strict=True):
            self._texts[ref.key] = text
        self._submitted[idempotency_key] = refs
        return refs

    async def _model_name(self, model: str | int) -> str:
        return (await self.quote(model, 0)).model if not isinstance(model, str) or model.isdigit() else model

    async def _submit_paid(self, texts: list[str], model: str | int, idempotency_key: str) -> list[JobRef]:
        if not self.api_key:
            raise InferaError("the relayer transport needs INFERA_API_KEY (the relayer pays) or a signer "
                              "(INFERA_PRIVATE_KEY, INFERA_KEYFILE or INFERA_APE_ACCOUNT: gasless, you pay INFER)")
        name = await self._model_name(model)
        refs: list[JobRef] = []
        for n, start in enumerate(range(0, len(texts), MAX_BATCH)):
            key = idempotency_key if len(texts) <= MAX_BATCH else f"{idempotency_key}/{n}"
            answer = await self._call(_Submitted, "POST", "/v1/jobs",
                                      {"model": name, "texts": texts[start:start + MAX_BATCH]}, {"Idempotency-Key": key})
            refs.extend(JobRef(request_id=answer.request_id, index=i) for i in range(answer.jobs))
        return refs

    async def _submit_gasless(self, texts: list[str], model: str | int, idempotency_key: str) -> list[JobRef]:
        """One signed request per 64 texts. The forwarder's nonces are sequential and the relayer
        takes only the next one, so each request waits for the one before it to be relayed."""
        assert self.signer is not None
        if self.chain is None:
            raise InferaError("gasless requests read the fee and nonces from the chain: set INFERA_RPC_URL")
        refs: list[JobRef] = []
        for start in range(0, len(texts), MAX_BATCH):
            draft = await prepare_gasless(self.chain, self.signer.address, model, texts[start:start + MAX_BATCH])
            signed = sign_gasless(self.signer, draft)
            body = signed.model_dump(mode="json", by_alias=True)
            try:
                answer = await self._call(_Submitted, "POST", "/v1/jobs/gasless", body)
            except RelayerRejected as exc:
                if exc.code in ("nonce_queued", "nonce_used") and start == 0:
                    raise SubmitUnconfirmed(
                        f"the relayer has a request with forwarder nonce {draft.forwarder_nonce} of "
                        f"{self.signer.address} already (a retry whose first answer was lost): it runs once, "
                        f"and was not signed again ({exc})", idempotency_key) from exc
                raise
            refs.extend(JobRef(request_id=answer.request_id, index=i) for i in range(answer.jobs))
            if start + MAX_BATCH < len(texts):
                await self._wait_nonce_used(draft.forwarder_nonce)
        return refs

    async def _wait_nonce_used(self, nonce: int, timeout: float = 300.0) -> None:
        assert self.chain is not None and self.signer is not None
        deadline = time.monotonic() + timeout
        while int(await self.chain.forwarder.functions.nonces(self.signer.address).call()) <= nonce:
            if time.monotonic() > deadline:
                raise SubmitUnconfirmed(f"gasless request with nonce {nonce} not relayed in {timeout:.0f} s", "")
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------- poll
    async def poll(self, refs: Sequence[JobRef]) -> dict[JobRef, JobResult]:
        by_request: dict[str, list[JobRef]] = {}
        for ref in refs:
            if ref.request_id is None:
                raise InferaError(f"{ref} is a chain job reference; read it with the chain transport")
            by_request.setdefault(ref.request_id, []).append(ref)
        out: dict[JobRef, JobResult] = {}
        views = await asyncio.gather(*(self._call(_Request, "GET", f"/v1/jobs/{rid}") for rid in by_request))
        for (request_id, wanted), view in zip(by_request.items(), views, strict=True):
            if view.status == "failed":
                raise RequestFailed(f"relayer request {request_id} failed before its jobs were on chain (nothing "
                                    f"was charged): {view.last_error}")
            jobs = {j.index: j for j in view.jobs}
            for ref in wanted:
                job = jobs.get(ref.index or 0)
                if job is None:
                    raise InferaError(f"relayer request {request_id} has no job {ref.index}")
                if job.status in FINAL_JOB_STATES:
                    out[ref] = self._result(ref, job)
        return out

    def _result(self, ref: JobRef, job: _Job) -> JobResult:
        return JobResult.model_validate({
            **job.model_dump(exclude={"index"}), "input": self._texts.get(ref.key),
            "ref": JobRef(request_id=ref.request_id, index=ref.index, job_id=job.job_id)})
