"""Deployment records: which addresses a network's contracts live at, written by `ape run deploy`."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from infera.errors import DeploymentNotFound, UnknownModel
from infera.paths import deployments_dir


class ProtocolContracts(BaseModel):
    """The protocol's six contracts, in deployment order. These fields are the one list of their
    names: CONTRACTS below is read from them, and the ABI export, revert decoding and tests read
    CONTRACTS."""

    InferToken: str
    ModelRegistry: str
    NodeRegistry: str
    JobRegistry: str
    RewardsEmitter: str
    # The trusted ERC-2771 forwarder of gasless requests (JobRegistry's constructor argument).
    InferaForwarder: str


CONTRACTS: tuple[str, ...] = tuple(ProtocolContracts.model_fields)


class ContractAddresses(ProtocolContracts):
    """Every contract a deployment holds; the deploy script validates its record against this."""

    InferaTimelock: str  # holds every admin and parameter role of the contracts above (the forwarder has none)


class Deployment(BaseModel):
    """The contents of ``deployments/<ecosystem>-<network>.json``."""

    network: str
    chain_id: int
    deployment_block: int
    deployer: str
    contracts: ContractAddresses
    models: dict[str, int]

    def model_id(self, name_or_id: str | int) -> int:
        """Resolve a model by its registered name or numeric id."""
        if isinstance(name_or_id, int):
            return name_or_id
        if name_or_id.isdigit():
            return int(name_or_id)
        try:
            return self.models[name_or_id]
        except KeyError:
            known = ", ".join(self.models) or "none"
            raise UnknownModel(f"model {name_or_id!r} is not in this deployment (known: {known})") from None


def deployment_file(network: str, directory: Path | None = None) -> Path:
    """``infera:devnet`` -> ``<deployments>/infera-devnet.json``."""
    return (directory or deployments_dir()) / f"{network.replace(':', '-')}.json"


def load_deployment(network: str, directory: Path | None = None) -> Deployment:
    """Read a deployment record; raises DeploymentNotFound with what to do about it."""
    path = deployment_file(network, directory)
    if not path.exists():
        raise DeploymentNotFound(
            f"no deployment for {network} at {path}: run `ape run deploy --network {network}:node` "
            "(or `make deploy` for the devnet)"
        )
    try:
        return Deployment.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise DeploymentNotFound(f"deployment record {path} is unreadable: {exc}") from exc
