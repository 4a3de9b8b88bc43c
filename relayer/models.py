"""Every request and response body of the HTTP API, as pydantic models: the handlers validate
and serialise with them, and relayer.openapi builds the OpenAPI document from them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from infera.inputs import MAX_INPUT_BYTES, encode_input
from relayer.settings import MAX_BATCH

RequestState = Literal["queued", "claimed", "sent", "submitted", "completed", "failed"]
JobState = Literal["pending", "drawing", "committing", "revealing", "accepted", "refunded"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmitJobsRequest(_Strict):
    """Texts to embed with one model; each text becomes one on-chain job."""

    model: str = Field(min_length=1, max_length=200, examples=["all-MiniLM-L6-v2"])
    # Each text's bounds in the schema too (schemathesis found empty texts valid by the document):
    # a text longer than MAX_INPUT_BYTES characters is always too long; the exact limit counts
    # UTF-8 bytes, which JSON Schema cannot state, so the validator below enforces it.
    texts: list[Annotated[str, Field(min_length=1, max_length=MAX_INPUT_BYTES)]] = Field(
                             min_length=1, max_length=MAX_BATCH,
                             description=f"1 to {MAX_BATCH} texts, each 1 to {MAX_INPUT_BYTES} bytes of UTF-8")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200,
                                        description="Repeat a call with the same key and body to get the same "
                                                    "request back, charged once (also the Idempotency-Key header)")

    @field_validator("texts")
    @classmethod
    def _texts_are_submittable(cls, texts: list[str]) -> list[str]:
        # The contract's own rule (infera.inputs): refused here, not after a paid transaction.
        for i, text in enumerate(texts):
            encode_input(text, i)
        return texts


class SubmitJobsResponse(_Strict):
    """The request is stored: it will be submitted, however the relayer restarts."""

    request_id: str
    status: RequestState
    jobs: int = Field(description="texts accepted, one job each")
    links: dict[str, str]


class Cosine(_Strict):
    a: str
    b: str
    cosine: float


class JobTransactions(_Strict):
    submit: str | None = None
    final: str | None = Field(default=None, description="the transaction that accepted or refunded the job")


class JobView(_Strict):
    index: int
    job_id: int | None
    status: JobState
    result_hash: str | None = None
    vector: list[int] | None = Field(default=None, description="the accepted int8 vector")
    agreeing: list[str] = Field(default_factory=list)
    cosines: list[Cosine] = Field(default_factory=list, description="integer cosine of every pair of reveals")
    threshold: float | None = None
    transactions: JobTransactions = Field(default_factory=JobTransactions)


class RequestView(_Strict):
    """A request and each of its jobs, with results once final."""

    request_id: str
    model: str
    status: RequestState
    phase: str = Field(description="what the request waits for now: queue, backoff, transaction, drawing, "
                                   "committing, revealing, or final")
    attempts: int = Field(description="times the chain refused this request's batch (it is retried)")
    last_error: str | None
    created_at: float
    updated_at: float
    jobs: list[JobView]


class ModelView(_Strict):
    name: str
    model_id: int
    active: bool
    fee_wei: str
    dimension: int
    threshold: float
    quorum: int
    min_agreement: int


class ModelsResponse(_Strict):
    """The models this relayer submits jobs for."""

    models: list[ModelView]


class NodeView(_Strict):
    address: str
    stake_wei: str
    reputation: float
    capacity: int
    open_jobs: int
    ejected: bool
    earnings_wei: str = Field(description="fees and slash rewards paid to the node")
    slashes: int
    slashed_wei: str


class NodesResponse(_Strict):
    """Every registered oracle node."""

    nodes: list[NodeView]


class StatsResponse(_Strict):
    """Queue and batching figures of the shared queue."""

    requests: dict[str, int]
    jobs: dict[str, int]
    oldest_queued_age_s: float | None
    batches_mined: int
    jobs_in_mined_batches: int
    jobs_per_batch: float | None


class DashboardJob(_Strict):
    """An on-chain job, as anyone reading the chain sees it (no relayer request data)."""

    job_id: int
    model: str
    requester: str
    status: JobState
    submitted_block: int
    final_block: int | None = Field(description="the block that accepted or refunded the job")


class SlashView(_Strict):
    """A seat settled with a fault: the node's answer disagreed with the quorum, or it committed
    and never revealed."""

    job_id: int
    node: str
    outcome: str = Field(examples=["Disagreed", "Withheld"])
    slashed_wei: str
    block: int
    tx: str


class SeriesPoint(_Strict):
    block: int
    timestamp: int
    accepted: int = Field(description="jobs accepted in this block")
    gas_used: int = Field(description="gas used by the whole block")


class DashboardResponse(_Strict):
    """Everything the dashboard shows, in one read: public network data only."""

    head: int | None
    jobs: list[DashboardJob] = Field(description="the most recent jobs, newest first")
    totals: dict[str, int] = Field(description="jobs submitted, accepted and refunded in the blocks read")
    nodes: list[NodeView]
    models: list[ModelView]
    slashes: list[SlashView] = Field(description="the most recent slashes, newest first")
    series: list[SeriesPoint] = Field(description="accepted jobs and gas, one point per recent block")
    queue: StatsResponse


class HealthResponse(_Strict):
    """The relayer's liveness."""

    status: Literal["ok", "degraded"]
    database: bool
    chain_head: int | None
    submitter_seconds_since_tick: float | None
    tracker_seconds_since_tick: float | None


class ErrorBody(_Strict):
    code: str = Field(examples=["invalid_input"])
    message: str
    details: list[dict[str, object]] | None = None


class ErrorResponse(_Strict):
    """Every 4xx and 5xx answer."""

    error: ErrorBody
