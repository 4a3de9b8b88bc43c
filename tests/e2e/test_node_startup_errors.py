"""A node operator gets a clear error, and exit code 2, for each way start-up can be wrong."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from infera.devnet import DEVNET_KEYS, Devnet, free_port
from infera.operator import ONE
from infera_testing.localnet import LocalNetwork


def run_node(net: LocalNetwork, key: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = net.base_env()
    full_env.update(INFERA_PRIVATE_KEY=key, INFERA_STATE_DIR=str(net.run_dir / "state"), INFERA_LOG_JSON="false")
    full_env.update(env)
    return subprocess.run(
        [str(Path(sys.executable).parent / "oracle-node"), "run"],
        env=full_env, capture_output=True, text=True, timeout=120, cwd=net.run_dir,
    )


# The slice of InferaTimelock (OpenZeppelin's TimelockController) that governance needs.
_OPERATION = [
    {"name": "target", "type": "address"}, {"name": "value", "type": "uint256"}, {"name": "data", "type": "bytes"},
    {"name": "predecessor", "type": "bytes32"}, {"name": "salt", "type": "bytes32"},
]
TIMELOCK_ABI = [
    {"type": "function", "name": "getMinDelay", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "schedule", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [*_OPERATION, {"name": "delay", "type": "uint256"}]},
    {"type": "function", "name": "execute", "stateMutability": "payable", "outputs": [], "inputs": _OPERATION},
]


async def _admin(net: LocalNetwork, action: str) -> None:
    # Every admin role sits behind the timelock; on the devnet the deployer proposes and executes.
    chain = await net.connect(DEVNET_KEYS[0])
    try:
        if action == "raise-min-stake":
            target, fn = chain.nodes, chain.nodes.functions.setParams(5_000 * ONE, 86_400, 2_500, 100_000 * ONE)
        elif action == "wrong-digest":
            m = await chain.get_model(1)
            name = await chain.models.functions.nameOf(1).call()
            params = (name, b"\x13" * 32, m.dimension, m.quantization, m.threshold_ppm, m.quorum,
                      m.min_agreement, m.fee, m.commit_window, m.reveal_window)
            target, fn = chain.models, chain.models.functions.updateModel(1, params)
        else:
            raise ValueError(action)
        assert net.deployment is not None and net.devnet is not None
        timelock = chain.w3.eth.contract(address=net.deployment.contracts.InferaTimelock, abi=TIMELOCK_ABI)
        delay = await timelock.functions.getMinDelay().call()
        call = (target.address, 0, fn._encode_transaction_data(), b"\x00" * 32, b"\x00" * 32)
        await chain.transact(timelock.functions.schedule(*call, delay))
        net.devnet.advance_time(delay + 1)
        await chain.transact(timelock.functions.execute(*call))
    finally:
        await chain.close()


def test_unregistered_node_is_told_to_register(network: LocalNetwork) -> None:
    result = run_node(network, DEVNET_KEYS[5])
    assert result.returncode == 2
    assert "is not registered: run `oracle-node register --stake N`" in result.stderr


def test_stake_below_minimum(network: LocalNetwork) -> None:
    asyncio.run(network.register_nodes([5], stake_infer=1_000))
    asyncio.run(_admin(network, "raise-min-stake"))
    result = run_node(network, DEVNET_KEYS[5])
    assert result.returncode == 2
    assert "has 1000 INFER staked, the minimum is 5000" in result.stderr


def test_wrong_model_digest(network: LocalNetwork) -> None:
    asyncio.run(network.register_nodes([5]))
    asyncio.run(_admin(network, "wrong-digest"))
    result = run_node(network, DEVNET_KEYS[5])
    assert result.returncode == 2
    assert "but the model registry names 0x" + "13" * 32 in result.stderr


def test_unreachable_rpc(network: LocalNetwork) -> None:
    result = run_node(network, DEVNET_KEYS[5], INFERA_RPC_URL=f"http://127.0.0.1:{free_port()}", INFERA_RPC_RETRY_FOR="2")
    assert result.returncode == 2
    assert "does not answer" in result.stderr


def test_wrong_chain(network: LocalNetwork) -> None:
    other = Devnet(port=free_port(), chain_id=31337).start()
    try:
        result = run_node(network, DEVNET_KEYS[5], INFERA_RPC_URL=other.rpc_url)
    finally:
        other.stop()
    assert result.returncode == 2
    assert "serves chain id 31337" in result.stderr and "994207" in result.stderr


@pytest.mark.parametrize("key", ["", "0x1234"])
def test_missing_or_malformed_key(network: LocalNetwork, key: str) -> None:
    result = run_node(network, key)
    assert result.returncode == 2
    assert "INFERA_PRIVATE_KEY is not set" in result.stderr or "not a valid secp256k1 key" in result.stderr
