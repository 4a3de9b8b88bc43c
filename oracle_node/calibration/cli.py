"""``python -m oracle_node.calibration`` (``make calibrate``): run the calibration, write the evidence."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from oracle_node.calibration.corpus import DEFAULT_CORPUS, DEFAULT_OUT, DEFAULT_VERIFICATION, REPO_ROOT, load_corpus
from oracle_node.calibration.report import render_report, write_outputs
from oracle_node.calibration.run import run_calibration


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m oracle_node.calibration",
        description="Calibrate the cosine threshold of Infera's verification.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default {DEFAULT_OUT.relative_to(REPO_ROOT)}; a temp folder on quick runs)",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL corpus")
    parser.add_argument(
        "--device",
        default="cpu",
        help="accelerator to compare with the CPU reference (e.g. cuda); 'cpu' records GPU vs CPU as not measured",
    )
    parser.add_argument("--limit", type=int, default=None, help="quick run on N entries spread over the corpus")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated honest/cheat case names to run (a quick run, like --limit)",
    )
    parser.add_argument(
        "--verification",
        type=Path,
        default=None,
        help="markdown whose generated section to refresh (default docs/verification.md on full runs, none on quick runs)",
    )
    return parser.parse_args(argv)


def log(msg: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    sys.stderr.write(msg + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    quick = args.limit is not None or only is not None
    out: Path = args.out or (Path(tempfile.mkdtemp(prefix="infera-calibration-")) if quick else DEFAULT_OUT)
    verification: Path | None = args.verification or (None if quick else DEFAULT_VERIFICATION)
    entries = load_corpus(args.corpus, args.limit)

    report = run_calibration(entries, device=args.device, log=log, only=only)
    write_outputs(report, out, verification, args.corpus)
    sys.stdout.write(render_report(report.payload) + "\n")
    sys.stdout.write(f"wrote {out}{' and ' + str(verification) if verification else ''}\n")
