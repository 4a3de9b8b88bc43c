"""Calibration evidence: published numbers agree with each other, the corpus is what it claims, and
oracle_node.calibration runs for real on a few sentences (loads MiniLM from its package; no chain)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from infera.vectors import quantize_packed
from oracle_node.calibration import embedding, report, run, threshold
from oracle_node.calibration.corpus import load_corpus

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
CALIBRATION = REPO / "docs" / "calibration"
RESULT_JSON = CALIBRATION / "all-minilm-l6-v2.json"
CORPUS = CALIBRATION / "corpus.jsonl"
VERIFICATION = REPO / "docs" / "verification.md"
MAX_INPUT_BYTES = 2048


def load_script(name: str) -> ModuleType:
    """Import a file from scripts/ (not a package) under its own module name."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus_builder() -> ModuleType:
    return load_script("build_calibration_corpus")


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RESULT_JSON.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def corpus_rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# Published evidence
# ---------------------------------------------------------------------------------------------


def test_json_and_verification_doc_state_the_same_threshold(published: dict[str, Any]) -> None:
    doc = VERIFICATION.read_text(encoding="utf-8")
    stated = {int(v) for v in re.findall(r"threshold_ppm = (\d+)", doc)}
    assert stated == {published["threshold_ppm"]}
    assert isinstance(published["threshold_ppm"], int)
    assert published["threshold"] == pytest.approx(published["threshold_ppm"] / 1_000_000)
    assert f"{published['threshold']:.6f}" in doc


def test_threshold_lies_between_lowest_honest_and_highest_cheat(published: dict[str, Any]) -> None:
    t = published["threshold_ppm"] / 1_000_000
    lowest_honest = published["lowest_honest"]["cosine"]
    highest_cheat = published["highest_cheat"]["cosine"]
    assert t < lowest_honest, "the threshold must never reject a measured honest variant"
    if published["separated"]:
        assert highest_cheat < t < lowest_honest
        assert published["grey_zone"]["exists"] is False
    else:
        assert published["grey_zone"]["exists"] is True
        assert published["grey_zone"]["interval"] == [t, highest_cheat]


def test_headline_extremes_match_the_per_case_statistics(published: dict[str, Any]) -> None:
    measured = [c for c in published["cases"] if "min" in c]
    honest = [c for c in measured if c["group"] == "honest"]
    cheats = [c for c in measured if c["group"] == "cheat"]
    lowest = min(honest, key=lambda c: c["min"])
    highest = max(cheats, key=lambda c: c["max"])
    assert (lowest["min"], lowest["name"]) == (published["lowest_honest"]["cosine"], published["lowest_honest"]["case"])
    assert (highest["max"], highest["name"]) == (
        published["highest_cheat"]["cosine"],
        published["highest_cheat"]["case"],
    )
    assert all(c["passed"] == c["n"] for c in honest), "every honest pair passes the published threshold"
    if published["separated"]:
        assert all(c["passed"] == 0 for c in cheats)


def test_published_run_covers_the_whole_corpus_and_quantization_check(
    published: dict[str, Any], corpus_rows: list[dict[str, str]]
) -> None:
    assert published["corpus"]["size"] == len(corpus_rows)
    q = published["quantization_check"]
    assert q["agrees_vs_cosine_mismatches"] == 0
    assert q["decision_flips_float_vs_int8"]["honest"] == 0
    assert q["decision_flips_float_vs_int8"]["cheat"] == 0
    for key in ("torch", "sentence_transformers"):
        assert published["environment"][key]


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


def is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" and ord(ch) >= 0x1F000


def test_corpus_has_enough_real_entries_and_every_edge_case(corpus_rows: list[dict[str, str]]) -> None:
    assert len(corpus_rows) >= 1000
    texts = [r["text"] for r in corpus_rows]
    assert all(isinstance(r["source"], str) and r["source"] for r in corpus_rows)
    assert len(set(texts)) == len(texts), "no duplicate texts"
    sizes = [len(t.encode("utf-8")) for t in texts]
    assert max(sizes) == MAX_INPUT_BYTES, "the longest input the node accepts is present"
    assert all(0 < s <= MAX_INPUT_BYTES for s in sizes)
    assert any(len(t.split()) == 1 and t.isalpha() for t in texts), "one word"
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts), "CJK"
    assert any(any("\u0400" <= ch <= "\u04ff" for ch in t) for t in texts), "Cyrillic"
    assert any(any(is_emoji(ch) for ch in t) for t in texts), "emoji"
    assert any(">>> " in t or t.startswith(("def ", "class ")) for t in texts), "code"
    real = [r for r in corpus_rows if not r["source"].startswith("edge:")]
    assert len(real) >= 1000
    assert len({r["source"].split(":")[0] for r in real}) >= 3, "several packages contribute text"


