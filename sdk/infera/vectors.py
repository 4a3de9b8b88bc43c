"""Vector quantization and the integer cosine rule, exactly as the contracts apply them.

A node's float embedding is scaled so that its largest absolute component maps to 127, rounded to
the nearest integer and packed as int8 two's-complement bytes. Scaling per vector (rather than a
fixed scale) keeps nearly all of int8's range in use for MiniLM's small, unit-normalised outputs.

The contract decides agreement without floating point or square roots:
``cos(a, b) >= t``  <=>  ``dot > 0`` and ``dot**2 * S**2 >= T**2 * |a|**2 * |b|**2`` with
``T = t * S`` and ``S = PPM``. A zero vector agrees with nothing, itself included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

INT8_MAX = 127
PPM = 1_000_000
"""Fixed-point scale of cosine thresholds: 1.0 == 1_000_000."""


class VectorError(ValueError):
    """A vector is malformed: wrong length, not finite, or not int8-packable."""


def quantize(vector: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Scale a float vector so that max |x| maps to 127 and round to int8."""
    arr = np.asarray(vector, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise VectorError(f"expected a non-empty 1-D vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise VectorError("vector has NaN or infinite components")
    peak = float(np.max(np.abs(arr)))
    if peak == 0.0:
        return np.zeros(arr.size, dtype=np.int8)
    scaled = np.rint(arr * (INT8_MAX / peak))
    return np.asarray(np.clip(scaled, -INT8_MAX, INT8_MAX), dtype=np.int8)


def pack(vector: npt.NDArray[np.int8]) -> bytes:
    """int8 components as the bytes the contracts read (two's complement, one byte each)."""
    return np.asarray(vector, dtype=np.int8).tobytes()


def unpack(data: bytes, dim: int | None = None) -> npt.NDArray[np.int8]:
    """Inverse of :func:`pack`; checks the length when ``dim`` is given."""
    if dim is not None and len(data) != dim:
        raise VectorError(f"vector has {len(data)} components, the model outputs {dim}")
    return np.frombuffer(bytes(data), dtype=np.int8).copy()


def quantize_packed(vector: npt.ArrayLike) -> bytes:
    """:func:`quantize` then :func:`pack`: what a node commits to and reveals."""
    return pack(quantize(vector))


def int_stats(a: Sequence[int] | npt.NDArray[np.int8], b: Sequence[int] | npt.NDArray[np.int8]) -> tuple[int, int, int]:
    """Exact (dot, |a|^2, |b|^2) in Python integers, as the contract computes them."""
    ai = np.asarray(a, dtype=np.int64)
    bi = np.asarray(b, dtype=np.int64)
    if ai.shape != bi.shape:
        raise VectorError(f"vector lengths differ: {ai.size} and {bi.size}")
    return int(ai @ bi), int(ai @ ai), int(bi @ bi)


def cosine(a: Sequence[int] | npt.NDArray[np.int8], b: Sequence[int] | npt.NDArray[np.int8]) -> float:
    """Cosine of two integer vectors; 0.0 when either is the zero vector."""
    dot, na, nb = int_stats(a, b)
    if na == 0 or nb == 0:
        return 0.0
    return dot / math.sqrt(na * nb)


def agrees(a: Sequence[int] | npt.NDArray[np.int8], b: Sequence[int] | npt.NDArray[np.int8], threshold_ppm: int) -> bool:
    """The contract's agreement rule, bit for bit (see the module docstring)."""
    dot, na, nb = int_stats(a, b)
    if na == 0 or nb == 0 or dot <= 0:
        return False
    return dot * dot * PPM * PPM >= threshold_ppm * threshold_ppm * na * nb
