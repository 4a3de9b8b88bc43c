"""Constants and helpers shared by the contract tests (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from infera.chain import commitment_of
from infera.vectors import quantize_packed

ONE = 10**18
DIM = 384
THRESHOLD_PPM = 900_000
MIN_STAKE = 100 * ONE
UNBONDING = 86_400
MAX_JOB_LIFETIME = UNBONDING  # models may have jobs as long as the unbonding period, no longer
STAKE_CAP = 100_000 * ONE
EPOCH = 3_600
INITIAL_EMISSION = 1_000 * ONE
DECAY_BPS = 9_000
# Emission per INFER of fees earned (bps); self-dealing stays unprofitable while
# EMISSION_PER_FEE_BPS * (10_000 - protocol_fee_bps) < protocol_fee_bps * 10_000 (400 * 9_500 < 500 * 10_000).
EMISSION_PER_FEE_BPS = 400
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
