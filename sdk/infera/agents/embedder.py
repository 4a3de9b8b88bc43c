"""Texts to verified vectors through the network: the agent's only way to see an embedding.

Texts already in memory are not paid for again; the rest are submitted through the client (on
chain or through a relayer) in one call, after the budget approves the client's quote, and each
accepted job's vector is stored with the nodes that agreed on it. A refunded job gives no vector, and its fee is credited back to the budget.
"""

from __future__ import annotations

import structlog

from infera.agents.budget import Budget
from infera.agents.memory import Memory, VerifiedVector
from infera.client import InferaClient, JobResult

log = structlog.get_logger("infera.agents")


class VerifiedEmbedder:
    def __init__(self, client: InferaClient, memory: Memory, budget: Budget,
                 model: str = "all-MiniLM-L6-v2", timeout: float = 300.0) -> None:
        self.client = client
        self.memory = memory
        self.budget = budget
        self.model = model
        self.timeout = timeout

    async def embed(self, texts: list[str]) -> dict[str, VerifiedVector | None]:
        """Every text's verified vector (None for a job the network refunded). Raises
        BudgetExhausted, submitting nothing, when the new texts cost more than is left."""
        out: dict[str, VerifiedVector | None] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            known = self.memory.vector_for_text(text)
            if known is not None:
                out[text] = known
            else:
                missing.append(text)
        if not missing:
            return out
        quote = await self.client.quote(len(missing), self.model)
        self.budget.reserve(quote.total_wei)
        try:
            refs = await self.client.submit(missing, model=self.model)
        except BaseException:
            self.budget.refund(quote.total_wei)
            raise
        log.info("agent submitted", jobs=len(refs), first=str(refs[0]), fee_wei=quote.total_wei)
        results = await self.client.results(refs, timeout=self.timeout)
        for text, result in zip(missing, results, strict=True):
            vector = self._verified(text, result)
            if vector is None:
                self.budget.refund(quote.fee_per_job_wei)
                log.warning("agent job refunded", job=str(result.ref))
            else:
                self.memory.remember(vector)
            out[text] = vector
        return out

    @staticmethod
    def _verified(text: str, result: JobResult) -> VerifiedVector | None:
        vector = result.int8()
        if not result.accepted or vector is None or result.job_id is None:
            return None
        return VerifiedVector(result.job_id, text, vector, tuple(result.agreeing), result.min_agreeing_cosine,
                              result.threshold if result.threshold is not None else 1.0)
