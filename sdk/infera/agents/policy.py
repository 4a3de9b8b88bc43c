"""Decisions over similarity: the nearest prototype by cosine, accepted only above that label's
own threshold (else the agent abstains). Prototypes are means of verified vectors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from infera.agents.memory import VerifiedVector

DEFAULT_THRESHOLD = 0.35


def unit(vector: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A vector scaled to length 1 (the zero vector stays zero)."""
    arr = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(arr))
    return arr / norm if norm > 0 else arr


@dataclass(frozen=True)
class Decision:
    """What the policy thought of one vector."""

    label: str | None  # the nearest label if its score clears that label's threshold, else None
    nearest: str | None
    score: float  # cosine to the nearest prototype
    threshold: float  # the nearest label's threshold
    scores: dict[str, float]

    @property
    def margin(self) -> float:
        """How far the nearest label is ahead of the runner-up (1.0 with a single label)."""
        ranked = sorted(self.scores.values(), reverse=True)
        return ranked[0] - ranked[1] if len(ranked) > 1 else 1.0


@dataclass
class Policy:
    """Nearest prototype with per-label thresholds; serialisable to the agent's state."""

    prototypes: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    default_threshold: float = DEFAULT_THRESHOLD

    @classmethod
    def from_examples(cls, examples: Mapping[str, Iterable[VerifiedVector]],
                      thresholds: Mapping[str, float] | None = None,
                      default_threshold: float = DEFAULT_THRESHOLD) -> Policy:
        """A prototype per label: the mean of its examples' unit vectors, made unit again."""
        policy = cls(default_threshold=default_threshold)
        for label, vectors in examples.items():
            units = [unit(v.vector) for v in vectors]
            if not units:
                raise ValueError(f"label {label!r} has no verified examples")
            policy.prototypes[label] = unit(np.mean(units, axis=0))
            policy.thresholds[label] = (thresholds or {}).get(label, default_threshold)
        return policy

    def threshold(self, label: str) -> float:
        return self.thresholds.get(label, self.default_threshold)

    def decide(self, vector: npt.ArrayLike) -> Decision:
        if not self.prototypes:
            return Decision(None, None, 0.0, self.default_threshold, {})
        v = unit(vector)
        scores = {label: float(v @ proto) for label, proto in self.prototypes.items()}
        nearest = max(scores, key=lambda label: scores[label])
        score, threshold = scores[nearest], self.threshold(nearest)
        return Decision(nearest if score >= threshold else None, nearest, score, threshold, scores)

    # ---------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        return {
            "prototypes": {k: [round(float(x), 7) for x in v] for k, v in self.prototypes.items()},
            "thresholds": dict(self.thresholds),
            "default_threshold": self.default_threshold,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Policy:
        return cls(
            prototypes={k: np.asarray(v, dtype=np.float64) for k, v in state["prototypes"].items()},
            thresholds={k: float(v) for k, v in state["thresholds"].items()},
            default_threshold=float(state["default_threshold"]),
        )
