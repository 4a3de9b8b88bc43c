"""The worst finalize a registrable model allows still fits a block with room to spare.

ModelRegistry bounds quorum^2 * dimension by MAX_AGREEMENT_WORK. The costliest finalize is the
last of MAX_ROUNDS rounds after two rounds that each revealed all but one vector: every revealed
vector is hashed and normed, and each is compared with every vector of the deciding round.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from contract_helpers import (
    FEE,
    ONE,
    SALT,
    assign_all,
    commit_for,
    model_params,
    near,
    reverts_with,
    seat_nodes,
    time_travel,
)
from infera.vectors import quantize_packed

BLOCK_GAS = 30_000_000  # an OP-stack chain's block gas limit (Base and OP mainnet: 30M or more)
# Shapes at the bound, quorum^2 * dimension == MAX_AGREEMENT_WORK (262,144): the widest vectors,
# and the largest committee (MAX_QUORUM) with the widest vectors it may have.
SHAPES = [(8, 4096), (16, 1024)]


def _vector(seed: int, dimension: int) -> bytes:
    return quantize_packed(np.random.default_rng(seed).standard_normal(dimension))


@pytest.fixture(params=SHAPES, ids=lambda shape: f"q{shape[0]}-d{shape[1]}")
def shape(request: Any) -> tuple[int, int]:
    return tuple(request.param)  # type: ignore[return-value]


@pytest.fixture
def big_committee(shape: tuple[int, int], accounts: Any, chain: Any, token: Any, models: Any, nodes: Any, deployer: Any, requester: Any) -> dict[str, Any]:
    """Model 2 at the bound, and 3 * quorum staked nodes serving it, by address."""
    quorum, dimension = shape
    models.registerModel(model_params(name="widest", quorum=quorum, min_agreement=quorum // 2 + 1, dimension=dimension), sender=deployer)
    by_address = {}
    for _ in range(3 * quorum):
        account = accounts.generate_test_account()
        chain.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])
        token.transfer(account, 1_000 * ONE, sender=requester)
        token.approve(nodes, 1_000 * ONE, sender=account)
        nodes.register(1_000 * ONE, [2], 4, sender=account)
        by_address[account.address] = account
    return by_address


def test_model_registry_refuses_agreement_work_past_the_bound(models: Any, deployer: Any) -> None:
    bound = int(models.MAX_AGREEMENT_WORK())
    for quorum, dimension in SHAPES:
        assert quorum * quorum * dimension == bound
        # One step past the bound: a larger committee, or (at MAX_QUORUM) wider vectors.
        wider = quorum == int(models.MAX_QUORUM())
        q, d = (quorum, dimension + 32) if wider else (quorum + 1, dimension)
        with reverts_with(models.ModelRegistryAgreementTooCostly, quorum=q, dimension=d):
            models.registerModel(model_params(name="too big", quorum=q, min_agreement=q // 2 + 1, dimension=d), sender=deployer)


def test_worst_case_finalize_fits_half_a_block(shape: tuple[int, int], chain: Any, jobs: Any, token: Any, deployer: Any, requester: Any, big_committee: dict[str, Any]) -> None:
    quorum, dimension = shape
    token.approve(jobs, FEE, sender=requester)
    jobs.submit(2, ["worst case"], FEE, False, sender=requester)
    assign_all(jobs, deployer)
    reveals: dict[int, bytes] = {}
    for round_ in range(3):
        seats = jobs.getSeats(1)
        start = len(seats) - quorum
        current = [big_committee[n] for n in seat_nodes(jobs, 1)[start:]]
        base = _vector(1_000, dimension)
        vectors = [near(base, 10 * round_ + i, noise=0.01) if round_ == 2 else _vector(100 * round_ + i, dimension)
                   for i in range(quorum)]
        for account, vector in zip(current, vectors, strict=True):
            jobs.commit(1, commit_for(chain, jobs, 1, account, vector), sender=account)
        shown = quorum if round_ == 2 else quorum - 1  # rounds 0 and 1: one seat withholds
        for i in range(shown):
            jobs.reveal(1, vectors[i], SALT, sender=current[i])
            reveals[start + i] = vectors[i]
        if round_ < 2:
            time_travel(chain, 121)
        all_vectors = [reveals.get(i, b"") for i in range(len(jobs.getSeats(1)))]
        tx = jobs.finalize(1, all_vectors, sender=deployer, gas_limit=BLOCK_GAS)
        if round_ < 2:
            assert tx.decode_logs(jobs.JobReassigned)
            assign_all(jobs, deployer)
    assert len(tx.decode_logs(jobs.JobAccepted)[0].agreeing) == quorum
    assert sum(1 for v in all_vectors if v) == 3 * quorum - 2
    assert tx.gas_used < BLOCK_GAS // 2, f"worst-case finalize ({quorum} x {dimension}) used {tx.gas_used:,} gas"
