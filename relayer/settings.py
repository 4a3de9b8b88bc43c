"""Relayer settings: INFERA_RELAYER_* for the relayer itself, the shared INFERA_* for the chain."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infera.inputs import MAX_INPUT_BYTES
from infera.settings import ChainSettings

MAX_BATCH = 64  # JobRegistry.MAX_BATCH: jobs one submit transaction may carry


class RelayerSettings(BaseSettings):
    """Everything `infera-relayer run` needs besides the chain (see infera.settings.ChainSettings)."""

    model_config = SettingsConfigDict(env_prefix="INFERA_RELAYER_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    """0 picks a free port; the port taken is logged ("relayer listening")."""
    database_url: str = "sqlite:///relayer.db"
    """SQLAlchemy URL of the durable queue: sqlite:///path (one instance) or
    postgresql://user@host/db (several instances sharing the work). The sync form is given; the
    async driver (aiosqlite, psycopg) is chosen from it."""
    state_dir: Path = Path(".relayer-state")
    """Where this instance keeps its transaction store (nonces and signed attempts of its key)."""
    instance_id: str = ""
    """Name of this instance in claims; empty: hostname and process id."""
    max_batch_jobs: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    """Most jobs one submit transaction carries."""
    batch_linger: float = Field(default=0.0, ge=0, le=60)
    """Seconds a batch that is not full waits after its oldest request arrived, to gather more."""
    max_texts_per_request: int = Field(default=MAX_BATCH, ge=1, le=MAX_BATCH)
    """A request's texts travel in one transaction, so no more than a batch holds."""
    max_body_bytes: int = Field(default=(MAX_INPUT_BYTES * 6 + 64) * MAX_BATCH, ge=1024)
    """Largest request body accepted (413 above it). The default fits a full request of
    maximal texts even when every byte is written as a JSON \\u escape."""
    retry_base: float = Field(default=1.0, gt=0)
    """First back-off, in seconds, after the chain refused a batch; doubles per refusal."""
    retry_max: float = Field(default=60.0, gt=0)
    """Longest back-off between two tries of one request."""
    poll_interval: float = Field(default=0.5, gt=0)
    """Seconds between two looks at the chain head (submitter and tracker)."""
    lease_timeout: float = Field(default=30.0, gt=0)
    """Seconds without a heartbeat after which an instance's unsent claims are taken over by
    others (and its lease fenced, so it cannot send them when it wakes). It renews every
    quarter of this; a tick stalled longer than this costs the instance its claims, never a
    double submit."""
    lease_prune_after: float = Field(default=86_400.0, gt=0)
    """Seconds after its last heartbeat that the lease row of an instance owning no unsettled
    batch is deleted (each restart under a new name leaves one behind)."""
    claim_timeout: float = Field(default=120.0, gt=0)
    """A claim of an instance without a lease row (made before migration 0002) older than this
    is released to others."""
    confirmations: int = Field(default=3, ge=0, le=256)
    """Blocks deep a submit transaction counts as final; until then a reorg re-sends it."""
    stuck_blocks: int = Field(default=4, ge=1)
    fee_bump_percent: int = Field(default=25, ge=10, le=500)
    keeper_enabled: bool = True
    """Move on the jobs this relayer submitted when nobody else does (relayer.keeper): draw due
    committees, advance past a missed commit deadline, finalize after the reveal phase."""
    keeper_interval: float = Field(default=1.0, gt=0)
    """Seconds between two keeper ticks (each reads the chain's clock and draw queue, then the
    relayer's open jobs that are due a look)."""
    keeper_grace: float = Field(default=3.0, ge=0)
    """The keeper's base grace, in seconds, as a node's INFERA_FINALIZE_GRACE: like any outsider
    the relayer waits 2.5x to 3.5x it (drawn per job) past a deadline, so live nodes go first."""
    health_stall_after: float = Field(default=60.0, gt=0)
    """/health answers 503 when the submitter or tracker has not finished a tick for this long."""
    default_quota_jobs: int = Field(default=1_000, ge=0)
    """Jobs (texts) a key created without --quota may submit in all; the relayer pays their fees."""
    default_rate_per_minute: int = Field(default=120, ge=1)
    """API requests a minute a key created without --rate may make (per instance)."""
    gasless_min_ttl: int = Field(default=30, ge=0, le=3_600)
    """Seconds a gasless request's deadline must still leave when it arrives (else 422 expired):
    time to queue and relay it."""
    gasless_rate_per_minute: int = Field(default=60, ge=1)
    """Gasless requests a minute one signer may make (per instance)."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the API from a browser (JSON list); "*" allows any."""
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _prune_after_expiry(self) -> RelayerSettings:
        if self.lease_prune_after < self.lease_timeout:
            raise ValueError("lease_prune_after must be at least lease_timeout: a lease is pruned only once expired")
        return self

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError(f"{value!r}: the queue runs on sqlite:///path or postgresql://... only")
        return value


class RelayerChainSettings(ChainSettings):
    """The shared INFERA_* chain settings (network, RPC, key), and where deployment records are."""

    deployments_dir: Path | None = None
