"""The threshold policy: where between the worst honest variant and the best cheat ``t`` sits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from infera.vectors import PPM
from oracle_node.calibration.stats import Measured, extreme

# Threshold policy, in terms of deviations d = 1 - cosine. By default the threshold sits at the
# geometric mean of the worst honest deviation and the best cheat's deviation: both sides then get
# the same *factor* of headroom, which suits deviations that span orders of magnitude. Honest nodes
# always get at least MIN_HONEST_HEADROOM times the worst measured honest deviation, because hardware
# we could not measure (GPUs, other CPUs and kernels) must pass too; any cheat scoring above the
# resulting threshold is reported as the grey zone instead of moving the threshold onto honest nodes.
MIN_HONEST_HEADROOM = 3.0
ROUND_PPM = 100
"""Round the threshold down to a multiple of this (when that keeps it above every cheat)."""

THRESHOLD_RULE = (
    "1 - t = max(sqrt((1 - lowest honest) * (1 - highest cheat)), "
    f"{MIN_HONEST_HEADROOM:g} * (1 - lowest honest)), rounded down to {ROUND_PPM} ppm when that keeps t above every cheat"
)


@dataclass(frozen=True)
class ThresholdChoice:
    threshold_ppm: int
    lowest_honest: float
    lowest_honest_case: str
    highest_cheat: float
    highest_cheat_case: str
    separated: bool
    rule: str

    @property
    def threshold(self) -> float:
        return float(self.threshold_ppm / PPM)


def choose_threshold(lowest_honest: float, highest_cheat: float) -> tuple[int, bool]:
    """Threshold in ppm and whether it separates every cheat (see THRESHOLD_RULE)."""
    honest_dev = max(1.0 - lowest_honest, 1.0 / PPM)
    cheat_dev = max(1.0 - highest_cheat, 0.0)
    balanced = math.sqrt(honest_dev * cheat_dev) if cheat_dev > honest_dev else 0.0
    dev = max(balanced, MIN_HONEST_HEADROOM * honest_dev)
    # round() first so float noise (1000.0000000003 ppm) does not ceil to an extra ppm
    ppm = PPM - math.ceil(round(dev * PPM, 6))
    rounded = ppm - ppm % ROUND_PPM
    if rounded / PPM > highest_cheat:
        ppm = rounded
    return ppm, ppm / PPM > highest_cheat


def decide(results: Sequence[Measured]) -> ThresholdChoice:
    low, low_case = extreme(results, "honest", lowest=True)
    high, high_case = extreme(results, "cheat", lowest=False)
    ppm, separated = choose_threshold(low, high)
    return ThresholdChoice(ppm, low, low_case, high, high_case, separated, THRESHOLD_RULE)
