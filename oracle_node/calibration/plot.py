"""The calibration plot. matplotlib is a test extra, not a node dependency: it is imported here,
inside :func:`plot`, so the node installs and the rest of the package imports without it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from oracle_node.calibration.corpus import MODEL_NAME
from oracle_node.calibration.stats import Measured

COLOURS: dict[str, str] = {"honest": "tab:green", "cheat": "tab:red", "probe": "tab:gray"}
FLOOR = 1e-7
"""1 - cosine is clipped here for the log axis (identical vectors give exactly 0)."""


def plot(results: Sequence[Measured], threshold: float, path: Path) -> None:
    """Per-case spread of 1 - cosine (log axis) and pooled honest/cheat histograms, with t."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [m for m in results if m.skipped is None and m.included.any()]
    fig, (ax_cases, ax_hist) = plt.subplots(
        1, 2, figsize=(15, 0.36 * len(shown) + 2.5), gridspec_kw={"width_ratios": [3, 2]}
    )
    data = [np.clip(1.0 - m.int8_cos[m.included], FLOOR, None) for m in shown]
    box = ax_cases.boxplot(data, orientation="horizontal", whis=(0, 100), patch_artist=True, widths=0.6)
    for patch, m in zip(box["boxes"], shown, strict=False):
        patch.set_facecolor(COLOURS[m.case.group])
        patch.set_alpha(0.6)
    ax_cases.set_yticks(range(1, len(shown) + 1), [f"{m.case.name} ({m.case.group})" for m in shown], fontsize=8)
    ax_cases.invert_yaxis()
    ax_cases.set_xscale("log")
    ax_cases.set_xlabel(
        f"1 - cosine to the honest reference (int8, log scale; whiskers = min/max; 0 drawn at {FLOOR:g})"
    )
    ax_cases.axvline(1.0 - threshold, color="black", linestyle="--", label=f"threshold t = {threshold:.6f}")
    ax_cases.legend(loc="upper center")

    bins = np.logspace(math.log10(FLOOR), math.log10(2.0), 60)
    for group in ("honest", "cheat"):
        pooled = np.concatenate(
            [d for d, m in zip(data, shown, strict=False) if m.case.group == group] or [np.array([])]
        )
        ax_hist.hist(pooled, bins=bins, color=COLOURS[group], alpha=0.6, label=f"{group} ({len(pooled)} pairs)")
    ax_hist.axvline(1.0 - threshold, color="black", linestyle="--", label="threshold")
    ax_hist.set_xscale("log")
    ax_hist.set_yscale("log")
    ax_hist.set_xlabel("1 - cosine (int8, log scale)")
    ax_hist.set_ylabel("pairs")
    ax_hist.legend()
    fig.suptitle(f"{MODEL_NAME}: honest variants vs cheats (left of the line passes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
