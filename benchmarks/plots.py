"""PNG plots of one run's results, written beside latest.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from benchmarks.lifecycle import PHASES  # noqa: E402
from benchmarks.results import Measurements, node_jobs_per_s  # noqa: E402

DPI = 120


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def gas_by_phase(m: Measurements, out: Path) -> Path:
    """Stacked bars: gas per verified job by phase, per scenario."""
    scenarios = [(f"single\n{m.gas_single.nodes} nodes", m.gas_single)]
    if m.gas_batched is not None:
        scenarios.append((f"batched\n{m.gas_batched.nodes} nodes", m.gas_batched))
    scenarios += [(f"{g.mode}\n{g.nodes} nodes", g) for g in (m.fleet_few, m.fleet_many)]
    fig, ax = plt.subplots(figsize=(8, 4))
    bottoms = [0.0] * len(scenarios)
    for phase in PHASES:
        heights = [g.ledger.gas[phase] / g.jobs for _, g in scenarios]
        ax.bar([name for name, _ in scenarios], heights, bottom=bottoms, label=phase)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for i, total in enumerate(bottoms):
        ax.annotate(f"{total:,.0f}", (i, total), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("gas per verified job")
    ax.set_ylim(0, max(bottoms) * 1.1)
    ax.set_title(f"Gas per job by phase ({m.gas_single.jobs} jobs per scenario)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out / "gas_by_phase.png")


def _cdf(ax: Any, values: list[float], label: str) -> None:
    ordered = sorted(values)
    ax.step(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], where="post", label=label)


def latency(m: Measurements, out: Path) -> Path:
    """Cumulative distribution of submit-to-final latency in both block modes, lone job marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    _cdf(ax, m.instant.bulk.latencies(), "instant mining")
    _cdf(ax, m.blocks.bulk.latencies(), "1 s blocks")
    for i, run in enumerate(m.instant.lone):
        ax.axvline(run.latencies()[0], color="black", linestyle="--", linewidth=1,
                   label="lone job (instant)" if i == 0 else None)
    ax.set_xlim(left=0)
    ax.set_xlabel("submit to final, s (wall clock)")
    ax.set_ylabel("fraction of jobs final")
    ax.set_title(f"Latency, {len(m.instant.bulk.job_ids)} jobs submitted together, 3 node processes")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, out / "latency.png")


def _label_bars(ax: Any, bars: Any, fmt: str) -> None:
    for bar in bars:
        ax.annotate(fmt.format(bar.get_height()), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)


def throughput(m: Measurements, out: Path) -> Path:
    """Left: verified jobs/s by block mode. Right: each node's jobs/s against raw encode."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    modes = {"instant mining": m.instant.bulk.verified_jobs_per_s, "1 s blocks": m.blocks.bulk.verified_jobs_per_s}
    _label_bars(left, left.bar(list(modes), list(modes.values()), color=["tab:blue", "tab:orange"]), "{:.2f}")
    left.set_ylabel("verified jobs per second")
    left.set_title("End to end, 3 node processes")
    bars = {f"node {r.node}": r.jobs_per_s for r in m.instant.node_rates}
    bars["node mean"] = node_jobs_per_s(m.instant)
    bars["raw encode"] = m.raw.texts_per_s
    colors = ["tab:green"] * (len(bars) - 1) + ["tab:gray"]
    _label_bars(right, right.bar(list(bars), list(bars.values()), color=colors), "{:.1f}")
    right.set_ylabel("jobs (texts) per second")
    right.set_title("Node embed+commit vs raw encode")
    right.tick_params(axis="x", labelsize=8)
    return _save(fig, out / "throughput.png")


def write_plots(m: Measurements, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [gas_by_phase(m, out), latency(m, out), throughput(m, out)]
