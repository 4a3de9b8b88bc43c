"""Settings shared by every Infera program: INFERA_* environment variables and a .env file."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ChainSettings(BaseSettings):
    """Which network to use and how to reach it."""

    model_config = SettingsConfigDict(env_prefix="INFERA_", env_file=".env", extra="ignore")

    network: str = "infera:devnet"
    """Deployment to use, as ecosystem:network (deployments/<ecosystem>-<network>.json)."""
    rpc_url: str = "http://127.0.0.1:8545"
    private_key: SecretStr | None = None
    """Hex private key of the account that signs; never logged."""
