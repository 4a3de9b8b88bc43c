"""The operator's commands, as real `oracle-node` processes against a devnet: exact decimal
amounts, a JSON status after each, clear refusals (exit 2), and one process per key."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account

from infera.devnet import DEVNET_KEYS
from infera.operator import ONE
from infera_testing.localnet import LocalNetwork

INDEX = 5
KEY = DEVNET_KEYS[INDEX]
ADDRESS = Account.from_key(KEY).address


def oracle_node(net: LocalNetwork, *args: str) -> subprocess.CompletedProcess[str]:
    env = net.base_env()
    # The same state_dir as net.start_node, so both see the same key lock.
    env.update(INFERA_PRIVATE_KEY=KEY, INFERA_STATE_DIR=str(net.run_dir / "node-state"), INFERA_LOG_JSON="false")
    return subprocess.run(
        [str(Path(sys.executable).parent / "oracle-node"), *args],
        env=env, capture_output=True, text=True, timeout=60, cwd=net.run_dir,
    )


def ok(net: LocalNetwork, *args: str) -> dict[str, Any]:
    result = oracle_node(net, *args)
    assert result.returncode == 0, f"oracle-node {' '.join(args)}: {result.stderr[-2000:]}"
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def refused(net: LocalNetwork, *args: str) -> str:
    result = oracle_node(net, *args)
    assert result.returncode == 2, f"oracle-node {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    return result.stderr


def test_operator_commands(network: LocalNetwork) -> None:
    status = ok(network, "register", "--stake", "150.5", "--capacity", "4")
    assert status["registered"] and status["node"] == ADDRESS
    assert status["stake_wei"] == 150 * ONE + ONE // 2 and status["stake_infer"] == "150.5"

    status = ok(network, "add-stake", "10")
    assert status["stake_infer"] == "160.5"

    status = ok(network, "status")
    assert status["stake_wei"] == 160 * ONE + ONE // 2
    assert status["unbonding_wei"] == 0 and status["unbonding_until"] is None and not status["withdrawable"]
    assert status["reputation"] == 1.0 and status["ejected"] is False and status["reinstate_after"] is None
    assert status["capacity"] == 4 and status["open_jobs"] == 0 and status["models"] == [1]
    assert status["selection_weight_infer"] == "160.5"
    assert status["pending_rewards_wei"] == 0 and status["min_stake_infer"] == "100"
    assert status["balance_wei"] > 0 and status["eth_balance_wei"] > 0
    assert Decimal(status["eth_balance"]) * ONE == status["eth_balance_wei"]  # ETH for gas, exact

    status = ok(network, "unstake", "25.25")
    assert status["stake_infer"] == "135.25" and status["unbonding_infer"] == "25.25"
    until = status["unbonding_until"]
    assert until is not None and until.endswith("Z")

    err = refused(network, "withdraw")
    assert f"oracle-node: 25.25 INFER unbonding until {until}; withdraw after that" in err
    err = refused(network, "unstake", "100")
    assert "below the minimum of 100: unstake at most 35.25, or all 135.25 to leave" in err
    assert "more than 18 decimals" in refused(network, "add-stake", "0.0000000000000000001")

    status = ok(network, "update-service", "--capacity", "2", "--models", "all-MiniLM-L6-v2")
    assert status["capacity"] == 2 and status["models"] == [1]

    assert network.devnet is not None
    network.devnet.advance_time(86_400 + 1)  # the devnet's unbonding period
    status = ok(network, "withdraw")
    assert status["withdrawn_infer"] == "25.25" and status["unbonding_wei"] == 0

    # One process per key: while `run` holds it, a second run and every sending command are refused.
    node = network.start_node(INDEX)
    owner = network.run_dir / "node-state" / f"{ADDRESS.lower()}.owner.json"
    deadline = time.monotonic() + 30
    while not owner.exists():
        assert node.process.poll() is None, node.log_text()[-3000:]
        assert time.monotonic() < deadline, "oracle-node run did not take its key lock"
        time.sleep(0.1)
    head = f"oracle-node: another oracle-node process is already running with key {ADDRESS}; stop it first"
    assert head in refused(network, "run")
    err = refused(network, "claim")
    assert head in err and "the running node must be stopped" in err and "same nonces" in err
    assert ok(network, "status")["stake_infer"] == "135.25"  # status takes no lock
    assert node.process.poll() is None  # the running node was not disturbed
