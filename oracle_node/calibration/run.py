"""One calibration: embed the corpus through the node's path, measure every case, choose ``t``."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracle_node.calibration.cases import (
    Context,
    cheat_cases,
    honest_cases,
    identical_input_pairs,
    nearest_case,
    noise_cases,
)
from oracle_node.calibration.corpus import MODEL_NAME, CorpusEntry
from oracle_node.calibration.embedding import commitments, reference_embedder
from oracle_node.calibration.stats import (
    Measured,
    measure,
    quantization_check,
    self_quantization_loss,
    summarise,
    threshold_sweep,
)
from oracle_node.calibration.threshold import ThresholdChoice, decide
from oracle_node.inference.embedder import Embedder


@dataclass
class Report:
    payload: dict[str, Any]
    results: list[Measured] = field(default_factory=list)


def environment(embedder: Embedder, device: str) -> dict[str, Any]:
    import sentence_transformers
    import torch

    cpu = torch.backends.cpu.get_cpu_capability()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_capability": cpu,
        "avx512_bf16": bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()),
        "amx_fp16": bool(getattr(torch.cpu, "_is_amx_fp16_supported", lambda: False)()),
        "torch_threads": torch.get_num_threads(),
        "device_flag": device,
        "gpu": "not measured (no GPU on the calibration machine)" if device == "cpu" else f"measured on {device}",
        "embedding_dim": embedder.dimension,
        "max_seq_length": int(embedder.model.max_seq_length or 0),
    }


def run_calibration(
    entries: Sequence[CorpusEntry],
    device: str = "cpu",
    embedder: Embedder | None = None,
    log: Callable[[str], None] | None = None,
    only: Collection[str] | None = None,
) -> Report:
    """Measure every case on ``entries`` and choose the threshold. Pure apart from model inference.

    ``embedder`` is the reference (by default the node's, on the CPU); ``device`` adds honest
    variants on that accelerator. ``only`` restricts the honest and cheat cases to those names
    (quick checks); probes always run.
    """
    import torch

    say = log or (lambda _msg: None)
    embedder = embedder or reference_embedder("cpu")
    texts = [e.text for e in entries]
    threads = torch.get_num_threads()
    start = time.perf_counter()
    reference = embedder.embed(texts)
    ref_q = commitments(reference)
    say(f"reference: {len(texts)} entries in {time.perf_counter() - start:.1f}s")
    ctx = Context(embedder=embedder, texts=texts, reference=reference, reference_threads=threads)

    results: list[Measured] = []
    for case in honest_cases(device) + cheat_cases():
        if only is not None and case.name not in only:
            continue
        results.append(measure(case, ctx, ref_q))
        say(f"{case.name}: {results[-1].seconds:.1f}s{' (skipped)' if results[-1].skipped else ''}")
    choice = decide(results)
    for case in [*noise_cases(choice.threshold, reference.shape[1]), nearest_case()]:
        results.append(measure(case, ctx, ref_q))

    stats = [summarise(m, entries, choice.threshold_ppm, ref_q) for m in results]
    payload: dict[str, Any] = {
        "model": MODEL_NAME,
        "threshold_ppm": choice.threshold_ppm,
        "threshold": choice.threshold,
        "threshold_rule": choice.rule,
        "separated": choice.separated,
        "lowest_honest": {"cosine": choice.lowest_honest, "case": choice.lowest_honest_case},
        "highest_cheat": {"cosine": choice.highest_cheat, "case": choice.highest_cheat_case},
        "margins": margins(choice),
        "grey_zone": grey_zone(choice, stats),
        "quantization_check": quantization_check(results, ref_q, choice.threshold_ppm),
        "threshold_sweep": threshold_sweep(results, choice.threshold),
        "self_quantization": self_quantization_loss(reference, ref_q),
        "corpus": corpus_facts(entries, ctx),
        "environment": environment(embedder, device),
        "cases": stats,
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    return Report(payload=payload, results=results)


def margins(choice: ThresholdChoice) -> dict[str, float]:
    """Distances from t to either side, absolute and as factors of deviation (1 - cosine)."""
    return {
        "honest": choice.lowest_honest - choice.threshold,
        "cheat": choice.threshold - choice.highest_cheat,
        "honest_headroom_factor": (1 - choice.threshold) / max(1 - choice.lowest_honest, 1e-12),
        "cheat_headroom_factor": (1 - choice.highest_cheat) / max(1 - choice.threshold, 1e-12),
    }


def corpus_facts(entries: Sequence[CorpusEntry], ctx: Context) -> dict[str, Any]:
    """Size, edge cases, and distinct texts the model cannot tell apart (same token ids)."""
    same = identical_input_pairs([tuple(x) for x in ctx.input_ids()])
    return {
        "size": len(entries),
        "edge_cases": sum(e.source.startswith("edge:") for e in entries),
        "distinct_texts_same_model_input": [[entries[a].text[:80], entries[b].text[:80]] for a, b in same],
    }


def grey_zone(choice: ThresholdChoice, stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Cheats that pass the chosen threshold (empty when the threshold separates them all)."""
    passing = [
        {"case": s["name"], "passed": s["passed"], "n": s["n"], "max": s["max"]}
        for s in stats
        if s["group"] == "cheat" and s.get("passed", 0) > 0
    ]
    if choice.separated:
        return {"exists": False, "interval": None, "cheats_passing": passing}
    return {"exists": True, "interval": [choice.threshold, choice.highest_cheat], "cheats_passing": passing}
