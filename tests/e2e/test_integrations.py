"""LangChain and LlamaIndex vector stores built with verified embeddings on a devnet with three
real nodes: the nearest neighbour of a query is the semantically right text, and every stored
vector is the JobAccepted vector of its text's job, unit-normalised. No connection leaves this
machine meanwhile (tiktoken encodings, NLTK data and the like would need one)."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from infera.client import Infera
from infera.devnet import DEVNET_KEYS
from infera_testing.localnet import LocalNetwork

DOCS = [
    "The cat purred on the warm windowsill.",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "Mix two cups of flour with an egg and a pinch of salt.",
    "The striker scored in the last minute to win the match.",
]
QUERIES = {
    "a kitten dozing in the sun": DOCS[0],
    "equities drop when borrowing costs go up": DOCS[1],
    "football game decided by a late goal": DOCS[3],
}


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with LocalNetwork(tmp_path_factory.mktemp("integrations") / "net") as network:
        network.bring_up([1, 2, 3])
        yield network


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[list[Any]]:
    """Refuse any connection to a host other than this one, and record the attempts."""
    refused: list[Any] = []
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            refused.append(address)
            raise ConnectionRefusedError(f"test: no network beyond loopback ({address})")
        return connect(sock, address)

    resolve = socket.getaddrinfo

    def resolve_guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "127.0.0.1", "::1", "localhost"):
            refused.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"test: no network beyond loopback ({host})")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", resolve_guarded)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))  # no cached encoding hides a fetch
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk"))
    yield refused
    assert refused == [], f"something tried to reach the network: {refused}"


def _client(net: LocalNetwork, key_index: int) -> Infera:
    return Infera.connect(transport="chain", rpc_url=net.rpc_url, private_key=DEVNET_KEYS[key_index],
                          deployments_dir=net.deployments_dir)


def _accepted_by_text(net: LocalNetwork, requester_index: int) -> dict[str, list[float]]:
    """Each text the requester submitted -> its JobAccepted vector, unit-normalised, read from
    the chain's events without the client."""
    from eth_account import Account

    async def go() -> dict[str, list[float]]:
        chain = await net.connect()
        try:
            requester = Account.from_key(DEVNET_KEYS[requester_index]).address
            start = chain.deployment.deployment_block
            submitted = await chain.logs(chain.jobs, "JobSubmitted", start, requester=requester)
            ids = {int(e["args"]["jobId"]): str(e["args"]["input"]) for e in submitted}
            accepted = await chain.logs(chain.jobs, "JobAccepted", start, jobId=list(ids))
            out = {}
            for e in accepted:
                vector = np.frombuffer(bytes(e["args"]["vector"]), np.int8).astype(np.float64)
                out[ids[int(e["args"]["jobId"])]] = (vector / np.linalg.norm(vector)).tolist()
            return out
        finally:
            await chain.close()

    return asyncio.run(go())


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(a, b, strict=True))


def test_langchain_in_memory_store_finds_the_right_neighbour(net: LocalNetwork, loopback_only: list[Any]) -> None:
    from langchain_core.vectorstores import InMemoryVectorStore

    from infera.integrations.langchain import InferaEmbeddings

    with _client(net, 7) as infera:
        embeddings = InferaEmbeddings(infera, timeout=240)
        store = InMemoryVectorStore.from_texts(DOCS, embeddings)
        for query, expected in QUERIES.items():
            [hit] = store.similarity_search(query, k=1)
            assert hit.page_content == expected, query
        async_query = asyncio.run(embeddings.aembed_query("a kitten dozing in the sun"))
    truth = _accepted_by_text(net, 7)
    stored = {entry["text"]: entry["vector"] for entry in store.store.values()}
    assert set(stored) == set(DOCS)
    assert all(_close(stored[text], truth[text]) for text in DOCS)
    assert _close(async_query, truth["a kitten dozing in the sun"])


def test_llamaindex_vector_store_index_finds_the_right_neighbour(net: LocalNetwork,
                                                                  loopback_only: list[Any]) -> None:
    from llama_index.core import Settings, VectorStoreIndex
    from llama_index.core.schema import TextNode

    from infera.integrations.llamaindex import InferaEmbedding

    # Retrieval only, from whole nodes: no LLM, and no SentenceSplitter (whose tokenizer would
    # fetch tiktoken's encoding; an index given transformations=[] still falls back to it).
    Settings.llm = None
    Settings.transformations = []
    with _client(net, 8) as infera:
        embed_model = InferaEmbedding(infera, timeout=240)
        index = VectorStoreIndex([TextNode(text=t, id_=f"doc-{i}") for i, t in enumerate(DOCS)],
                                 embed_model=embed_model)
        retriever = index.as_retriever(similarity_top_k=1)
        for query, expected in QUERIES.items():
            [hit] = retriever.retrieve(query)
            assert hit.node.get_content() == expected, query
        batch = asyncio.run(embed_model.aget_text_embedding_batch(DOCS[:2]))
    truth = _accepted_by_text(net, 8)
    stored = index.vector_store.to_dict()["embedding_dict"]
    assert all(_close(stored[f"doc-{i}"], truth[text]) for i, text in enumerate(DOCS))
    assert all(_close(v, truth[t]) for v, t in zip(batch, DOCS[:2], strict=True))
