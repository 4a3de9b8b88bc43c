"""Cosines of each case against the reference, and the statistics reported about them.

Every decision uses the contract's rule on the committed int8 vectors (``infera.vectors.cosine``
and ``agrees``); float cosines are kept only to show what quantization changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from infera.vectors import PPM, agrees, cosine
from oracle_node.calibration.cases import BoolVector, Case, Context, Group, Skip
from oracle_node.calibration.corpus import CorpusEntry
from oracle_node.calibration.embedding import FloatMatrix, IntMatrix, commitments

PERCENTILES = (0.1, 1.0, 5.0, 50.0, 95.0, 99.0, 99.9)
NEAR_THRESHOLD_REGION = 0.99
"""Pairs with a float cosine at or above this are the ones whose decision int8 rounding could affect."""
SWEEP = (0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)


@dataclass
class Measured:
    """Per-entry cosines of one case against the reference (NaN where the entry is excluded)."""

    case: Case
    int8_cos: npt.NDArray[np.float64]
    float_cos: npt.NDArray[np.float64]
    variant_q: IntMatrix
    seconds: float
    skipped: str | None = None

    @property
    def included(self) -> BoolVector:
        return np.asarray(~np.isnan(self.int8_cos), dtype=np.bool_)


def float_cosines(a: FloatMatrix, b: FloatMatrix) -> npt.NDArray[np.float64]:
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return np.asarray(np.einsum("ij,ij->i", a64, b64) / np.where(denom == 0.0, 1.0, denom), dtype=np.float64)


def int8_cosines(ref_q: IntMatrix, var_q: IntMatrix, included: BoolVector) -> npt.NDArray[np.float64]:
    """The contract's cosine (``infera.vectors.cosine``) per entry, NaN where excluded."""
    out = np.full(len(ref_q), np.nan)
    for i in np.flatnonzero(included):
        out[i] = cosine(ref_q[i], var_q[i])
    return out


def measure(case: Case, ctx: Context, ref_q: IntMatrix) -> Measured:
    start = time.perf_counter()
    empty = np.full(len(ctx.texts), np.nan)
    try:
        produced = case.produce(ctx)
    except Skip as why:
        return Measured(case, empty, empty.copy(), np.zeros_like(ref_q), time.perf_counter() - start, skipped=str(why))
    var_q = commitments(produced.vectors)
    int8 = int8_cosines(ref_q, var_q, produced.included)
    flt = np.where(produced.included, float_cosines(ctx.reference, produced.vectors), np.nan)
    return Measured(case, int8, flt, var_q, time.perf_counter() - start)


def extreme(results: Sequence[Measured], group: Group, lowest: bool) -> tuple[float, str]:
    """The lowest (or highest) int8 cosine of a group, and the case that scored it."""
    best: tuple[float, str] = (math.inf, "") if lowest else (-math.inf, "")
    for m in results:
        if m.case.group != group or m.skipped is not None or not m.included.any():
            continue
        value = float(np.nanmin(m.int8_cos) if lowest else np.nanmax(m.int8_cos))
        if (value < best[0]) if lowest else (value > best[0]):
            best = (value, m.case.name)
    return best


def summarise(
    m: Measured, entries: Sequence[CorpusEntry], threshold_ppm: int | None, ref_q: IntMatrix
) -> dict[str, Any]:
    """Per-case statistics; pass counts use the contract rule ``infera.vectors.agrees``."""
    base: dict[str, Any] = {
        "name": m.case.name,
        "group": m.case.group,
        "description": m.case.description,
        "seconds": round(m.seconds, 2),
    }
    if m.skipped is not None:
        return base | {"skipped": m.skipped}
    idx = np.flatnonzero(m.included)
    values = m.int8_cos[idx]
    if len(values) == 0:
        return base | {"n": 0, "excluded": len(entries), "skipped": "no corpus entry is changed by this case"}
    lo, hi = int(idx[np.argmin(values)]), int(idx[np.argmax(values)])
    stats: dict[str, Any] = base | {
        "n": int(len(values)),
        "excluded": int(len(entries) - len(values)),
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "percentiles": {f"p{p:g}": float(np.percentile(values, p)) for p in PERCENTILES},
        "min_entry": {"index": lo, "source": entries[lo].source, "text": entries[lo].text[:120]},
        "max_entry": {"index": hi, "source": entries[hi].source, "text": entries[hi].text[:120]},
        "float_min": float(np.nanmin(m.float_cos)),
        "float_max": float(np.nanmax(m.float_cos)),
        "max_abs_int8_minus_float": float(np.nanmax(np.abs(m.int8_cos - m.float_cos))),
    }
    if threshold_ppm is not None:
        passed = sum(agrees(ref_q[i], m.variant_q[i], threshold_ppm) for i in idx)
        stats |= {"passed": int(passed), "pass_fraction": passed / len(values)}
    return stats


