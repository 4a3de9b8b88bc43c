"""`python -m benchmarks.run` (`make bench`): every measurement, the table, latest.json, the plots
and BENCHMARKS.md. Sizes come from flags, each with an INFERA_BENCH_* environment default."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import structlog

import infera
import oracle_node
from benchmarks import corpus, cosine, embedding, gas, plots, relayer, report, results, throughput
from benchmarks.chainops import BenchError
from benchmarks.machine import meta
from infera.devnet import DevnetError
from infera.errors import InferaError
from oracle_node.logs import configure

log = structlog.get_logger("benchmarks")
ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@dataclass(frozen=True)
class BenchConfig:
    jobs: int = 512  # enough for the pipeline to fill: with one wave, p50 is the pipeline's depth
    submit_batch: int = 64
    gas_jobs: int = 16
    few_nodes: int = 10
    many_nodes: int = 1000
    lone_jobs: int = 5
    timeout: float = 600.0
    relayer_requests: int = 2000
    relayer_concurrency: int = 32
    relayer_seconds: float = 30.0

    def check(self) -> None:
        """Refuse sizes the contracts or the run cannot take (JobRegistry.MAX_BATCH is 64)."""
        if not 1 <= self.submit_batch <= 64 or not 1 <= self.gas_jobs <= 64:
            raise SystemExit("--submit-batch and --gas-jobs must be 1 to 64 (one submit call takes at most 64 inputs)")
        if self.jobs < 1 or self.lone_jobs < 1 or min(self.few_nodes, self.many_nodes) < 3:
            raise SystemExit("--jobs and --lone-jobs must be at least 1, --few-nodes and --many-nodes at least 3")


HELP = {
    "jobs": "jobs submitted together to the three node processes, in each block mode",
    "submit_batch": "inputs per submit call in those runs",
    "gas_jobs": "jobs per gas scenario (all in one submit)",
    "few_nodes": "registered nodes in the baseline of the node-count gas scenario",
    "many_nodes": "registered nodes in the node-count gas scenario",
    "lone_jobs": "jobs submitted one at a time to the idle network (latency_lone_job_s is their median)",
    "timeout": "seconds to wait for a run's jobs to be final",
    "relayer_requests": "most POST /v1/jobs (and GET /health) requests of the relayer load run",
    "relayer_concurrency": "concurrent client connections of the relayer load run",
    "relayer_seconds": "longest each relayer load run may take",
}
ONLY = {"relayer": "only the relayer intake run: prints its figures, writes <out>/relayer.json, leaves "
                   "latest.json and BENCHMARKS.md as they are"}


def parse_args(argv: list[str] | None) -> tuple[BenchConfig, Path, Path, bool, str | None]:
    defaults = BenchConfig()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    for name, value in asdict(defaults).items():
        env = f"INFERA_BENCH_{name.upper()}"
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=type(value)(os.environ.get(env, value)),
                            help=f"{HELP[name]}; default {value} (or ${env})")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="latest.json and the plots")
    parser.add_argument("--markdown", type=Path, default=ROOT / "BENCHMARKS.md", help="the report to write")
    parser.add_argument("--keep-logs", action="store_true", help="keep the devnet and node logs even on success")
    parser.add_argument("--only", choices=sorted(ONLY), help="; ".join(f"{k}: {v}" for k, v in ONLY.items()))
    args = parser.parse_args(argv)
    config = BenchConfig(**{name: getattr(args, name) for name in asdict(defaults)})
    config.check()
    return config, args.out, args.markdown, args.keep_logs, args.only


def use_this_checkout() -> None:
    """Measure this checkout's code: the SDK and node imported here, and those of the processes
    started (ape deploy, oracle-node), must come from the folder holding this package; its build
    must hold the cosine harness."""
    cosine.harness_artifact()
    for module in (infera, oracle_node):
        if not Path(str(module.__file__)).resolve().is_relative_to(ROOT):
            raise BenchError(f"{module.__name__} is imported from {module.__file__}, not from {ROOT}: "
                             f"run with PYTHONPATH={ROOT / 'sdk'}:{ROOT} (make bench sets it)")
    os.environ["INFERA_PROJECT_ROOT"] = str(ROOT)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "sdk"), str(ROOT), os.environ.get("PYTHONPATH", "")])


def step(name: str, fn: Callable[[], T]) -> T:
    started = time.perf_counter()
    log.info("step started", step=name)
    value = fn()
    log.info("step done", step=name, seconds=round(time.perf_counter() - started, 1))
    return value


def measure(config: BenchConfig, run_dir: Path) -> results.Measurements:
    c = config
    texts = corpus.sentences(c.jobs + c.lone_jobs)
    bulk, lone = texts[: c.jobs], texts[c.jobs :]
    raw = step("load MiniLM for the raw encode", lambda: embedding.RawEncoder(bulk))
    step("raw encode, before any node", raw.measure)
    return results.Measurements(
        gas_single=step("gas, single", lambda: _required(gas.three_node_gas(run_dir / "gas-single", c.gas_jobs, False))),
        gas_batched=step("gas, batched", lambda: gas.three_node_gas(run_dir / "gas-batched", c.gas_jobs, True)),
        cosine=step("cosine gas", lambda: cosine.cosine_gas(run_dir / "cosine")),
        fleet_few=step(f"gas, {c.few_nodes} nodes", lambda: gas.fleet_gas(run_dir / "fleet-few", c.gas_jobs, c.few_nodes)),
        fleet_many=step(f"gas, {c.many_nodes} nodes",
                        lambda: gas.fleet_gas(run_dir / "fleet-many", c.gas_jobs, c.many_nodes)),
        instant=step("nodes, instant mining", lambda: throughput.network_run(
            run_dir / "instant", 0, bulk, lone, c.submit_batch, c.timeout, after_bulk=raw.measure)),
        blocks=step("nodes, 1 s blocks",
                    lambda: throughput.network_run(run_dir / "blocks", 1, bulk, [], c.submit_batch, c.timeout)),
        solo=step("one node alone, for node vs raw", lambda: throughput.solo_node_run(
            run_dir / "solo", bulk, c.submit_batch, c.timeout)),
        raw=raw.result(),
        relayer=step("relayer intake", lambda: _relayer(c, run_dir / "relayer")),
    )


def _relayer(c: BenchConfig, run_dir: Path) -> relayer.RelayerRun:
    return relayer.relayer_run(run_dir, c.relayer_requests, c.relayer_concurrency, c.relayer_seconds)


def only_relayer(config: BenchConfig, run_dir: Path, out: Path) -> None:
    """`--only relayer`: the relayer's figures alone, in the same keys as latest.json's, into
    <out>/relayer.json; the full report is left as it is (regenerating it needs every run)."""
    run = step("relayer intake", lambda: _relayer(config, run_dir / "relayer"))
    data = {"meta": meta() | {"config": asdict(config), "only": "relayer"}, **results.relayer_headline(run),
            "baseline": results.relayer_baseline(run), "details": {"relayer": results.relayer_details(run)},
            "method": {"relayer_requests_per_s": results.METHOD["relayer_requests_per_s"]}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "relayer.json").write_text(json.dumps(data, indent=2) + "\n")
    print(report.text_table(report.relayer_rows(data["baseline"])), flush=True)


def _required(value: T | None) -> T:
    if value is None:
        raise BenchError("a required measurement returned nothing")
    return value


def assemble(config: BenchConfig, m: results.Measurements, info: dict[str, Any]) -> dict[str, Any]:
    info["config"] = asdict(config)
    return {"meta": info, **results.headline(m), "baseline": results.baseline(m), "details": results.details(m),
            "method": results.METHOD, "notes": results.notes(m)}


def write(out: Path, markdown_path: Path, data: dict[str, Any], m: results.Measurements) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    images = plots.write_plots(m, out)
    markdown_path.write_text(report.markdown(data, out / "latest.json", images, markdown_path.resolve().parent))
    log.info("results written", json=str(out / "latest.json"), plots=[p.name for p in images], markdown=str(markdown_path))


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    configure("INFO", json=False)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    config, out, markdown_path, keep_logs, only = parse_args(argv)
    run_dir = Path(tempfile.mkdtemp(prefix="infera-bench-"))
    ok = False
    try:
        use_this_checkout()
        if only == "relayer":
            only_relayer(config, run_dir, out)
            ok = True
            return 0
        info = meta() | {"load_average_start": list(os.getloadavg())}
        started = time.perf_counter()
        m = measure(config, run_dir)
        info |= {"load_average_end": list(os.getloadavg()), "duration_s": round(time.perf_counter() - started, 1)}
        data = assemble(config, m, info)
        write(out, markdown_path, data, m)
        print(report.text_table(report.comparison_rows(data)), flush=True)
        ok = True
    except KeyboardInterrupt:
        log.error("interrupted: every process the benchmark started has been stopped")
        return 130
    except (InferaError, DevnetError) as exc:  # BenchError included; anything else shows its traceback
        log.error("benchmark failed", error=str(exc), kind=type(exc).__name__)
        return 1
    finally:
        if ok and not keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            log.info("logs kept", run_dir=str(run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