def test_corpus_builder_is_deterministic(corpus_builder: ModuleType) -> None:
    first = [e.to_json() for e in corpus_builder.build_corpus()]
    second = [e.to_json() for e in corpus_builder.build_corpus()]
    assert first == second
    assert len(first) >= 1000


# ---------------------------------------------------------------------------------------------
# Threshold policy (pure)
# ---------------------------------------------------------------------------------------------


def test_threshold_policy_separated_case() -> None:
    ppm, separated = threshold.choose_threshold(lowest_honest=0.9999, highest_cheat=0.99)
    assert separated
    assert 990_000 < ppm < 999_900
    # geometric mean of the deviations 1e-4 and 1e-2 is 1e-3
    assert ppm == 999_000


def test_threshold_policy_protects_honest_nodes_on_overlap() -> None:
    ppm, separated = threshold.choose_threshold(lowest_honest=0.999, highest_cheat=0.9995)
    assert not separated
    assert ppm / 1_000_000 < 0.999
    assert ppm == 1_000_000 - round(threshold.MIN_HONEST_HEADROOM * 1_000)


CALIBRATION_MODULES = ("cases", "cli", "corpus", "embedding", "plot", "report", "run", "stats", "threshold")


def test_importing_the_calibration_has_no_side_effects() -> None:
    # torch and the model load only when a calibration runs; matplotlib, a test extra, only when it plots.
    imports = ";".join(f"import oracle_node.calibration.{name}" for name in CALIBRATION_MODULES)
    code = (
        f"import sys;{imports};"
        "heavy = {'sentence_transformers', 'torch', 'matplotlib'} & set(sys.modules);"
        "assert not heavy, heavy;"
        "assert callable(oracle_node.calibration.cli.main)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_module_entry_point_answers_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "oracle_node.calibration", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--limit" in result.stdout


def test_reference_is_committed_as_the_node_commits() -> None:
    # The contract judges the bytes a node commits, so every cosine here is taken on those bytes.
    vectors = np.random.default_rng(7).normal(size=(5, 384)).astype(np.float32)
    assert [row.tobytes() for row in embedding.commitments(vectors)] == [quantize_packed(v) for v in vectors]


# ---------------------------------------------------------------------------------------------
# Small real run
# ---------------------------------------------------------------------------------------------


# One case of each kind keeps the real run well inside the test-time budget.
SMALL_RUN_CASES = (
    "fp32-b1",
    "bf16-autocast",
    "int8-dynamic",
    "layers-1of6",
    "pool-cls",
    "first-8-tokens",
    "half-words",
    "other-sentence",
    "static-word-avg",
)


@pytest.fixture(scope="module")
def small_run() -> Iterator[Any]:
    entries = load_corpus(CORPUS, limit=16)
    yield entries, run.run_calibration(entries, only=SMALL_RUN_CASES)


def test_small_real_run_measures_every_case(small_run: Any) -> None:
    entries, result = small_run
    payload = result.payload
    assert len(entries) == 16
    assert payload["corpus"]["size"] == 16
    by_name = {c["name"]: c for c in payload["cases"]}
    measured = {n for n, c in by_name.items() if c["group"] != "probe"}
    assert measured == set(SMALL_RUN_CASES)
    assert any(c["group"] == "probe" and c["name"].startswith("noise-") for c in payload["cases"])
    # the same weights without padding agree almost exactly after int8 quantization
    assert by_name["fp32-b1"]["min"] > 0.9999
    # a model with one of six layers is nowhere near the honest vector
    assert by_name["layers-1of6"]["max"] < 0.9
    assert 0 < payload["threshold_ppm"] < 1_000_000
    assert payload["threshold"] < payload["lowest_honest"]["cosine"]


def test_small_real_run_writes_outputs_and_refreshes_verification(small_run: Any, tmp_path: Path) -> None:
    _entries, result = small_run
    doc = tmp_path / "verification.md"
    # A section written under the script's old name is replaced too, not left beside the new one.
    old_begin = "<!-- calibration:begin (generated by scripts/calibrate.py; do not edit) -->"
    doc.write_text(f"# Verification\n\nprose kept\n\n{old_begin}\nstale\n{report.MARKER_END}\n\ntail kept\n")
    report.write_outputs(result, tmp_path / "out", doc, CORPUS)
    data = json.loads((tmp_path / "out" / "all-minilm-l6-v2.json").read_text())
    assert data["threshold_ppm"] == result.payload["threshold_ppm"]
    assert (tmp_path / "out" / "all-minilm-l6-v2.png").stat().st_size > 10_000
    assert "| case |" in (tmp_path / "out" / "all-minilm-l6-v2.md").read_text()
    text = doc.read_text()
    assert "prose kept" in text and "tail kept" in text and "stale" not in text
    assert f"threshold_ppm = {data['threshold_ppm']}" in text
    assert text.count("calibration:begin") == 1 and report.MARKER_BEGIN in text
