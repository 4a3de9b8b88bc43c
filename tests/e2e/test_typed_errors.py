"""Real reverts from the deployed contracts arrive as their generated classes, with hints; an
RPC refusal and a dead RPC arrive as SDK errors, never as web3's or aiohttp's."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account

from infera.chain import Chain
from infera.contract_errors import (
    ERC20InsufficientAllowance,
    JobRegistryFeeAboveMax,
    JobRegistryUnknownJob,
    NodeRegistryStakeBelowMinimum,
)
from infera.devnet import DEVNET_KEYS
from infera.errors import InferaError, InsufficientStake, RpcRequestError, RpcUnreachable
from infera.operator import ONE, node_status
from infera_testing.localnet import LocalNetwork

NODE_KEY = DEVNET_KEYS[6]


async def _reverts(net: LocalNetwork) -> None:
    assert net.deployment is not None
    model_id = next(iter(net.deployment.models.values()))

    node = await net.connect(NODE_KEY)
    try:
        await node.transact(node.token.functions.approve(node.nodes.address, 10 * ONE))
        with pytest.raises(NodeRegistryStakeBelowMinimum) as low:
            await node.transact(node.nodes.functions.register(10 * ONE, [model_id], 4))
        assert isinstance(low.value, InsufficientStake)
        assert (low.value.have, low.value.need) == (10 * ONE, 100 * ONE)
        assert "have=10 INFER, need=100 INFER" in str(low.value)
        assert "oracle-node register --stake 100" in str(low.value)
    finally:
        await node.close()

    await net.register_nodes([1, 2, 3])
    requester = await net.connect()
    try:
        fee = (await requester.get_model(model_id)).fee
        with pytest.raises(JobRegistryFeeAboveMax) as cheap:
            await requester.transact(requester.jobs.functions.submit(model_id, ["hello"], fee - 1, False))
        assert (cheap.value.fee, cheap.value.maxFee) == (fee, fee - 1)
        assert "quote the fee again" in str(cheap.value)

        await requester.transact(requester.token.functions.approve(requester.jobs.address, 0))
        with pytest.raises(ERC20InsufficientAllowance) as unapproved:
            await requester.transact(requester.jobs.functions.submit(model_id, ["hello"], fee, False))
        assert unapproved.value.spender == requester.jobs.address and unapproved.value.needed == fee
        assert "approve it first" in str(unapproved.value)

        with pytest.raises(JobRegistryUnknownJob, match="no job has id 424242") as unknown:
            await requester.get_job(424242)  # an eth_call, not a transaction
        assert unknown.value.jobId == 424242
    finally:
        await requester.close()

    # An account without ETH: the RPC refuses the transaction itself (a JSON-RPC error).
    broke = await net.connect(Account.create().key.hex())
    try:
        with pytest.raises(RpcRequestError, match="send it some ETH"):
            await broke.transact(broke.token.functions.approve(broke.jobs.address, 1))
    finally:
        await broke.close()


async def _dead_rpc(net: LocalNetwork) -> None:
    assert net.deployment is not None and net.devnet is not None
    chain = await Chain.connect(net.rpc_url, net.deployment, NODE_KEY, timeout=1.0, retry_for=1.0)
    try:
        net.devnet.stop()
        for call in (chain.get_job(1), node_status(chain), chain.transact(chain.token.functions.approve(chain.address, 1))):
            with pytest.raises(InferaError) as dead:
                await call
            assert isinstance(dead.value, RpcUnreachable), repr(dead.value)
    finally:
        await chain.close()
    with pytest.raises(RpcUnreachable):
        await Chain.connect(net.rpc_url, net.deployment, timeout=1.0, retry_for=0.5)


def test_reverts_arrive_as_their_classes_and_a_dead_rpc_as_rpc_unreachable(network: LocalNetwork) -> None:
    asyncio.run(_reverts(network))
    asyncio.run(_dead_rpc(network))
