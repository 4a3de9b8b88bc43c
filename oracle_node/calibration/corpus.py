"""The calibration corpus (``docs/calibration/corpus.jsonl``) and the files the run writes next to it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The package runs from its checkout (an editable install): the evidence lives in the repository.
REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = "all-minilm-l6-v2"
DEFAULT_OUT = REPO_ROOT / "docs" / "calibration"
DEFAULT_CORPUS = DEFAULT_OUT / "corpus.jsonl"
DEFAULT_VERIFICATION = REPO_ROOT / "docs" / "verification.md"


@dataclass(frozen=True)
class CorpusEntry:
    text: str
    source: str


def load_corpus(path: Path, limit: int | None = None) -> list[CorpusEntry]:
    """Read the JSONL corpus; with ``limit``, keep that many entries spread over the whole file.

    Spreading (rather than taking the head) keeps a quick run representative: the file is grouped
    by source, with the edge cases at the end.
    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = [CorpusEntry(text=str(r["text"]), source=str(r["source"])) for r in rows]
    if limit is not None and limit < len(entries):
        picks = np.linspace(0, len(entries) - 1, num=max(limit, 1)).round().astype(int)
        entries = [entries[i] for i in sorted(set(picks.tolist()))]
    return entries


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
