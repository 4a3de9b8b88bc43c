"""LlamaIndex: ``InferaEmbedding`` is a llama-index-core ``BaseEmbedding`` whose vectors the
network verified, unit-length floats.

    from llama_index.core import Settings, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from infera.integrations.llamaindex import InferaEmbedding

    Settings.llm, Settings.transformations = None, []
    index = VectorStoreIndex([TextNode(text=t) for t in texts], embed_model=InferaEmbedding())
    index.as_retriever(similarity_top_k=1).retrieve("a question")

Build the index from nodes, with ``Settings.transformations = []``, and use its retriever: then
nothing needs an LLM or a download. (LlamaIndex's default transformation is a SentenceSplitter,
whose tokenizer fetches tiktoken's encoding from the internet on first use; an index given
``transformations=[]`` falls back to that default, so set it in Settings.) A refunded job (not verified) raises infera.errors.JobRefunded.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field, PrivateAttr

from infera.client import ClientSettings, Infera
from infera.transport import DEFAULT_MODEL
from infera.transport.chain import MAX_BATCH

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError("infera.integrations.llamaindex needs llama-index-core: pip install 'infera-sdk[llamaindex]'") from exc


class InferaEmbedding(BaseEmbedding):
    """Pass a connected ``Infera`` client, or settings (and keyword overrides) to connect one,
    which `close()` then closes."""

    model_name: str = Field(default=DEFAULT_MODEL, description="the model registered on chain")
    embed_batch_size: int = Field(default=MAX_BATCH, gt=0, le=MAX_BATCH, description="texts per submission")
    timeout: float = Field(default=300.0, gt=0, description="seconds to wait for verification")
    _client: Infera = PrivateAttr()
    _owns_client: bool = PrivateAttr(default=False)

    def __init__(self, client: Infera | None = None, *, settings: ClientSettings | None = None,
                 model_name: str = DEFAULT_MODEL, timeout: float = 300.0, **overrides: Any) -> None:
        super().__init__(model_name=model_name)
        self.timeout = timeout
        self._client = client if client is not None else Infera.connect(settings, **overrides)
        self._owns_client = client is None

    @classmethod
    def class_name(cls) -> str:
        return "InferaEmbedding"

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return _floats(self._client.embed(texts, model=self.model_name, timeout=self.timeout).vectors)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        embed = self._client.client.embed(texts, model=self.model_name, timeout=self.timeout)
        return _floats((await self._client.run_async(embed)).vectors)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aget_text_embedding(query)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def _floats(vectors: list[list[float] | None]) -> list[Embedding]:
    # embed() without allow_partial raised for any refunded job, so every vector is here.
    return cast(list[Embedding], vectors)
