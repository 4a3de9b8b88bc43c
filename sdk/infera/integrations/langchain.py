"""LangChain: ``InferaEmbeddings`` is a langchain-core ``Embeddings`` whose vectors the network
verified (each text one job, accepted by a quorum of nodes), unit-length floats.

    from langchain_core.vectorstores import InMemoryVectorStore
    from infera.integrations.langchain import InferaEmbeddings

    store = InMemoryVectorStore.from_texts(texts, InferaEmbeddings())   # INFERA_* settings
    store.similarity_search("a question", k=1)

A refunded job (not verified) raises infera.errors.JobRefunded rather than giving a vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from infera.client import ClientSettings, Infera
from infera.transport import DEFAULT_MODEL

try:
    from langchain_core.embeddings import Embeddings
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError("infera.integrations.langchain needs langchain-core: pip install 'infera-sdk[langchain]'") from exc


class InferaEmbeddings(Embeddings):
    """Pass a connected ``Infera`` client, or settings (and keyword overrides) to connect one,
    which `close()` then closes."""

    def __init__(self, client: Infera | None = None, *, model: str = DEFAULT_MODEL, timeout: float = 300.0,
                 settings: ClientSettings | None = None, **overrides: Any) -> None:
        self.client = client if client is not None else Infera.connect(settings, **overrides)
        self._owns_client = client is None
        self.model = model
        self.timeout = timeout

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return _floats(self.client.embed(texts, model=self.model, timeout=self.timeout).vectors)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        out = await self.client.run_async(self.client.client.embed(texts, model=self.model, timeout=self.timeout))
        return _floats(out.vectors)

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_documents([text]))[0]

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


def _floats(vectors: Sequence[list[float] | None]) -> list[list[float]]:
    # embed() without allow_partial raised for any refunded job, so every vector is here.
    return cast(list[list[float]], list(vectors))
