"""Texts to verified vectors through the network: the agent's only way to see an embedding.

Texts already in memory are not paid for again; the rest go to the chain in one submission
(after the budget approves the quote), and each accepted job's vector is stored with the nodes
that agreed on it. A refunded job gives no vector, and its fee is credited back to the budget.
"""

from __future__ import annotations

import asyncio

import structlog

from infera.agents.budget import Budget
from infera.agents.memory import Memory, VerifiedVector
from infera.client import InferaClient

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
        model_id = self.client.chain.deployment.model_id(self.model)
        cost = await Budget.quote(self.client.chain, model_id, len(missing))
        self.budget.reserve(cost)
        try:
            job_ids = await self.client.submit_texts(missing, model=self.model)
        except BaseException:
            self.budget.refund(cost)
            raise
        log.info("agent submitted", jobs=len(job_ids), first=job_ids[0], fee_wei=cost)
        found = await asyncio.gather(*(self._verified(job_id) for job_id in job_ids))
        for text, vector, job_id in zip(missing, found, job_ids, strict=True):
            if vector is None:
                self.budget.refund(cost // len(missing))
                log.warning("agent job refunded", job=job_id)
            else:
                self.memory.remember(vector)
            out[text] = vector
        return out

    async def _verified(self, job_id: int) -> VerifiedVector | None:
        result = await self.client.wait_for_result(job_id, timeout=self.timeout)
        if not result.accepted or result.vector is None:
            return None
        detail = await self.client.verification(job_id)
        return VerifiedVector(job_id, result.input, result.vector, result.agreeing,
                              detail.min_agreeing_cosine, detail.threshold)
