"""Gas of the on-chain integer cosine for one 384-dim pair, as tests/contracts measure it.

CosineHarness (contracts/test, compiled by `ape compile` into .build/__local__.json) is deployed
from its build artifact; its view `gasUsed(a, b)` brackets the library calls with gasleft() in one
call, so both figures share the same calldata and call overhead: the gas of preparing one vector
(its norm) and of the dot product plus the threshold decision for one prepared pair. The pair's
figure depends on the data (a pair with a non-positive dot skips the comparison), so the highest
over several random pairs is reported, the lowest beside it. `gram3GasUsed(a, b, c)` measures the
one-pass kernel finalize takes for a whole committee of three: all three norms and three dots.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from web3 import AsyncWeb3

from benchmarks.chainops import BenchError
from infera.devnet import DEVNET_KEYS, running_devnet
from infera.paths import project_root
from infera.vectors import pack

DIM = 384


@dataclass(frozen=True)
class CosineGas:
    per_pair: int  # the full rule (dot > 0, so the threshold comparison runs too): the highest seen
    per_pair_min: int  # a pair with dot <= 0 skips the comparison
    per_vector: int
    pairs_measured: int
    per_triple: int  # Cosine.gram3: three norms and three dots in one pass, the highest seen


def harness_artifact(build: Path | None = None) -> tuple[list[dict[str, Any]], str]:
    """CosineHarness's ABI and creation bytecode from ape's build output."""
    path = build or project_root() / ".build" / "__local__.json"
    if not path.exists():
        raise BenchError(f"{path} is missing: run `make compile`")
    contract = json.loads(path.read_text())["contractTypes"]["CosineHarness"]
    return contract["abi"], contract["deploymentBytecode"]["bytecode"]


async def _deploy(w3: AsyncWeb3[Any], abi: list[dict[str, Any]], bytecode: str) -> Any:
    account = Account.from_key(DEVNET_KEYS[0])
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = await factory.constructor().build_transaction(
        {"from": account.address, "nonce": await w3.eth.get_transaction_count(account.address, "pending")}
    )
    signed = account.sign_transaction(tx)
    receipt = await w3.eth.wait_for_transaction_receipt(await w3.eth.send_raw_transaction(signed.raw_transaction))
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


async def _measure(rpc_url: str, pairs: int) -> CosineGas:
    w3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(rpc_url))
    try:
        harness = await _deploy(w3, *harness_artifact())
        rng = np.random.default_rng(5)  # the seed tests/contracts/test_gas_snapshot.py uses
        figures, triples = [], []
        for _ in range(pairs):
            a, b, c = (pack(rng.integers(-128, 128, DIM).astype(np.int8)) for _ in range(3))
            figures.append(await harness.functions.gasUsed(a, b).call())
            triples.append(int(await harness.functions.gram3GasUsed(a, b, c).call()))
    finally:
        await w3.provider.disconnect()
    per_vector = [int(v) for v, _ in figures]
    per_pair = [int(p) for _, p in figures]
    return CosineGas(max(per_pair), min(per_pair), max(per_vector), pairs, max(triples))


def cosine_gas(run_dir: Path, pairs: int = 8) -> CosineGas:
    """The highest per-pair and per-vector gas over ``pairs`` random int8 pairs, on a devnet of
    its own (nothing else deployed)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with running_devnet(log_path=run_dir / "anvil.log") as devnet:
        return asyncio.run(_measure(devnet.rpc_url, pairs))
