"""The ABIs the SDK binds to (exported from the build into infera/abi/) and revert decoding."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from infera.deployment import CONTRACTS
from infera.errors import ContractRevert
from infera.paths import ABI_DIR


@cache
def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of one of our contracts."""
    path = ABI_DIR / f"{name}.json"
    data: list[dict[str, Any]] = json.loads(path.read_text())
    return data


def _type_string(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param["components"])
        return f"({inner}){kind[5:]}"
    return kind


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for contract in CONTRACTS:
        for entry in load_abi(contract):
            if entry.get("type") != "error":
                continue
            types = [_type_string(p) for p in entry["inputs"]]
            names = [p.get("name") or f"arg{i}" for i, p in enumerate(entry["inputs"])]
            selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
            table[selector] = (entry["name"], types, names)
    return table


def decode_revert(data: str | bytes | None) -> ContractRevert | None:
    """Turn revert data into a named ContractRevert, or None if it is not one of our errors."""
    if data is None:
        return None
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else bytes(data)
    if len(raw) < 4:
        return None
    entry = _error_table().get(raw[:4])
    if entry is None:
        return None
    name, types, names = entry
    try:
        values = abi_decode(types, raw[4:])
    except Exception:  # malformed data: report the name without arguments
        values = ()
    return ContractRevert(name, dict(zip(names, values, strict=False)), "0x" + raw.hex())
