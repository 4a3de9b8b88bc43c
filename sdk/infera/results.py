"""What the client returns: job references that survive a restart, verified results, fee quotes.

Every type here is a pydantic model, so results are JSON-ready (``model_dump()``, ``to_json()``)
and come back from JSON (``model_validate``). A JobRef is also a plain string (``str(ref)``,
``JobRef.parse``), which is what a caller persists to reattach later.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer, field_validator

from infera.errors import InferaError
from infera.types import JobStatus

WEI_PER_INFER = 10**18


class InvalidJobRef(InferaError, ValueError):
    """A string that is not a job reference (`job:<id>` or `req:<request id>/<index>[#<job id>]`)."""


class JobRef(BaseModel):
    """One job: its on-chain id (chain transport), or the relayer request and the text's index in it
    (relayer transport), with the job id once the relayer has it on chain."""

    model_config = ConfigDict(frozen=True)
    job_id: int | None = None
    request_id: str | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.request_id is None:
            return f"job:{self.job_id}"
        suffix = "" if self.job_id is None else f"#{self.job_id}"
        return f"req:{self.request_id}/{self.index}{suffix}"

    @classmethod
    def parse(cls, text: str | JobRef) -> JobRef:
        """The inverse of str(ref); a JobRef is returned as it is."""
        if isinstance(text, JobRef):
            return text
        try:
            if text.startswith("job:"):
                return cls(job_id=int(text[4:]))
            if text.startswith("req:"):
                body, _, job = text[4:].partition("#")
                request_id, _, index = body.rpartition("/")
                if request_id:
                    return cls(request_id=request_id, index=int(index), job_id=int(job) if job else None)
        except ValueError:
            pass
        raise InvalidJobRef(f"{text!r} is not a job reference: expected job:<id> or req:<request id>/<index>")

    @property
    def key(self) -> tuple[str | None, int | None]:
        """What identifies the job whether or not the job id is known yet."""
        return (self.request_id, self.index) if self.request_id is not None else (None, self.job_id)


class PairCosine(BaseModel):
    """The integer cosine of two nodes' revealed vectors."""

    model_config = ConfigDict(frozen=True)
    a: str
    b: str
    cosine: float


class JobResult(BaseModel):
    """A finished job: the accepted int8 vector and who agreed on it, or a refund."""

    model_config = ConfigDict(frozen=True)
    ref: JobRef
    job_id: int | None
    status: JobStatus
    input: str | None = Field(default=None, description="the text (None when the transport cannot tell)")
    result_hash: str | None = None
    vector: list[int] | None = Field(default=None, description="the accepted int8 vector")
    agreeing: list[str] = Field(default_factory=list)
    threshold: float | None = Field(default=None, description="the model's cosine threshold")
    cosines: list[PairCosine] = Field(default_factory=list, description="every pair of reveals")

    @field_validator("status", mode="before")
    @classmethod
    def _status_by_name(cls, value: Any) -> Any:
        return JobStatus[value.upper()] if isinstance(value, str) else value

    @field_serializer("status")
    def _status_name(self, status: JobStatus) -> str:
        return status.name.lower()

    @property
    def accepted(self) -> bool:
        return self.status is JobStatus.ACCEPTED

    def int8(self) -> npt.NDArray[np.int8] | None:
        return None if self.vector is None else np.asarray(self.vector, dtype=np.int8)

    def unit_vector(self) -> list[float] | None:
        """The accepted vector as floats of unit length (v/||v||); cosine similarity is then a dot."""
        if self.vector is None:
            return None
        norm = math.sqrt(sum(x * x for x in self.vector))
        return [x / norm for x in self.vector] if norm else [0.0] * len(self.vector)

    @property
    def min_agreeing_cosine(self) -> float:
        """Lowest cosine between two agreeing nodes (1.0 with a single agreeing node)."""
        by_pair = {(c.a, c.b): c.cosine for c in self.cosines} | {(c.b, c.a): c.cosine for c in self.cosines}
        pairs = [by_pair[p] for p in itertools.combinations(self.agreeing, 2) if p in by_pair]
        return min(pairs, default=1.0)


class Embeddings(BaseModel):
    """Verified embeddings of several texts, in the order given."""

    model: str
    results: list[JobResult]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def vectors(self) -> list[list[float] | None]:
        """Each accepted vector as unit-length floats; None for a refunded job (allow_partial only)."""
        return [r.unit_vector() for r in self.results]

    def to_json(self, **kwargs: Any) -> str:
        return self.model_dump_json(**kwargs)

    def numpy(self, dtype: npt.DTypeLike = np.float32) -> npt.NDArray[Any]:
        """An (n, dim) array of the unit vectors; a refunded job's row is NaN."""
        vectors = self.vectors
        dim = next((len(v) for v in vectors if v is not None), 0)
        rows = [v if v is not None else [math.nan] * dim for v in vectors]
        return np.asarray(rows, dtype=dtype).reshape(len(rows), dim)

    def __len__(self) -> int:
        return len(self.results)


class FeeQuote(BaseModel):
    """What submitting `jobs` texts to `model` costs now, from the ModelRegistry."""

    model: str
    model_id: int
    jobs: int
    fee_per_job_wei: int
    total_wei: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fee_per_job_infer(self) -> Decimal:
        return Decimal(self.fee_per_job_wei) / WEI_PER_INFER

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_infer(self) -> Decimal:
        return Decimal(self.total_wei) / WEI_PER_INFER
