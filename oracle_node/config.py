"""Node settings: INFERA_* environment variables, or a .env file in the working directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import SettingsError

from infera.errors import ConfigError
from infera.paths import user_data_dir
from infera.settings import ChainSettings

Fault = Literal["none", "random-vector", "cheaper-model", "truncate-input", "withhold-reveal", "wrong-reveal"]
CrashPoint = Literal["none", "after-seal", "after-commit", "after-reveal"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_MODELS = 8  # NodeRegistry.MAX_MODELS_PER_NODE


def default_state_dir() -> Path:
    """``$XDG_DATA_HOME/infera/node-state``, else ``~/.local/share/infera/node-state``."""
    return user_data_dir("node-state")


class NodeSettings(ChainSettings):
    """Everything `oracle-node run` needs; see .env.example for a commented template."""

    deployments_dir: Path | None = None
    """Folder of deployment records; defaults to the project's deployments/."""
    models: list[str] = Field(default_factory=lambda: ["all-MiniLM-L6-v2"])
    """Models to serve, by registered name (JSON list in the environment); at least one."""
    device: str = "auto"
    """torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1, ..."""
    batch_size: int = Field(default=64, ge=1, le=1024)
    torch_threads: int | None = Field(default=None, ge=1)
    """CPU threads torch may use for the model; unset: torch's default, one per core. Set it
    when several nodes share one machine: each would otherwise run a thread per core and they
    would spin against each other (three nodes on two cores: 17.8 verified jobs/s with the
    default, 23.2 with one thread each)."""
    state_dir: Path = Field(default_factory=default_state_dir)
    """Where commitments (vector and salt) are persisted before they are sent, and where the
    one-process-per-key lock lives. Defaults to the per-user data directory (see
    default_state_dir); INFERA_STATE_DIR overrides it. A relative INFERA_STATE_DIR is made
    absolute here, against the working directory at start-up, so the node and the operator
    commands started from the same directory agree on it, and a later chdir changes nothing."""
    poll_interval: float = Field(default=0.5, gt=0)
    heartbeat_interval: float = Field(default=60.0, gt=0)
    """Seconds between "heartbeat" log lines (jobs by state, transactions in flight, failed ticks)."""
    finalize_grace: float = Field(default=3.0, ge=0)
    """Keeper grace, in seconds: before advancing a job past its commit deadline, or finalizing
    one whose first revealer has not, a node waits between 0.5x and 1.5x this, in an order
    drawn per job (oracle_node.node.keeper_grace), so that nodes rarely race."""
    confirmations: int = Field(default=3, ge=0, le=256)
    """Blocks below the head taken as settled: the assignment scan re-reads the blocks above them
    every poll, and a transaction counts as final this deep (until then a reorg re-sends it)."""
    log_chunk_blocks: int = Field(default=2_000, ge=1, le=100_000)
    """Most blocks one eth_getLogs query spans (RPC providers refuse huge ranges)."""
    stuck_blocks: int = Field(default=4, ge=1)
    """Blocks a transaction may wait in the pool before it is replaced at a higher fee."""
    fee_bump_percent: int = Field(default=25, ge=10, le=500)
    """How much a replacement raises both EIP-1559 fees (nodes refuse less than 10%)."""
    max_fee_per_gas: int | None = Field(default=None, gt=0)
    """Highest max fee per gas, in wei, the node ever offers (unset: no cap)."""
    metrics_host: str = "127.0.0.1"
    """Address the /metrics, /health and /ready server listens on."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of that server; unset: no server; 0: any free port (logged at start-up)."""
    health_stall_after: float = Field(default=120.0, gt=0)
    """/health fails when the loop has not completed a tick for this long (a hung node)."""
    health_max_blocks_behind: int = Field(default=20, ge=1)
    """/ready fails while the assignment scan trails the chain head by more blocks than this."""
    log_level: str = "INFO"
    log_json: bool = True
    fault: Fault = "none"
    """Adversarial behaviour for tests and drills only; an honest node leaves this at none."""
    crash_at: CrashPoint = "none"
    """Drill only: SIGKILL the node right after sealing a commitment, sending a commit or sending a
    reveal, so a test can restart it there; an operator leaves this at none."""

    def signing_key(self) -> str:
        """INFERA_PRIVATE_KEY, or a ConfigError that says it must be set."""
        if self.private_key is None or not self.private_key.get_secret_value():
            raise ConfigError("INFERA_PRIVATE_KEY is not set: the node signs its commits and reveals")
        return self.private_key.get_secret_value()

    @field_validator("models")
    @classmethod
    def _at_least_one_model(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('serve at least one model: set INFERA_MODELS to a JSON list such as ["all-MiniLM-L6-v2"]')
        if len(value) > MAX_MODELS:
            raise ValueError(f"a node serves at most {MAX_MODELS} models; list fewer in INFERA_MODELS")
        if len(set(value)) != len(value):
            raise ValueError("INFERA_MODELS names a model twice; list each model once")
        return value

    @field_validator("state_dir")
    @classmethod
    def _absolute_state_dir(cls, value: Path) -> Path:
        value = value.expanduser()
        return value if value.is_absolute() else Path.cwd() / value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return value.upper()


def load_settings() -> NodeSettings:
    """NodeSettings from the environment and .env, or a ConfigError whose message is one line
    saying which INFERA_* variable is wrong and what to do (never a validation traceback)."""
    try:
        return NodeSettings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except SettingsError as exc:
        # pydantic-settings raises this when a list or other complex value is not valid JSON.
        found = re.search(r'field "(\w+)"', str(exc))
        var = f"INFERA_{found.group(1).upper()}" if found else "an INFERA_* variable"
        raise ConfigError(
            f'{var} could not be parsed: list values must be JSON, such as INFERA_MODELS=["all-MiniLM-L6-v2"]'
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line for every problem pydantic found, each naming its INFERA_* variable."""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        var = f"INFERA_{field.upper()}" if field else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "value_error":
            parts.append(f"{var}: {message}")
            continue
        shown = "" if "key" in field or "input" not in error else f" (got {error['input']!r})"
        parts.append(f"{var}{shown}: {message[:1].lower()}{message[1:]}; fix {var} in the environment or .env")
    return "; ".join(parts) or str(exc).replace("\n", " ")
