"""The node's embedding path, and the knobs the honest variants and cheats turn on it.

The reference is a plain :class:`~oracle_node.inference.embedder.Embedder`, loaded the way
``oracle_node.node`` loads it, and committed with ``infera.vectors.quantize_packed``. Variants
change one thing around that embedder (threads, autocast, batch size, device) and cheats change one
thing inside a copy of it (its layers, its weights), so the only difference between a case and the
reference is the thing the case names. torch and sentence-transformers are imported lazily: the
package imports without them, and ``--help`` answers at once.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from infera.vectors import quantize_packed, unpack
from oracle_node.config import NodeSettings
from oracle_node.inference.embedder import Embedder, minilm_path

FloatMatrix = npt.NDArray[np.float32]
IntMatrix = npt.NDArray[np.int8]
Precision = Literal["fp32", "bf16", "fp16"]

# The node embeds with its configured batch size, and the default is what operators run.
NODE_BATCH_SIZE = int(NodeSettings.model_fields["batch_size"].default)


def reference_embedder(device: str = "cpu") -> Embedder:
    """The registered MiniLM as a node loads it (``oracle_node.node``): its package, never a hub."""
    return Embedder(minilm_path(), device=device, batch_size=NODE_BATCH_SIZE)


def commitments(vectors: npt.NDArray[Any]) -> IntMatrix:
    """Each row as the node commits it (``quantize_packed``), read back as the contract reads it."""
    rows: list[IntMatrix] = [unpack(quantize_packed(v)) for v in vectors]
    return np.asarray(np.stack(rows), dtype=np.int8)


def normalise(vectors: npt.NDArray[Any]) -> FloatMatrix:
    """Unit rows (a zero row stays zero), as ``normalize_embeddings=True`` gives."""
    arr = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.asarray(arr / np.where(norms == 0.0, 1.0, norms), dtype=np.float32)


@contextlib.contextmanager
def autocast(precision: Precision, device: str) -> Iterator[None]:
    """Mixed precision the way an operator would switch it on; fp32 runs untouched."""
    if precision == "fp32":
        yield
        return
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    device_type = device.split(":")[0]
    with torch.autocast(device_type=device_type, dtype=dtype):
        yield


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` intra-op threads, then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def batch_size_of(embedder: Embedder, size: int | None) -> Iterator[None]:
    """Run ``embedder`` as a node configured with another batch size would, then restore it."""
    previous = embedder.batch_size
    if size is not None:
        embedder.batch_size = size
    try:
        yield
    finally:
        embedder.batch_size = previous


def embed_as(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    batch_size: int | None = None,
    precision: Precision = "fp32",
    threads: int | None = None,
) -> FloatMatrix:
    """``Embedder.embed``, the node's call, with the knobs an honest operator may turn differently."""
    with torch_threads(threads), autocast(precision, embedder.device), batch_size_of(embedder, batch_size):
        return embedder.embed(list(texts))


def token_embeddings(embedder: Embedder, texts: Sequence[str]) -> list[FloatMatrix]:
    """Per-sentence contextual token vectors (padding removed), for alternative poolings."""
    out = embedder.model.encode(
        list(texts), batch_size=embedder.batch_size, output_value="token_embeddings", show_progress_bar=False
    )
    return [np.asarray(t.float().cpu().numpy(), dtype=np.float32) for t in out]


def model_input_ids(embedder: Embedder, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
    """Token ids the transformer actually sees (after its truncation)."""
    model = embedder.model
    limit = max_length if max_length is not None else model.max_seq_length
    return [list(model.tokenizer(t, truncation=True, max_length=limit)["input_ids"]) for t in texts]


def transformer_of(embedder: Embedder) -> Any:
    """The Hugging Face BertModel inside the sentence-transformers pipeline (module 0)."""
    return embedder.model[0].auto_model


def with_fewer_layers(embedder: Embedder, layers: int) -> Embedder:
    """A copy keeping only its first ``layers`` transformer layers (0: embeddings only).

    Cut with :meth:`Embedder.keep_layers`, the node's own ``cheaper-model`` fault drill.
    """
    cut = copy.deepcopy(embedder)
    cut.keep_layers(layers)
    return cut


def with_int8_weights(embedder: Embedder) -> Embedder:
    """A copy with every nn.Linear dynamically quantised to int8 (PyTorch's one-line speed-up)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    cheap = copy.deepcopy(embedder)
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao; the eager API is what a
        # corner-cutting operator would still reach for, so its warnings are expected here.
        warnings.simplefilter("ignore")
        quantise: Any = quantize_dynamic  # untyped in torch
        quantise(cheap.model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return cheap


def static_embedding_average(embedder: Embedder, texts: Sequence[str]) -> FloatMatrix:
    """Mean of MiniLM's input word-piece embeddings: a bag-of-words vector with no transformer."""
    import torch

    table = transformer_of(embedder).embeddings.word_embeddings.weight.detach().float()
    rows: list[npt.NDArray[np.float32]] = []
    for ids in model_input_ids(embedder, texts):
        rows.append(table[torch.tensor(ids)].mean(dim=0).numpy())
    return normalise(np.stack(rows))
