"""The example dApps' contracts (contracts/examples), deployed from ape's build output.

The SDK's protocol ABIs ship in infera/abi; these examples are not protocol contracts, so their
ABI and creation code are read from `.build/__local__.json` (`make compile` writes it)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, cast

from eth_utils.address import to_checksum_address
from web3.contract import AsyncContract
from web3.types import TxParams

from infera.chain import Chain
from infera.errors import ConfigError, TransactionFailed
from infera.paths import project_root


@cache
def artifact(name: str, build: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """(ABI, creation bytecode) of a compiled contract."""
    path = build or project_root() / ".build" / "__local__.json"
    if not path.exists():
        raise ConfigError(f"{path} is missing: run `make compile`")
    found = json.loads(path.read_text())["contractTypes"].get(name)
    if found is None:
        raise ConfigError(f"{name} is not in {path}: run `make compile`")
    return found["abi"], found["deploymentBytecode"]["bytecode"]


def bind(chain: Chain, name: str, address: str) -> AsyncContract:
    """A deployed example contract, on the chain's connection."""
    abi, _ = artifact(name)
    return chain.w3.eth.contract(address=to_checksum_address(address), abi=abi)


async def deploy(chain: Chain, name: str, *args: Any) -> AsyncContract:
    """Deploy `name(*args)` from the chain's key and wait for it. Call it before this Chain
    sends anything else: it takes the account's next nonce from the node itself."""
    abi, bytecode = artifact(name)
    factory = chain.w3.eth.contract(abi=abi, bytecode=bytecode)
    sender = chain.address
    params: TxParams = {"from": sender, "nonce": await chain.w3.eth.get_transaction_count(sender, "pending")}
    tx = await factory.constructor(*args).build_transaction(params)
    assert chain.account is not None
    signed = chain.account.sign_transaction(cast(dict[str, Any], tx))
    receipt = await chain.wait(await chain.w3.eth.send_raw_transaction(signed.raw_transaction), f"deploy {name}")
    address = receipt["contractAddress"]
    if address is None:
        raise TransactionFailed(f"deploying {name} created no contract")
    return chain.w3.eth.contract(address=address, abi=abi)
