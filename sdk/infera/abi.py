"""The ABIs the SDK binds to (exported from the build into infera/abi/) and revert decoding."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from infera.deployment import CONTRACTS
from infera.paths import ABI_DIR

if TYPE_CHECKING:
    from infera.errors import ContractRevert

# Every ABI the SDK ships: the protocol's contracts and the consumer interface.
ABI_NAMES: tuple[str, ...] = (*CONTRACTS, "IInferaConsumer")
# The NatSpec text of every custom error, by signature: what infera.contract_errors says about
# an error that has no hint of its own. Exported from the build with the ABIs.
ERROR_NOTES = "error_notes.json"


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of one of our contracts."""
    path = ABI_DIR / f"{name}.json"
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


@cache
def load_error_notes() -> dict[str, str]:
    """Error signature -> its NatSpec notice; empty when the file was not shipped."""
    path = ABI_DIR / ERROR_NOTES
    if not path.exists():
        return {}
    notes: dict[str, str] = json.loads(path.read_text())
    return notes


def abi_type_string(param: dict[str, Any]) -> str:
    """The canonical type of an ABI parameter, tuples spelled out: what selectors hash."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type_string(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


def decode_revert(data: str | bytes | None) -> ContractRevert | None:
    """Revert data as the typed error of the custom error it encodes (a ContractRevert subclass
    from infera.contract_errors), or None if it is not one of our errors."""
    from infera.contract_errors import decode_custom_error  # the classes are built from load_abi

    return decode_custom_error(data)
