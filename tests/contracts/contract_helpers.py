"""Constants and helpers shared by the contract tests (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ape
import numpy as np
from ape.exceptions import CustomError
from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak

from infera.chain import commitment_of
from infera.operator import ONE
from infera.vectors import quantize_packed

DIM = 384
THRESHOLD_PPM = 900_000
MIN_STAKE = 100 * ONE
UNBONDING = 86_400
MAX_JOB_LIFETIME = UNBONDING  # models may have jobs as long as the unbonding period, no longer
STAKE_CAP = 100_000 * ONE
EPOCH = 3_600
EMISSION_PER_FEE_BPS = 400  # 4% of fees earned, below the 5% protocol fee: self-dealing loses money
INITIAL_EMISSION = 1_000 * ONE
DECAY_BPS = 9_000
# Emission per INFER of fees earned (bps); self-dealing stays unprofitable while
# EMISSION_PER_FEE_BPS * (10_000 - protocol_fee_bps) < protocol_fee_bps * 10_000 (400 * 9_500 < 500 * 10_000).
FEE = 1 * ONE
COMMIT_WINDOW = 120
REVEAL_WINDOW = 120
POLICY = {
    "protocol_fee_bps": 500, "slash_bps": 1_000, "slash_reward_bps": 5_000, "callback_gas_limit": 200_000,
    "reputation_gain": 100, "disagreement_penalty": 1_000, "liveness_penalty": 500,
}


def policy_tuple(treasury: Any, **overrides: int) -> tuple[Any, ...]:
    p = {**POLICY, **overrides}
    return (treasury, p["protocol_fee_bps"], p["slash_bps"], p["slash_reward_bps"], p["callback_gas_limit"],
            p["reputation_gain"], p["disagreement_penalty"], p["liveness_penalty"])


def model_params(**overrides: Any) -> tuple[Any, ...]:
    p: dict[str, Any] = {
        "name": "all-MiniLM-L6-v2", "digest": b"\x11" * 32, "dimension": DIM, "quantization": 1, "threshold": THRESHOLD_PPM,
        "quorum": 3, "min_agreement": 2, "fee": FEE, "commit_window": COMMIT_WINDOW, "reveal_window": REVEAL_WINDOW,
    }
    p.update(overrides)
    return (p["name"], p["digest"], p["dimension"], p["quantization"], p["threshold"], p["quorum"],
            p["min_agreement"], p["fee"], p["commit_window"], p["reveal_window"])


def seat_nodes(jobs: Any, job_id: int) -> list[str]:
    return [seat.node for seat in jobs.getSeats(job_id)]


def random_vector(seed: int, dim: int = DIM) -> bytes:
    return quantize_packed(np.random.default_rng(seed).standard_normal(dim))


def near(vector: bytes, seed: int, noise: float = 0.05) -> bytes:
    """A vector close to `vector` (cosine well above 0.9)."""
    base = np.frombuffer(vector, dtype=np.int8).astype(np.float64)
    return quantize_packed(base + np.random.default_rng(seed).standard_normal(base.size) * noise * 127)


SALT = b"\x42" * 32


def commit_for(chain: Any, jobs: Any, job_id: int, node: Any, vector: bytes, salt: bytes = SALT) -> Any:
    c = commitment_of(chain.chain_id, jobs.address, job_id, str(node.address if hasattr(node, "address") else node), vector, salt)
    return c


def time_travel(chain: Any, seconds: int) -> None:
    chain.provider.make_request("evm_increaseTime", [seconds])
    chain.provider.make_request("evm_mine", [])




def web3_view(chain: Any, contract: Any) -> Any:
    """A web3 contract for read-only calls to an Ape contract instance (structs as named tuples).
    Ape's own calls cost 20-130 ms each; tests that read in bulk use this instead."""
    abi = [item.model_dump(by_alias=True, mode="json", exclude_none=True) for item in contract.contract_type.abi]
    return chain.provider.web3.eth.contract(address=contract.address, abi=abi, decode_tuples=True)


def assign_all(jobs: Any, sender: Any, max_jobs: int = 64) -> Any:
    """Draw up to `max_jobs` queued committees. A draw is due once its block has a successor;
    anvil mines only on transactions and ape estimates gas against the latest block, so mine one
    first: then the estimate sees every queued draw that the transaction will make."""
    mine_block()
    return jobs.assign(max_jobs, sender=sender)


def mine_block() -> None:
    from ape import chain

    chain.provider.make_request("evm_mine", [])


# `ape.reverts(contract.Error)` alone passes on a revert that carries no error data at all, and
# `ape.reverts(contract.Error, arg=...)` silently skips argument names the error does not have. A
# guard test must fail when the guard is gone, so `reverts_with` insists on the error's name and on
# every one of its arguments.
def _norm(value: Any) -> Any:
    if hasattr(value, "address"):
        value = value.address
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return value


def _decode_raw(error: Any, exc: Exception) -> tuple[str, dict[str, Any]] | None:
    """Ape decodes only the called contract's errors; one bubbled up through another contract
    (a timelock executing a call) arrives as raw revert data, decoded here with `error`'s ABI."""
    raw = getattr(exc, "message", None) or (exc.args[0] if exc.args else None)
    if not isinstance(raw, str) or not raw.startswith("0x"):
        return None
    data = bytes.fromhex(raw[2:])
    abi = error.abi
    if data[:4] != keccak(text=abi.selector)[:4]:
        return None
    values = abi_decode([i.canonical_type for i in abi.inputs], data[4:])
    return abi.name, {i.name: v for i, v in zip(abi.inputs, values, strict=True)}


@contextmanager
def reverts_with(error: Any, **inputs: Any) -> Iterator[None]:
    """Expect the block to revert with custom error `error` whose arguments are exactly `inputs`."""
    with ape.reverts() as info:
        yield
    exc = info.value
    decoded = (exc.name, exc.inputs) if isinstance(exc, CustomError) else _decode_raw(error, exc)
    assert decoded is not None, f"expected {error.__name__}, got a revert without it: {exc!r}"
    name, args = decoded
    assert name == error.__name__, f"expected {error.__name__}, got {exc!r}"
    actual = {k: _norm(v) for k, v in args.items()}
    expected = {k: _norm(v) for k, v in inputs.items()}
    assert actual == expected, f"{name}: expected arguments {expected}, got {actual}"
