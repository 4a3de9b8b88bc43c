"""The results table (printed and in BENCHMARKS.md) and BENCHMARKS.md itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.lifecycle import PHASES

Row = tuple[str, str, str, str, str]
HEADER: Row = ("figure", "value", "baseline (same run)", "baseline value", "ratio")


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "gas":
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"
    return f"{value:.2f}{unit}"


def _ratio(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}x"


def comparison_rows(results: dict[str, Any]) -> list[Row]:
    """One row per headline figure against its same-run baseline."""
    b, config = results["baseline"], results["meta"]["config"]
    few, many = (results["details"]["gas"][f"{config[k]}_nodes"] for k in ("few_nodes", "many_nodes"))
    fleet_key = f"gas_{many['nodes']}_vs_{few['nodes']}_nodes"
    spec = [
        ("gas per verified job, batched, 3 nodes", "gas_batched_vs_single", "gas", "one job per tx (single)"),
        (f"gas per verified job, {many['nodes']} nodes ({many['mode']})", fleet_key, "gas",
         f"{few['nodes']} nodes ({few['mode']})"),
        (f"committee draw, lone job, {many['nodes']} nodes", f"selection_{many['nodes']}_vs_{few['nodes']}_nodes",
         "gas", f"{few['nodes']} nodes"),
        ("cosine gas per 384-dim pair", "cosine_pair_vs_vector_prepare", "gas", "prepare one vector"),
        ("node jobs embedded+committed/s", "node_vs_raw_encode", "/s", "raw encode texts/s"),
        ("verified jobs/s, instant mining", "jobs_per_s_instant_vs_1s_blocks", "/s", "1 s blocks"),
        ("latency p50, submit to final", "latency_p50_vs_lone_job", "s", "lone job"),
    ]
    rows = [(name, _fmt(b[key]["value"], unit), base, _fmt(b[key]["baseline"], unit), _ratio(b[key]["ratio"]))
            for name, key, unit, base in spec]
    p99, lone = results["latency_p99_s"], results["latency_lone_job_s"]
    rows.append(("latency p99, submit to final", _fmt(p99, "s"), "lone job", _fmt(lone, "s"),
                 _ratio(p99 / lone if lone else None)))
    return rows + relayer_rows(b)


def relayer_rows(b: dict[str, Any]) -> list[Row]:
    """The relayer's intake against GET /health (absent from results older than the relayer)."""
    spec = [("relayer submissions accepted/s", "relayer_submit_vs_health", "/s", "GET /health/s"),
            ("relayer submission p99", "relayer_p99_vs_health_p99", "s", "GET /health p99")]
    return [(name, _fmt(b[key]["value"], unit), base, _fmt(b[key]["baseline"], unit), _ratio(b[key]["ratio"]))
            for name, key, unit, base in spec if key in b]


def phase_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Gas per job by phase (rows) for every gas scenario (columns)."""
    scenarios = [(k, v) for k, v in results["details"]["gas"].items() if v is not None]
    header = ["phase"] + [f"{v['mode']}, {v['nodes']} nodes" for _, v in scenarios]
    rows = [[phase] + [f"{v['gas_total_by_phase'][phase] / v['jobs']:,.0f}" for _, v in scenarios] for phase in PHASES]
    rows.append(["total"] + [f"{sum(v['gas_total_by_phase'].values()) / v['jobs']:,.0f}" for _, v in scenarios])
    if all("first_round" in v for _, v in scenarios):  # results written before first_round existed lack it
        rows.append(["total, first round (fresh deployment)"]
                    + [f"{v['first_round']['total']:,.0f}" for _, v in scenarios])
    return header, rows


def text_table(rows: list[Row]) -> str:
    table = [HEADER, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header: list[str] | tuple[str, ...], rows: list[list[str]] | list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _machine_table(meta: dict[str, Any]) -> str:
    m = meta["machine"]
    rows = [
        ["CPU", f"{m['cpu_model']}, {m['cores']} cores"], ["RAM", f"{m['ram_gib']} GiB"], ["OS", m["os"]],
        ["Python", m["python"]], ["torch", f"{m['torch']} ({m['torch_threads']} threads, CUDA: {m['cuda']})"],
        ["sentence-transformers", m["sentence_transformers"]],
        ["load average (1 min) at start / end", f"{meta['load_average_start'][0]:.2f} / {meta['load_average_end'][0]:.2f}"],
    ]
    return markdown_table(["", ""], rows)


def _rel(path: Path, root: Path) -> str:
    """``path`` as a link from a file in ``root`` (absolute when it lies elsewhere)."""
    resolved = path.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)


def markdown(results: dict[str, Any], json_path: Path, plots: list[Path], root: Path) -> str:
    meta, config = results["meta"], results["meta"]["config"]
    header, rows = phase_rows(results)
    notes = "\n".join(f"- **{key}**: {text}" for key, text in results["method"].items())
    extra = "\n".join(f"- {text}" for text in results["notes"])
    images = "\n\n".join(f"![{p.stem}]({_rel(p, root)})" for p in plots)
    return f"""# Benchmarks

Written by `make bench` (`python -m benchmarks.run`) at {meta['timestamp']}, commit `{meta['git_commit']}`,
in {meta['duration_s']:.0f} s. Do not edit by hand: rerun `make bench`. Every figure is compared with a
baseline measured in the same run. Raw numbers: [`{_rel(json_path, root)}`]({_rel(json_path, root)}).

## Machine

{_machine_table(meta)}

## Results

{markdown_table(HEADER, comparison_rows(results))}

Gas per verified job by phase ({config['gas_jobs']} jobs per scenario; the second of two rounds, as in service: new
jobs overwrite the seat slots ended jobs left, while the first round on a fresh deployment writes them from zero):

{markdown_table(header, rows)}

{images}

## How each figure is measured

{notes}

Notes from this run:

{extra}

## Reproduce

```bash
make bench                                   # the defaults; this run took {meta['duration_s'] / 60:.0f} minutes
make bench BENCH_ARGS="--jobs 32 --many-nodes 200"   # smaller and quicker
.venv/bin/python -m benchmarks.run --help    # every option (each also has an INFERA_BENCH_* variable)
```

This run: {', '.join(f'{k}={v}' for k, v in config.items())}. Each scenario starts its own devnet
(anvil `--optimism`) on a free port and deploys with `ape run deploy`; every process started is stopped
by PID on exit. Figures on a shared or busy machine move: compare only within one run.
"""
