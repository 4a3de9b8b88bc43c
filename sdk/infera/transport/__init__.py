"""The two ways the client reaches the network, behind one small protocol: straight to the chain
(transport.chain: the caller's key signs and pays) or through a relayer's HTTP API
(transport.relayer: gasless with the caller's key, or paid by the relayer for an API key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from infera.results import FeeQuote, JobRef, JobResult

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Transport(Protocol):
    """What InferaClient needs from a transport; every method raises only InferaError subclasses
    (the client wraps what slips through)."""

    @property
    def name(self) -> str: ...

    async def quote(self, model: str | int, jobs: int) -> FeeQuote:
        """The fee of `jobs` texts now."""
        ...

    async def submit(self, texts: Sequence[str], model: str | int, idempotency_key: str) -> list[JobRef]:
        """Submit one job per text, paying once per `idempotency_key` however often it is retried."""
        ...

    async def poll(self, refs: Sequence[JobRef]) -> dict[JobRef, JobResult]:
        """The results of the jobs among `refs` that are final now (one round trip or a few)."""
        ...

    async def close(self) -> None: ...
