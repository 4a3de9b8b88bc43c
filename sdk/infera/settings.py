"""Settings shared by every Infera program: INFERA_* environment variables and a .env file."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChainSettings(BaseSettings):
    """Which network to use and how to reach it."""

    model_config = SettingsConfigDict(env_prefix="INFERA_", env_file=".env", extra="ignore")

    network: str = "infera:devnet"
    """Deployment to use, as ecosystem:network (deployments/<ecosystem>-<network>.json)."""
    rpc_url: str = "http://127.0.0.1:8545"
    """JSON-RPC endpoint over HTTP(S); checked to be a URL here, and to answer at connect time."""
    rpc_urls: list[str] = Field(default_factory=list)
    """Several endpoints of the same chain, tried in order with failover (JSON list); when set,
    it replaces rpc_url."""
    rpc_retry_for: float = Field(default=30.0, gt=0)
    """Seconds one RPC request is retried (with backoff and failover) through transient errors
    before the caller is told; a node then tries again on its next tick."""
    private_key: SecretStr | None = None
    """Hex private key of the account that signs; never logged."""

    def endpoints(self) -> list[str]:
        """The RPC URLs to use, in failover order."""
        return self.rpc_urls or [self.rpc_url]

    @field_validator("rpc_urls")
    @classmethod
    def _rpc_urls_are_http(cls, value: list[str]) -> list[str]:
        return [cls._rpc_url_is_http(url) for url in value]

    @field_validator("rpc_url")
    @classmethod
    def _rpc_url_is_http(cls, value: str) -> str:
        value = value.strip()
        hint = "set it to the chain's JSON-RPC URL, such as http://127.0.0.1:8545"
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            raise ValueError(f"{value!r} is not a valid URL; {hint}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL; {hint}")
        return value
