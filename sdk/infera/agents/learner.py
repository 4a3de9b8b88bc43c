"""Learning from outcomes (an evaluator, in ElizaOS's terms): when the world says what a subject
really was, the policy moves. A right call pulls the label's prototype toward the example and
eases its threshold; a wrong call raises the wrongly chosen label's threshold and pulls the true
label's prototype toward the example; an abstention on a known label lowers that label's
threshold toward the score it missed by; an unknown true label becomes a new prototype."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from infera.agents.policy import Decision, Policy, unit


@dataclass
class Learner:
    rate: float = 0.2  # how far a prototype moves toward an example (0..1)
    step: float = 0.02  # how far a threshold moves per outcome
    floor: float = 0.15  # thresholds stay within [floor, ceiling]
    ceiling: float = 0.95

    def learn(self, policy: Policy, vector: npt.ArrayLike, decision: Decision, truth: str) -> list[str]:
        """Update `policy` in place from one outcome; returns what changed, for the log."""
        changes: list[str] = []
        if truth not in policy.prototypes:
            policy.prototypes[truth] = unit(vector)
            policy.thresholds[truth] = policy.default_threshold
            return [f"new prototype {truth!r} from this example (threshold {policy.default_threshold:.3f})"]
        if decision.label == truth:
            changes.append(self._pull(policy, truth, vector))
            changes.append(self._move(policy, truth, -self.step))
        elif decision.label is not None:
            changes.append(self._move(policy, decision.label, +self.step))
            changes.append(self._pull(policy, truth, vector))
        else:
            score = float(unit(vector) @ policy.prototypes[truth])
            target = max(self.floor, min(policy.threshold(truth) - self.step, score))
            changes.append(self._move(policy, truth, target - policy.threshold(truth)))
            changes.append(self._pull(policy, truth, vector))
        return changes

    def _pull(self, policy: Policy, label: str, vector: npt.ArrayLike) -> str:
        before = policy.prototypes[label]
        after = unit((1 - self.rate) * before + self.rate * unit(vector))
        policy.prototypes[label] = after
        return f"prototype {label!r} moved {float(np.degrees(np.arccos(np.clip(before @ after, -1, 1)))):.2f} deg"

    def _move(self, policy: Policy, label: str, delta: float) -> str:
        before = policy.threshold(label)
        after = float(min(self.ceiling, max(self.floor, before + delta)))
        policy.thresholds[label] = after
        return f"threshold {label!r} {before:.3f} -> {after:.3f}"
