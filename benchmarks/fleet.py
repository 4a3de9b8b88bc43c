"""Register many nodes fast: generated keys, ETH by anvil_setBalance, INFER from a funded devnet
account, then approve and register, each stage sent as signed raw transactions without waiting
for one receipt before sending the next."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.contract import AsyncContract

from benchmarks.chainops import BenchError, set_balance
from infera.chain import Chain

log = structlog.get_logger("benchmarks.fleet")
T = TypeVar("T")

ETH_PER_NODE = 10**21  # 1,000 ETH: gas for the whole run
CONCURRENCY = 32
TRANSFER_GAS = 120_000
APPROVE_GAS = 100_000
REGISTER_GAS = 1_500_000  # a generous cap (unused gas is not charged); register is ~250k


def fleet_accounts(count: int) -> list[LocalAccount]:
    """``count`` deterministic throwaway keys (devnet only)."""
    return [Account.from_key(keccak(text=f"infera-bench-node-{i}")) for i in range(count)]


@dataclass
class RawSender:
    """Signs transactions locally with explicit nonces and fees, sends many at once."""

    chain: Chain
    max_fee: int
    chain_id: int

    @classmethod
    async def create(cls, chain: Chain) -> RawSender:
        block = await chain.w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas", 1_000_000_000))
        return cls(chain, max(4 * base_fee, 2_000_000_000), chain.deployment.chain_id)

    def sign(self, account: LocalAccount, contract: AsyncContract, fn: str, args: list[Any], nonce: int, gas: int) -> bytes:
        tx = {
            "to": contract.address, "data": contract.encode_abi(fn, args=args), "value": 0, "gas": gas,
            "maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": 1, "nonce": nonce, "chainId": self.chain_id,
            "type": 2,
        }
        return bytes(account.sign_transaction(tx).raw_transaction)

    async def send_all(self, raw: list[bytes]) -> None:
        """Send every transaction (at most CONCURRENCY in flight), then check every receipt."""
        eth = self.chain.w3.eth
        hashes = await _bounded([eth.send_raw_transaction(r) for r in raw])
        receipts = await _bounded([eth.wait_for_transaction_receipt(h, 120, 0.05) for h in hashes])
        failed = [HexBytes(r["transactionHash"]).hex() for r in receipts if r["status"] != 1]
        if failed:
            raise BenchError(f"{len(failed)} of {len(raw)} transactions reverted, e.g. {failed[0]}")


async def _bounded(calls: list[Awaitable[T]]) -> list[T]:
    """Await every call, at most CONCURRENCY at a time (a coroutine starts when awaited)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def register_fleet(funder: Chain, accounts: list[LocalAccount], stake: int, capacity: int, model_ids: list[int]) -> None:
    """Give every account ETH and ``stake`` INFER from ``funder``, then approve and register it.
    ``funder`` must send nothing else meanwhile: these transactions take its nonces directly."""
    assert funder.account is not None
    sender = await RawSender.create(funder)
    token, nodes = funder.token, funder.nodes
    await _bounded([set_balance(funder.w3, a.address, ETH_PER_NODE) for a in accounts])
    first = await funder.w3.eth.get_transaction_count(funder.address, "pending")
    await sender.send_all([sender.sign(funder.account, token, "transfer", [a.address, stake], first + i, TRANSFER_GAS)
                           for i, a in enumerate(accounts)])
    log.info("fleet funded", nodes=len(accounts))
    await sender.send_all([sender.sign(a, token, "approve", [nodes.address, stake], 0, APPROVE_GAS) for a in accounts])
    await sender.send_all([sender.sign(a, nodes, "register", [stake, model_ids, capacity], 1, REGISTER_GAS)
                           for a in accounts])
    registered = await _bounded([funder.get_node(a.address) for a in accounts])
    if not all(info.registered and info.stake == stake for info in registered):
        raise BenchError("some fleet nodes did not end up registered with their stake")
    log.info("fleet registered", nodes=len(accounts))
