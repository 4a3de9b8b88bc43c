"""The HTTP API (aiohttp). Every route is declared once in `routes()`, with the pydantic models it
takes and returns; the OpenAPI document at /openapi.json is generated from that table.

Every client mistake is a 4xx with an ErrorResponse body, never a 5xx: the middleware turns
aiohttp's own refusals (unknown route, wrong method, body over the size limit) into the same
JSON shape, and only a fault of ours is a 500.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, cast

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError

from infera.chain import Chain
from infera.deployment import Deployment
from infera.errors import RpcUnreachable
from infera.gasless import Domains, GaslessRejected, SignedGaslessRequest, gas_for, verify_gasless
from infera.operator import REP_ONE
from infera.vectors import PPM
from relayer.dashboard import ChainFeed
from relayer.keys import MalformedKey, RateLimiter, parse_key, secret_matches
from relayer.metrics import CONTENT_TYPE, RelayerMetrics
from relayer.models import (
    Cosine,
    DashboardResponse,
    ErrorBody,
    ErrorResponse,
    HealthResponse,
    JobTransactions,
    JobView,
    ModelsResponse,
    ModelView,
    NodesResponse,
    NodeView,
    RequestState,
    RequestView,
    StatsResponse,
    SubmitJobsRequest,
    SubmitJobsResponse,
)
from relayer.openapi import Route, build_openapi, with_models
from relayer.settings import RelayerSettings
from relayer.store import IdempotencyConflict, KeyRecord, NonceQueued, QuotaExceeded, RequestRecord, Store

log = structlog.get_logger("relayer")
VERSION = "1.0.0"
SSE_POLL_S = 0.5
SSE_KEEPALIVE_S = 15.0
NODES_CACHE_S = 5.0
_JOB_ORDER = ("pending", "drawing", "committing", "revealing")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


@dataclass
class Liveness:
    """When each loop last finished a tick (Unix time), for /health."""

    submitter: float | None = None
    tracker: float | None = None
    head: int | None = None
    started: float = field(default_factory=time.time)


@dataclass
class Services:
    settings: RelayerSettings
    store: Store
    deployment: Deployment
    chain: Chain | None  # None: an API without chain reads (tests of the HTTP layer alone)
    metrics: RelayerMetrics = field(default_factory=RelayerMetrics)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    liveness: Liveness = field(default_factory=Liveness)
    _nodes_cache: tuple[float, NodesResponse] | None = None
    _feed: ChainFeed | None = None  # created on the first dashboard read


SERVICES = web.AppKey("services", Services)


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json",
                        headers=headers)


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
           headers: dict[str, str] | None = None) -> web.Response:
    return _json(ErrorResponse(error=ErrorBody(code=code, message=message, details=details)), status, headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 400: "bad_request"}


@web.middleware
async def errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    services = request.app[SERVICES]
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        services.metrics.client_errors.labels(code=exc.code).inc()
        return _error(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        services.metrics.client_errors.labels(code=code).inc()
        message = exc.reason if exc.status != 413 else f"the body is over {services.settings.max_body_bytes} bytes"
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _error(exc.status, code, message, headers=headers)
    except asyncio.CancelledError:
        raise
    except (DBAPIError, RpcUnreachable) as exc:
        # Ours, and passing: the caller may retry (nothing was stored: a request is stored in
        # one transaction or not at all).
        what = "queue database" if isinstance(exc, DBAPIError) else "chain RPC"
        log.warning("dependency unavailable", what=what, path=request.path, error=str(exc).splitlines()[0][:200])
        return _error(503, "unavailable", f"the relayer's {what} is unavailable; retry shortly",
                      headers={"Retry-After": "5"})
    except Exception:
        log.exception("request failed", path=request.path, method=request.method)
        return _error(500, "internal", "the relayer failed on this request; it is logged")


def cors(origins: list[str]) -> Any:
    allowed = set(origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        ok = origin is not None and ("*" in allowed or origin in allowed)
        if request.method == "OPTIONS" and ok and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if ok and origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-API-Key, Idempotency-Key"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Expose-Headers"] = "Location, Retry-After"
        return response

    return middleware


# ------------------------------------------------------------------------ auth
async def authenticate(request: web.Request) -> KeyRecord:
    services = request.app[SERVICES]
    header = request.headers.get("Authorization", "")
    presented = header[7:] if header.lower().startswith("bearer ") else request.headers.get("X-API-Key", "")
    if not presented:
        raise ApiError(401, "missing_api_key", "send an API key: Authorization: Bearer ifr_<id>_<secret>",
                       headers={"WWW-Authenticate": "Bearer"})
    try:
        key_id, secret = parse_key(presented)
    except MalformedKey as exc:
        raise ApiError(401, "invalid_api_key", str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    key = await services.store.get_key(key_id)
    if key is None or not secret_matches(secret, key.secret_hash):
        raise ApiError(401, "invalid_api_key", "unknown API key", headers={"WWW-Authenticate": "Bearer"})
    if key.revoked:
        raise ApiError(403, "key_revoked", "this API key was revoked")
    wait = services.limiter.take(key.key_id, key.rate_per_minute)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"more than {key.rate_per_minute} requests a minute",
                       headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    return key


# ------------------------------------------------------------------- handlers
async def _read_json(request: web.Request) -> Any:
    services = request.app[SERVICES]
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       f"send Content-Type: application/json, not {request.content_type or 'nothing'}")
    if request.content_length is not None and request.content_length > services.settings.max_body_bytes:
        raise ApiError(413, "body_too_large", f"the body is over {services.settings.max_body_bytes} bytes")
    raw = await request.read()  # aiohttp refuses a body over client_max_size with 413
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_utf8", f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not JSON: {exc.msg} at line {exc.lineno} "
                                              f"column {exc.colno}") from None


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]


async def submit_jobs(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    key = await authenticate(request)
    body = await _read_json(request)
    try:
        submitted = SubmitJobsRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", "the request body is not valid", _validation_details(exc)) from None
    if len(submitted.texts) > services.settings.max_texts_per_request:
        raise ApiError(422, "too_many_texts",
                       f"{len(submitted.texts)} texts; this relayer takes {services.settings.max_texts_per_request}")
    model_id = services.deployment.models.get(submitted.model)
    if model_id is None:
        known = ", ".join(sorted(services.deployment.models)) or "none"
        raise ApiError(422, "unknown_model", f"model {submitted.model!r} is not served here (known: {known})")
    idempotency = request.headers.get("Idempotency-Key") or submitted.idempotency_key
    if idempotency is not None and not 0 < len(idempotency) <= 200:
        raise ApiError(422, "invalid_idempotency_key", "an idempotency key is 1 to 200 characters")
    try:
        request_id, created = await services.store.enqueue(key.key_id, submitted.model, model_id, submitted.texts,
                                                           idempotency)
    except QuotaExceeded as exc:
        raise ApiError(403, "quota_exceeded", str(exc)) from None
    except IdempotencyConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    services.metrics.requests.labels(outcome="accepted" if created else "replayed").inc()
    log.info("request stored", request_id=request_id, key_id=key.key_id, texts=len(submitted.texts), created=created)
    return await _accepted(services, request_id)


# A signature that is not `from`'s is an authentication failure (401), judged before anything
# else; every other mistake in a request its signer did sign is a 422.
_GASLESS_STATUS = {"bad_signature": 401, "bad_permit_signature": 401}


async def submit_gasless(request: web.Request) -> web.StreamResponse:
    """A request signed by its user (infera.gasless): checked in full before the 202, so that the
    relayer never pays gas for a call that cannot run, and relayed with executeBatch."""
    services = request.app[SERVICES]
    body = await _read_json(request)
    try:
        signed = SignedGaslessRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", "the request body is not valid", _validation_details(exc)) from None
    wait = services.limiter.take("gasless:" + signed.from_.lower(), services.settings.gasless_rate_per_minute)
    if wait > 0:
        raise ApiError(429, "rate_limited", f"more than {services.settings.gasless_rate_per_minute} gasless "
                       "requests a minute from this signer", headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    chain = _chain(services)
    c = services.deployment.contracts
    domains = Domains(services.deployment.chain_id, c.InferaForwarder, c.JobRegistry, c.InferToken)
    try:
        verified = verify_gasless(signed, domains, now=await chain.timestamp(),
                                  min_ttl=services.settings.gasless_min_ttl)
    except GaslessRejected as exc:
        raise ApiError(_GASLESS_STATUS.get(exc.code, 422), exc.code, str(exc)) from None
    replayed = await services.store.gasless_replay(verified.sender, signed.nonce, signed.signature)
    if replayed is not None:  # the same signed request again (its first answer was lost): same request
        return await _gasless_accepted(services, replayed, created=False)
    if len(signed.texts) > services.settings.max_texts_per_request:
        raise ApiError(422, "too_many_texts",
                       f"{len(signed.texts)} texts; this relayer takes {services.settings.max_texts_per_request}")
    names = {model_id: name for name, model_id in services.deployment.models.items()}
    if signed.model_id not in names:
        known = ", ".join(f"{n} ({i})" for i, n in sorted(names.items())) or "none"
        raise ApiError(422, "unknown_model", f"model id {signed.model_id} is not served here (known: {known})")
    low, high = gas_for(len(signed.texts)), 2 * gas_for(len(signed.texts))
    if not low <= signed.gas <= high:
        raise ApiError(422, "bad_gas", f"the request's gas {signed.gas} is outside {low} to {high} for "
                                       f"{len(signed.texts)} texts (infera.gasless.gas_for)")
    await _check_gasless_on_chain(chain, verified.sender, signed)
    try:
        request_id = await services.store.enqueue_gasless(verified.sender, signed.nonce, names[signed.model_id],
                                                          signed.model_id, signed.texts,
                                                          signed.model_dump(mode="json", by_alias=True))
    except NonceQueued as exc:
        raced = await services.store.gasless_replay(verified.sender, signed.nonce, signed.signature)
        if raced is not None:  # the same request, posted twice at once: one row, one answer
            return await _gasless_accepted(services, raced, created=False)
        raise ApiError(409, "nonce_queued", f"{exc}; wait for it, or sign the next nonce after it") from None
    log.info("gasless request stored", request_id=request_id, signer=verified.sender, nonce=signed.nonce,
             texts=len(signed.texts))
    return await _gasless_accepted(services, request_id, created=True)


async def _gasless_accepted(services: Services, request_id: str, created: bool) -> web.StreamResponse:
    services.metrics.requests.labels(outcome="gasless" if created else "replayed").inc()
    return await _accepted(services, request_id)


async def _accepted(services: Services, request_id: str) -> web.StreamResponse:
    """202 for a stored request (new or replayed): where to follow it, and what it holds now."""
    record = await services.store.get_request(request_id)
    assert record is not None
    location = f"/v1/jobs/{request_id}"
    return _json(SubmitJobsResponse(request_id=request_id, status=_state(record.state), jobs=len(record.jobs),
                                    links={"self": location, "events": f"{location}/events"}),
                 202, {"Location": location})


async def _check_gasless_on_chain(chain: Chain, sender: str, signed: SignedGaslessRequest) -> None:
    """What the signatures cannot tell: the nonces are the current ones, the fee is the model's,
    and the signer holds it."""
    forwarder_nonce = int(await chain.forwarder.functions.nonces(sender).call())
    if signed.nonce < forwarder_nonce:
        raise ApiError(409, "nonce_used", f"forwarder nonce {signed.nonce} of {sender} is used already (next: "
                                          f"{forwarder_nonce}); a signed request runs once")
    if signed.nonce > forwarder_nonce:
        raise ApiError(409, "nonce_ahead", f"forwarder nonce {signed.nonce} is ahead of {sender}'s next one, "
                                           f"{forwarder_nonce}: it could not run yet")
    model = await chain.get_model(signed.model_id)
    if not model.active:
        raise ApiError(422, "model_inactive", f"model {signed.model_id} is not active")
    if int(signed.max_fee_per_job) != model.fee:
        raise ApiError(422, "fee_mismatch", f"the request is signed for {signed.max_fee_per_job} wei a job; the "
                                            f"model's fee is {model.fee} wei: sign again for that fee")
    fee = model.fee * len(signed.texts)
    token_nonce = int(await chain.token.functions.nonces(sender).call())
    if signed.permit.nonce != token_nonce:
        # A permit already spent (front-run) is fine while the allowance it gave is still there.
        allowance = int(await chain.token.functions.allowance(sender, chain.jobs.address).call())
        if allowance < fee:
            raise ApiError(422, "bad_permit", f"the permit's nonce {signed.permit.nonce} is not {sender}'s next "
                                              f"token nonce {token_nonce}; sign a new permit")
    balance = await chain.balance_of(sender)
    if balance < fee:
        raise ApiError(422, "insufficient_balance", f"{sender} holds {balance} wei of INFER; the fee is {fee}")


def _state(state: str) -> RequestState:
    # The store's states are the API's (relayer.store's module docstring lists them).
    return cast(RequestState, state)


async def _owned_request(request: web.Request) -> RequestRecord:
    services = request.app[SERVICES]
    record = await services.store.get_request(request.match_info["request_id"])
    # A gasless request needs no key: its id (random) is the capability, and what it shows is on
    # chain already (its signer, texts and jobs).
    if record is not None and record.kind == "gasless":
        return record
    key = await authenticate(request)
    # Another key's request reads as missing: ids must not tell who else uses the relayer.
    if record is None or record.key_id != key.key_id:
        raise ApiError(404, "not_found", f"no request {request.match_info['request_id']!r} for this key")
    return record


def request_view(record: RequestRecord, now: float) -> RequestView:
    jobs = [_job_view(j.idx, j.job_id, j.status, j.result, record.submit_tx) for j in record.jobs]
    return RequestView(request_id=record.request_id, model=record.model, status=_state(record.state),
                       phase=_phase(record, now), attempts=record.attempts, last_error=record.last_error,
                       created_at=record.created_at, updated_at=record.updated_at, jobs=jobs)


def _phase(record: RequestRecord, now: float) -> str:
    if record.state == "queued":
        return "backoff" if record.attempts and record.next_attempt_at > now else "queue"
    if record.state in ("claimed", "sent"):
        return "transaction"
    if record.state == "failed":
        return "final"
    open_states = [j.status for j in record.jobs if j.status in _JOB_ORDER]
    if not open_states:
        return "final"
    return min(open_states, key=_JOB_ORDER.index)


def _job_view(idx: int, job_id: int | None, status: str, result: dict[str, Any] | None, submit_tx: str | None) -> JobView:
    r = result or {}
    return JobView(
        index=idx, job_id=job_id, status=status,  # type: ignore[arg-type]
        result_hash=r.get("result_hash"), vector=r.get("vector"), agreeing=r.get("agreeing", []),
        cosines=[Cosine(**c) for c in r.get("cosines", [])], threshold=r.get("threshold"),
        transactions=JobTransactions(submit=submit_tx, final=r.get("final_tx")))


async def get_job(request: web.Request) -> web.StreamResponse:
    return _json(request_view(await _owned_request(request), time.time()))


async def job_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: an `update` each time the request changes, then `final`."""
    services = request.app[SERVICES]
    record = await _owned_request(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    try:
        await _stream(services, record, response)
    except ConnectionError:
        pass  # the client went away: nothing to finish
    return response


async def _stream(services: Services, record: RequestRecord, response: web.StreamResponse) -> None:
    last = ""
    quiet_since = time.monotonic()
    while True:
        view = request_view(record, time.time())
        payload = view.model_dump_json()
        if payload != last:
            final = view.status == "completed"
            await response.write(f"event: {'final' if final else 'update'}\ndata: {payload}\n\n".encode())
            last, quiet_since = payload, time.monotonic()
            if final:
                break
        elif time.monotonic() - quiet_since > SSE_KEEPALIVE_S:
            await response.write(b": keep-alive\n\n")  # proxies drop idle streams
            quiet_since = time.monotonic()
        await asyncio.sleep(SSE_POLL_S)
        refreshed = await services.store.get_request(record.request_id)
        assert refreshed is not None  # requests are never deleted
        record = refreshed
    await response.write_eof()


def _chain(services: Services) -> Chain:
    if services.chain is None:
        raise ApiError(503, "no_chain", "this relayer runs without a chain connection")
    return services.chain


async def list_models(request: web.Request) -> web.StreamResponse:
    return _json(await _models(request.app[SERVICES]))


async def _models(services: Services) -> ModelsResponse:
    chain = _chain(services)
    out = []
    for name, model_id in sorted(services.deployment.models.items()):
        m = await chain.get_model(model_id)
        out.append(ModelView(name=name, model_id=model_id, active=m.active, fee_wei=str(m.fee), dimension=m.dimension,
                             threshold=m.threshold_ppm / PPM, quorum=m.quorum, min_agreement=m.min_agreement))
    return ModelsResponse(models=out)


async def list_nodes(request: web.Request) -> web.StreamResponse:
    return _json(await _nodes(request.app[SERVICES]))


async def _nodes(services: Services) -> NodesResponse:
    cached = services._nodes_cache
    if cached is not None and time.monotonic() - cached[0] < NODES_CACHE_S:
        return cached[1]
    nodes = await _read_nodes(_chain(services))
    services._nodes_cache = (time.monotonic(), nodes)
    return nodes


async def _read_nodes(chain: Chain) -> NodesResponse:
    count = int(await chain.nodes.functions.nodeCount().call())
    addresses = [str(await chain.nodes.functions.nodeAt(i).call()) for i in range(1, count + 1)]
    addresses = [a for a in addresses if int(a, 16) != 0]  # a released slot reads as address(0)
    start = chain.deployment.deployment_block
    earned: dict[str, int] = {}
    for e in await chain.logs(chain.jobs, "JobAccepted", start):
        share = int(e["args"]["feeEach"]) + int(e["args"]["slashRewardEach"])
        for node in map(str, e["args"]["agreeing"]):
            earned[node] = earned.get(node, 0) + share
    slashes: dict[str, list[int]] = {}
    for e in await chain.logs(chain.nodes, "NodeSlashed", start):
        slashes.setdefault(str(e["args"]["node"]), []).append(int(e["args"]["amount"]))
    out = []
    for address in addresses:
        info = await chain.get_node(address)
        out.append(NodeView(address=address, stake_wei=str(info.stake), reputation=info.reputation / REP_ONE,
                            capacity=info.capacity, open_jobs=info.open_jobs, ejected=info.ejected_at != 0,
                            earnings_wei=str(earned.get(address, 0)), slashes=len(slashes.get(address, [])),
                            slashed_wei=str(sum(slashes.get(address, [])))))
    return NodesResponse(nodes=out)


async def stats(request: web.Request) -> web.StreamResponse:
    return _json(await _stats(request.app[SERVICES]))


async def _stats(services: Services) -> StatsResponse:
    s = await services.store.stats()
    per_batch = s["jobs_in_mined_batches"] / s["batches_mined"] if s["batches_mined"] else None
    return StatsResponse(**s, jobs_per_batch=per_batch)


def _feed(services: Services) -> ChainFeed:
    if services._feed is None:
        names = {model_id: name for name, model_id in services.deployment.models.items()}
        services._feed = ChainFeed(_chain(services), names)
    return services._feed


async def dashboard_data(request: web.Request) -> web.StreamResponse:
    """Public network data only, so no key: what the chain shows anyone, and the queue's
    aggregate figures (/v1/stats is open too); no request, text or key of any client."""
    services = request.app[SERVICES]
    feed = _feed(services)
    await feed.refresh()
    return _json(DashboardResponse(head=feed.head, jobs=feed.job_views(), totals=dict(feed.totals),
                                   nodes=(await _nodes(services)).nodes, models=(await _models(services)).models,
                                   slashes=list(feed.slashes), series=list(feed.series), queue=await _stats(services)))


async def dashboard(request: web.Request) -> web.StreamResponse:
    return _static_html("dashboard.html")


async def health(request: web.Request) -> web.StreamResponse:
    """200 while the queue answers and both loops turn; 503 (status degraded) otherwise."""
    services = request.app[SERVICES]
    try:
        await services.store.ping()
        database = True
    except Exception:  # noqa: BLE001 - any failure means the queue is unreachable
        database = False
    now = time.time()
    live = services.liveness
    ages = [None if t is None else round(now - t, 3) for t in (live.submitter, live.tracker)]
    # A loop that has not finished a tick for this long is stuck (or its RPC is down): a 503 lets
    # an orchestrator restart the process, which resumes from the queue.
    stalled = any(now - (t if t is not None else live.started) > services.settings.health_stall_after
                  for t in (live.submitter, live.tracker))
    healthy = database and not stalled
    body = HealthResponse(status="ok" if healthy else "degraded", database=database, chain_head=live.head,
                          submitter_seconds_since_tick=ages[0], tracker_seconds_since_tick=ages[1])
    return _json(body, 200 if healthy else 503)


async def metrics(request: web.Request) -> web.StreamResponse:
    return web.Response(body=request.app[SERVICES].metrics.render(), headers={"Content-Type": CONTENT_TYPE})


async def openapi_json(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[OPENAPI])


async def docs(request: web.Request) -> web.StreamResponse:
    return _static_html("docs.html")


def _static_html(name: str) -> web.Response:
    html = files("relayer").joinpath(f"static/{name}").read_text()
    return web.Response(text=html, content_type="text/html")


OPENAPI = web.AppKey("openapi", dict)


def routes() -> list[Route]:
    return [
        Route("POST", "/v1/jobs", submit_jobs, "Queue texts for verified embedding; 202 once stored durably",
              {202: SubmitJobsResponse}, body=SubmitJobsRequest, errors=(400, 403, 409, 413, 415, 422)),
        Route("POST", "/v1/jobs/gasless", submit_gasless, "Queue a request signed by its user (infera.gasless): the "
              "user pays the fee by permit, the relayer pays gas; 202 once verified and stored",
              {202: SubmitJobsResponse}, body=SignedGaslessRequest, auth=False, errors=(400, 401, 409, 413, 415, 422, 429)),
        Route("GET", "/v1/jobs/{request_id}", get_job, "A request: status, phase, results, agreeing nodes, cosines",
              {200: RequestView}, errors=(404,)),
        Route("GET", "/v1/jobs/{request_id}/events", job_events, "Server-sent events until the request is final",
              {200: "text/event-stream"}, errors=(404,)),
        Route("GET", "/v1/models", list_models, "Models served, with fee and verification terms",
              {200: ModelsResponse}, auth=False, tags=("network",)),
        Route("GET", "/v1/nodes", list_nodes, "Nodes: stake, reputation, open jobs, earnings, slashes",
              {200: NodesResponse}, auth=False, tags=("network",)),
        Route("GET", "/v1/stats", stats, "Queue and batching figures", {200: StatsResponse}, auth=False,
              tags=("network",)),
        Route("GET", "/v1/dashboard", dashboard_data, "Recent jobs and phases, nodes, models, slashes and "
              "accepted jobs and gas per block, for the dashboard", {200: DashboardResponse}, auth=False,
              tags=("network",)),
        Route("GET", "/health", health, "Liveness: database reachable, loops ticking", {200: HealthResponse},
              auth=False, tags=("ops",)),
        Route("GET", "/metrics", metrics, "Prometheus metrics", {200: CONTENT_TYPE}, auth=False, tags=("ops",)),
        Route("GET", "/openapi.json", openapi_json, "This API's OpenAPI 3.1 document", {200: "application/json"},
              auth=False, tags=("ops",)),
        Route("GET", "/docs", docs, "Human-readable API reference", {200: "text/html"}, auth=False, tags=("ops",)),
        Route("GET", "/dashboard", dashboard, "Live network dashboard (polls /v1/dashboard)", {200: "text/html"},
              auth=False, tags=("ops",)),
    ]


def make_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=services.settings.max_body_bytes,
                          middlewares=[cors(services.settings.cors_origins), errors_as_json])
    app[SERVICES] = services
    table = routes()
    app[OPENAPI] = with_models(build_openapi(table, "Infera relayer", VERSION), list(services.deployment.models))
    for r in table:
        app.router.add_route(r.method, r.path, r.handler)
    return app
