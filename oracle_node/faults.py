"""Adversarial behaviours, for tests and drills only: what a lazy or dishonest node would do.

An honest node runs with ``fault = none``. Each fault changes exactly one step, so a test can
show the contract's answer to it (slashing, no payment) with a real node process.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import numpy.typing as npt

from oracle_node.config import CrashPoint, Fault
from oracle_node.inference.embedder import Embedder

CHEAP_LAYERS = 3


def adjust_model(fault: Fault, embedder: Embedder) -> None:
    """A cheaper model: MiniLM cut to 3 of its 6 layers. Its weights file still matches the digest."""
    if fault == "cheaper-model":
        embedder.keep_layers(CHEAP_LAYERS)


def adjust_input(fault: Fault, text: str) -> str:
    if fault == "truncate-input":
        words = text.split()
        return " ".join(words[: max(1, len(words) // 2)])
    return text


def adjust_vector(fault: Fault, vector: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    if fault == "random-vector":
        return rng.standard_normal(vector.shape).astype(np.float32)
    return vector


def reveals(fault: Fault) -> bool:
    return fault != "withhold-reveal"


def reveal_salt(fault: Fault, salt: bytes) -> bytes:
    """A wrong salt makes the reveal not match the commitment."""
    return bytes(32) if fault == "wrong-reveal" else salt


def crash_at(setting: CrashPoint, point: CrashPoint) -> None:
    """Die at once with SIGKILL at `point` (a drill for the restart tests): no cleanup, no
    flush, exactly what an operator's `kill -9` or a power cut does there."""
    if setting == point:
        os.kill(os.getpid(), signal.SIGKILL)
