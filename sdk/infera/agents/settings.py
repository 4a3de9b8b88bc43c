"""Agent settings: INFERA_AGENT_* environment variables (the chain's are INFERA_*, ChainSettings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infera.operator import ONE


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INFERA_AGENT_", env_file=".env", extra="ignore")

    state_path: Path = Path(".infera-agent/state.db")
    """The agent's SQLite memory and state; an agent started on an existing file resumes from it."""
    budget_infer: float = Field(default=100.0, ge=0)
    """INFER the agent may spend on inference fees over its life; work past it is refused."""
    poll_interval: float = Field(default=2.0, gt=0)
    """Seconds between steps."""
    model: str = "all-MiniLM-L6-v2"
    job_timeout: float = Field(default=300.0, gt=0)
    """Seconds to wait for one job to be accepted or refunded."""

    @property
    def budget_wei(self) -> int:
        return int(self.budget_infer * ONE)
