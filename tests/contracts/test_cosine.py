"""The on-chain integer cosine against numpy and the SDK's reference, with hypothesis."""

from __future__ import annotations

from typing import Any

import ape
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infera.vectors import PPM, agrees, int_stats, pack, quantize

DIMS = st.sampled_from([32, 64, 384])
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def int8_vectors(dim: int) -> st.SearchStrategy[np.ndarray]:
    return st.lists(st.integers(-128, 127), min_size=dim, max_size=dim).map(lambda v: np.array(v, dtype=np.int8))


@st.composite
def vector_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    dim = draw(DIMS)
    return draw(int8_vectors(dim)), draw(int8_vectors(dim))


def float_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(a64 @ b64 / (np.linalg.norm(a64) * np.linalg.norm(b64)))


@HYPOTHESIS
@given(pair=vector_pairs(), threshold=st.integers(1, PPM))
def test_stats_and_decision_match_numpy(cosine_harness: Any, pair: tuple[np.ndarray, np.ndarray], threshold: int) -> None:
    a, b = pair
    d, na, nb = cosine_harness.stats(pack(a), pack(b))
    assert (d, na, nb) == int_stats(a, b)
    assert (d, na, nb) == (int(a.astype(np.int64) @ b.astype(np.int64)), int((a.astype(np.int64) ** 2).sum()), int((b.astype(np.int64) ** 2).sum()))
    on_chain = cosine_harness.agrees(pack(a), pack(b), threshold)
    assert on_chain == agrees(a, b, threshold)
    if na and nb:
        cos = float_cosine(a, b)
        # Away from the boundary the exact integer rule and float arithmetic must agree.
        if abs(cos - threshold / PPM) > 1e-9:
            assert on_chain == (cos >= threshold / PPM)


@HYPOTHESIS
@given(data=st.data())
def test_real_valued_vectors_through_quantization(cosine_harness: Any, data: st.DataObject) -> None:
    dim = data.draw(DIMS)
    floats = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
    a = quantize(np.array(data.draw(st.lists(floats, min_size=dim, max_size=dim))))
    b = quantize(np.array(data.draw(st.lists(floats, min_size=dim, max_size=dim))))
    assert cosine_harness.agrees(pack(a), pack(b), 900_000) == agrees(a, b, 900_000)


@pytest.mark.parametrize("dim", [32, 384, 4096])
def test_zero_vector_agrees_with_nothing(cosine_harness: Any, dim: int) -> None:
    zero = bytes(dim)
    other = pack(quantize(np.random.default_rng(dim).standard_normal(dim)))
    assert not cosine_harness.agrees(zero, zero, 1)
    assert not cosine_harness.agrees(zero, other, 1)
    assert not cosine_harness.agrees(other, zero, 1)


def test_identical_vectors_agree_at_full_threshold(cosine_harness: Any) -> None:
    v = pack(quantize(np.random.default_rng(1).standard_normal(384)))
    assert cosine_harness.agrees(v, v, PPM)


def test_all_equal_vectors_agree_even_at_extremes(cosine_harness: Any) -> None:
    for value in (127, -128, 1):
        v = pack(np.full(384, value, dtype=np.int8))
        assert cosine_harness.agrees(v, v, PPM)
    assert not cosine_harness.agrees(pack(np.full(384, 127, dtype=np.int8)), pack(np.full(384, -127, dtype=np.int8)), 1)


def test_opposite_vectors_never_agree(cosine_harness: Any) -> None:
    a = quantize(np.random.default_rng(2).standard_normal(384))
    assert not cosine_harness.agrees(pack(a), pack(-a), 1)


def test_orthogonal_vectors_need_zero_threshold(cosine_harness: Any) -> None:
    a = np.zeros(64, dtype=np.int8)
    b = np.zeros(64, dtype=np.int8)
    a[0], b[1] = 100, 100
    assert not cosine_harness.agrees(pack(a), pack(b), 1)  # dot == 0 never agrees


def test_extreme_components_do_not_overflow(cosine_harness: Any) -> None:
    a = pack(np.full(4096, -128, dtype=np.int8))
    d, na, nb = cosine_harness.stats(a, a)
    assert d == na == nb == 4096 * 128 * 128


