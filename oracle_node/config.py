"""Node settings: INFERA_* environment variables, or a .env file in the working directory."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from infera.settings import ChainSettings

Fault = Literal["none", "random-vector", "cheaper-model", "truncate-input", "withhold-reveal", "wrong-reveal"]


class NodeSettings(ChainSettings):
    """Everything `oracle-node run` needs; see .env.example for a commented template."""

    deployments_dir: Path | None = None
    """Folder of deployment records; defaults to the project's deployments/."""
    models: list[str] = Field(default_factory=lambda: ["all-MiniLM-L6-v2"])
    """Models to serve, by registered name (JSON list in the environment)."""
    device: str = "auto"
    """torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1, ..."""
    batch_size: int = Field(default=64, ge=1, le=1024)
    state_dir: Path = Path(".run/node-state")
    """Where commitments (vector and salt) are persisted before they are sent."""
    poll_interval: float = Field(default=0.5, gt=0)
    finalize_grace: float = Field(default=3.0, ge=0)
    """Keeper grace, in seconds: before advancing a job past its commit deadline, or finalizing
    one whose first revealer has not, a node waits between 0.5x and 1.5x this, in an order
    drawn per job (oracle_node.node.keeper_grace), so that nodes rarely race."""
    log_level: str = "INFO"
    log_json: bool = True
    fault: Fault = "none"
    """Adversarial behaviour for tests and drills only; an honest node leaves this at none."""
