"""Deployment records: which addresses a network's contracts live at, written by `ape run deploy`.

A record is looked up by network name in, in turn: the folder the caller names,
INFERA_DEPLOYMENTS_DIR, the checkout's `deployments/` (when the SDK runs from a checkout), and the
records packaged with the SDK (infera/deployments/: public networks, and the devnet's, which a
fresh devnet reproduces exactly). The first record found wins.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from infera.errors import DeploymentNotFound, UnknownModel
from infera.paths import checkout_root, deployments_dir

PACKAGED_RECORDS = "deployments"  # the folder inside the infera package


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


def record_name(network: str) -> str:
    """``infera:devnet`` -> ``infera-devnet.json``."""
    return f"{network.replace(':', '-')}.json"


def deployment_file(network: str, directory: Path | None = None) -> Path:
    """Where the record of ``network`` is (or would be written) in ``directory``, by default the
    folder `ape run deploy` writes to."""
    return (directory or deployments_dir()) / record_name(network)


def packaged_records() -> Traversable:
    """The records shipped inside the SDK (package data, read through importlib.resources)."""
    return resources.files("infera") / PACKAGED_RECORDS


def record_places(directory: Path | None = None) -> list[tuple[str, Traversable]]:
    """Every folder a record is looked for in, first wins, each with what it is."""
    places: list[tuple[str, Traversable]] = []
    if directory is not None:
        places.append(("the folder given", directory))
    configured = os.environ.get("INFERA_DEPLOYMENTS_DIR")
    if configured:
        places.append(("INFERA_DEPLOYMENTS_DIR", Path(configured).resolve()))
    checkout = checkout_root()
    if checkout is not None:
        places.append(("this checkout", checkout / "deployments"))
    places.append(("packaged with the SDK", packaged_records()))
    unique: dict[str, tuple[str, Traversable]] = {}
    for label, place in places:
        unique.setdefault(str(place), (label, place))
    return list(unique.values())


def load_deployment(network: str, directory: Path | None = None) -> Deployment:
    """Read the first record of ``network`` found (see the module's docstring); raises
    DeploymentNotFound naming every place looked in and what to do about it."""
    name = record_name(network)
    looked: list[str] = []
    for label, place in record_places(directory):
        candidate = place / name
        if candidate.is_file():
            return _read_record(candidate)
        looked.append(f"{candidate} ({label})")
    raise DeploymentNotFound(
        f"no deployment record for {network}; looked for {name} in: {'; '.join(looked)}. "
        f"Deploy with `ape run deploy --network {network}:node` in the Infera checkout (`make deploy` "
        "for the devnet), or point INFERA_DEPLOYMENTS_DIR at the folder that holds the record"
    )


def _read_record(path: Traversable) -> Deployment:
    try:
        return Deployment.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise DeploymentNotFound(f"deployment record {path} is unreadable: {exc}") from exc
