"""Small chain operations the benchmarks share: raw RPC, mining, balances, extra signers."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.types import RPCEndpoint, TxReceipt

from infera.chain import Chain
from infera.errors import InferaError


class BenchError(InferaError):
    """A benchmark could not measure what it set out to (a job not accepted, a batch skipped)."""


async def rpc(w3: AsyncWeb3[Any], method: str, params: list[Any] | None = None) -> Any:
    """One raw JSON-RPC call (anvil's devnet-only methods have no web3 wrapper)."""
    reply = await w3.provider.make_request(RPCEndpoint(method), params or [])
    if reply.get("error"):
        raise BenchError(f"{method} failed: {reply['error']}")
    return reply.get("result")


async def mine(w3: AsyncWeb3[Any]) -> None:
    """Mine one block now: a committee is drawn from the hash of the block after its submit."""
    await rpc(w3, "evm_mine")


async def set_balance(w3: AsyncWeb3[Any], address: str, wei: int) -> None:
    await rpc(w3, "anvil_setBalance", [address, hex(wei)])


def signer(base: Chain, key: str) -> Chain:
    """A Chain for another key over the same connection (never closed on its own)."""
    return Chain(base.w3, base.deployment, Account.from_key(key))


def gas_used(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"])


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


async def deployed_code_has(w3: AsyncWeb3[Any], address: str, signatures: list[str]) -> bool:
    """Whether the contract at ``address`` dispatches every function in ``signatures`` (the
    selector appears in its runtime code as a PUSH4 operand)."""
    code = bytes(await w3.eth.get_code(w3.to_checksum_address(address)))
    return all(selector(sig) in code for sig in signatures)
