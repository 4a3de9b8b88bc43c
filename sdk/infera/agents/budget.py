"""A spending limit in INFER: the agent asks for a quote before it submits work, and once the
limit is spent it refuses further work (fees of refunded jobs come back to it)."""

from __future__ import annotations

from dataclasses import dataclass

from infera.errors import InferaError
from infera.operator import format_infer


class BudgetExhausted(InferaError):
    """The work would take the agent past its INFER budget."""


@dataclass
class Budget:
    limit_wei: int
    spent_wei: int = 0

    @property
    def left_wei(self) -> int:
        return max(0, self.limit_wei - self.spent_wei)

    def reserve(self, cost_wei: int) -> None:
        """Count `cost_wei` as spent, or raise BudgetExhausted and count nothing."""
        if cost_wei > self.left_wei:
            raise BudgetExhausted(
                f"{format_infer(cost_wei)} INFER of work refused: {format_infer(self.left_wei)} of "
                f"{format_infer(self.limit_wei)} INFER left"
            )
        self.spent_wei += cost_wei

    def refund(self, amount_wei: int) -> None:
        self.spent_wei = max(0, self.spent_wei - amount_wei)

    def to_state(self) -> dict[str, int]:
        return {"limit_wei": self.limit_wei, "spent_wei": self.spent_wei}

    @classmethod
    def from_state(cls, state: dict[str, int], limit_wei: int | None = None) -> Budget:
        """The persisted budget; a new `limit_wei` (from settings) replaces the stored limit."""
        return cls(limit_wei if limit_wei is not None else int(state["limit_wei"]), int(state["spent_wei"]))
