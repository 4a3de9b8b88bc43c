"""Quantization and the integer agreement rule (the SDK's reference for the contract)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from infera.vectors import PPM, VectorError, agrees, cosine, pack, quantize, quantize_packed, unpack

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
float_vectors = arrays(np.float64, st.integers(1, 512), elements=finite)


@given(float_vectors)
def test_quantize_uses_full_range_and_stays_close(v: np.ndarray) -> None:
    q = quantize(v)
    assert q.dtype == np.int8 and q.shape == v.shape
    peak = np.max(np.abs(v))
    if peak == 0:
        assert not q.any()
        return
    assert np.max(np.abs(q.astype(int))) == 127
    # Each component is within half a step of the scaled original.
    assert np.all(np.abs(q - v * 127 / peak) <= 0.5 + 1e-9)


@given(float_vectors)
def test_pack_round_trips(v: np.ndarray) -> None:
    q = quantize(v)
    assert np.array_equal(unpack(pack(q), q.size), q)
    assert quantize_packed(v) == pack(q)


def test_quantized_minilm_like_vectors_keep_their_direction() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = rng.standard_normal(384)
        v /= np.linalg.norm(v)
        q = quantize(v).astype(np.float64)
        assert float(q @ v / np.linalg.norm(q)) > 0.9999


@pytest.mark.parametrize("bad", [np.array([]), np.zeros((2, 2)), np.array([1.0, np.nan]), np.array([np.inf])])
def test_quantize_rejects_malformed(bad: np.ndarray) -> None:
    with pytest.raises(VectorError):
        quantize(bad)


def test_unpack_checks_dimension() -> None:
    with pytest.raises(VectorError, match="384"):
        unpack(bytes(10), 384)


@given(arrays(np.int8, 64), arrays(np.int8, 64), st.integers(1, PPM))
def test_agreement_is_symmetric_and_matches_float(a: np.ndarray, b: np.ndarray, t: int) -> None:
    assert agrees(a, b, t) == agrees(b, a, t)
    c = cosine(a, b)
    if a.any() and b.any() and abs(c - t / PPM) > 1e-9:
        assert agrees(a, b, t) == (c >= t / PPM)


def test_zero_vector_agrees_with_nothing() -> None:
    zero = np.zeros(32, dtype=np.int8)
    assert not agrees(zero, zero, 1)
    assert cosine(zero, zero) == 0.0


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(VectorError):
        cosine(np.zeros(32, dtype=np.int8), np.zeros(64, dtype=np.int8))