def quantization_check(results: Sequence[Measured], ref_q: IntMatrix, threshold_ppm: int) -> dict[str, Any]:
    """int8 vs float cosine on every measured pair, and whether the difference flips a decision at t.

    ``flips`` compares the contract's decision (``agrees`` on int8) with ``float cosine >= t``.
    Probes are counted separately: the noise probes are built to sit on the threshold, so some of
    them flip by construction; honest and cheat pairs must not.
    """
    t = threshold_ppm / PPM
    flips: dict[str, int] = {"honest": 0, "cheat": 0, "probe": 0}
    closest: dict[str, float] = {"honest": math.inf, "cheat": math.inf}
    pairs = rule_mismatch = 0
    worst, worst_case, worst_near = 0.0, "", 0.0
    for m in results:
        if m.skipped is not None:
            continue
        group = m.case.group
        for i in np.flatnonzero(m.included):
            int8_c, float_c = float(m.int8_cos[i]), float(m.float_cos[i])
            diff = abs(int8_c - float_c)
            if diff > worst:
                worst, worst_case = diff, m.case.name
            if float_c >= NEAR_THRESHOLD_REGION:
                worst_near = max(worst_near, diff)
            contract = agrees(ref_q[i], m.variant_q[i], threshold_ppm)
            flips[group] += contract != (float_c >= t)
            rule_mismatch += contract != (int8_c >= t)
            if group in closest:
                closest[group] = min(closest[group], abs(float_c - t))
            pairs += 1
    return {
        "pairs": pairs,
        "max_abs_int8_minus_float": worst,
        "max_abs_case": worst_case,
        "near_threshold_region": NEAR_THRESHOLD_REGION,
        "max_abs_int8_minus_float_near_threshold": worst_near,
        "decision_flips_float_vs_int8": flips,
        "closest_float_distance_to_threshold": {k: (v if math.isfinite(v) else None) for k, v in closest.items()},
        "agrees_vs_cosine_mismatches": int(rule_mismatch),
        "flip_impossible_for_honest_and_cheats": all(
            v is None or not math.isfinite(v) or v > worst_near for v in closest.values()
        ),
    }


def threshold_sweep(results: Sequence[Measured], threshold: float) -> list[dict[str, Any]]:
    """Fraction of honest pairs and of each cheat's pairs passing at other candidate thresholds.

    Uses ``int8 cosine >= t``, which quantization_check verifies equals ``agrees`` at the chosen t.
    """
    rows: list[dict[str, Any]] = []
    for t in sorted({*SWEEP, threshold}):
        honest_vals = np.concatenate(
            [m.int8_cos[m.included] for m in results if m.case.group == "honest" and m.skipped is None]
        )
        row: dict[str, Any] = {"threshold": t, "honest_pass": float(np.mean(honest_vals >= t))}
        row["cheats_pass"] = {
            m.case.name: float(np.mean(m.int8_cos[m.included] >= t))
            for m in results
            if m.case.group == "cheat" and m.skipped is None and m.included.any()
        }
        rows.append(row)
    return rows


def self_quantization_loss(reference: FloatMatrix, ref_q: IntMatrix) -> dict[str, float]:
    """Cosine between each float reference vector and its own int8 quantisation."""
    q = ref_q.astype(np.float32)
    cos = float_cosines(reference, q)
    return {"min": float(cos.min()), "p50": float(np.median(cos)), "max_loss": float(1.0 - cos.min())}