@pytest.mark.parametrize(("la", "lb"), [(384, 352), (33, 33), (0, 32)])
def test_wrong_lengths_revert(cosine_harness: Any, la: int, lb: int) -> None:
    with ape.reverts(cosine_harness.CosineHarnessBadLengths):
        cosine_harness.stats(bytes(la), bytes(lb))


def test_gas_per_384_dimension_pair(cosine_harness: Any) -> None:
    """Each vector is prepared once (lanes and norm), then each pair costs a MUL per 8 components."""
    rng = np.random.default_rng(5)
    a, b = (pack(rng.integers(-128, 128, 384).astype(np.int8)) for _ in range(2))
    per_vector, per_pair = cosine_harness.gasUsed(a, b)
    assert per_pair <= 5_000, f"{per_pair} gas per pair"
    assert per_vector <= 15_000, f"{per_vector} gas per vector"


@st.composite
def vector_triples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dim = draw(DIMS)
    return draw(int8_vectors(dim)), draw(int8_vectors(dim)), draw(int8_vectors(dim))


def exact_gram(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[int, ...]:
    a64, b64, c64 = (v.astype(np.int64) for v in (a, b, c))
    return tuple(int(x @ y) for x, y in ((a64, a64), (b64, b64), (c64, c64), (a64, b64), (a64, c64), (b64, c64)))


@HYPOTHESIS
@given(triple=vector_triples())
def test_gram3_matches_numpy(cosine_harness: Any, triple: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """The one-pass kernel finalize uses for a committee of three gives the exact integer products."""
    assert tuple(cosine_harness.gram3(*(pack(v) for v in triple))) == exact_gram(*triple)


@pytest.mark.parametrize(("x", "y", "z"), [(127, 127, 127), (-128, -128, -128), (127, -128, 0), (-128, 127, -1)])
def test_gram3_extremes_at_the_largest_dimension(cosine_harness: Any, x: int, y: int, z: int) -> None:
    """4,096 components of the largest offset byte: the 16-bit lane sums are at their bound."""
    vectors = tuple(np.full(4096, value, dtype=np.int8) for value in (x, y, z))
    assert tuple(cosine_harness.gram3(*(pack(v) for v in vectors))) == exact_gram(*vectors)


@HYPOTHESIS
@given(triple=vector_triples(), threshold=st.integers(1, PPM))
def test_judge_decides_a_triple_as_the_pairwise_path_does(
    jobs: Any, project: Any, triple: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: int
) -> None:
    """Three revealed seats take the one-pass kernel; the same three beside an unrevealed fourth
    take the pairwise path. Both must decide the same medoid, agreeing set and votes."""
    judge = project.AgreementJudge.at(jobs.judge())
    vectors = [pack(v) for v in triple]
    fast = judge.decide(0, threshold, 0b111, vectors)
    pairwise = judge.decide(0, threshold, 0b111, [*vectors, b""])
    assert tuple(fast) == tuple(pairwise)
    a, b, c = triple
    agreeing = {(0, 1): agrees(a, b, threshold), (0, 2): agrees(a, c, threshold), (1, 2): agrees(b, c, threshold)}
    medoid, mask, votes = fast
    assert mask & (1 << medoid) or not any(triple[medoid])
    for other in {0, 1, 2} - {medoid}:
        pair = (min(medoid, other), max(medoid, other))
        assert bool(mask & (1 << other)) == agreeing[pair]
    assert votes == bin(mask).count("1")


def test_gram3_gas_for_three_384_dimension_vectors(cosine_harness: Any) -> None:
    """One pass over three vectors costs less than preparing them and taking three pairs."""
    rng = np.random.default_rng(6)
    a, b, c = (pack(rng.integers(-128, 128, 384).astype(np.int8)) for _ in range(3))
    per_vector, per_pair = cosine_harness.gasUsed(a, b)
    fused = cosine_harness.gram3GasUsed(a, b, c)
    assert fused <= 24_000, f"{fused} gas for three vectors"
    assert fused < 0.7 * (3 * per_vector + 3 * per_pair), (fused, per_vector, per_pair)
