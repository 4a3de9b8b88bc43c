"""`oracle-node`: run a node, register and stake, or show its status."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

import structlog

from infera.chain import Chain
from infera.deployment import load_deployment
from infera.errors import InferaError
from oracle_node.config import NodeSettings
from oracle_node.logs import configure
from oracle_node.node import OracleNode

ONE = 10**18


async def _run(settings: NodeSettings) -> None:
    node = OracleNode(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stop)
    await node.run()


async def _connect(settings: NodeSettings) -> Chain:
    if settings.private_key is None:
        raise InferaError("INFERA_PRIVATE_KEY is not set")
    deployment = load_deployment(settings.network, settings.deployments_dir)
    return await Chain.connect(settings.rpc_url, deployment, settings.private_key.get_secret_value())


async def _register(settings: NodeSettings, stake: float, capacity: int) -> dict[str, object]:
    """Register with `stake` INFER, or top the stake up to `stake` if already registered."""
    chain = await _connect(settings)
    try:
        me = chain.address
        amount = int(stake * ONE)
        info = await chain.get_node(me)
        needed = amount - info.stake if info.registered else amount
        if needed > 0:
            await chain.transact(chain.token.functions.approve(chain.nodes.address, needed))
            if info.registered:
                await chain.transact(chain.nodes.functions.addStake(needed))
            else:
                model_ids = [chain.deployment.model_id(m) for m in settings.models]
                await chain.transact(chain.nodes.functions.register(amount, model_ids, capacity))
        return await _status(chain)
    finally:
        await chain.close()


async def _status(chain: Chain) -> dict[str, object]:
    info = await chain.get_node(chain.address)
    return {
        "node": info.address,
        "registered": info.registered,
        "stake_infer": info.stake / ONE,
        "unbonding_infer": info.unbonding / ONE,
        "capacity": info.capacity,
        "open_jobs": info.open_jobs,
        "reputation": info.reputation / 10_000,
        "selection_weight": info.listed_weight / ONE,
        "balance_infer": await chain.balance_of(info.address) / ONE,
    }


async def _status_cmd(settings: NodeSettings) -> dict[str, object]:
    chain = await _connect(settings)
    try:
        return await _status(chain)
    finally:
        await chain.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oracle-node", description="Infera oracle node")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve jobs until stopped (settings from INFERA_* variables / .env)")
    reg = sub.add_parser("register", help="register and stake, or top up the stake")
    reg.add_argument("--stake", type=float, required=True, help="INFER to have staked")
    reg.add_argument("--capacity", type=int, default=8, help="most jobs at once")
    sub.add_parser("status", help="stake, reputation and balance of this node")
    args = parser.parse_args(argv)

    settings = NodeSettings()
    configure(settings.log_level, settings.log_json)
    try:
        if args.command == "run":
            asyncio.run(_run(settings))
        elif args.command == "register":
            print(json.dumps(asyncio.run(_register(settings, args.stake, args.capacity)), indent=2))
        else:
            print(json.dumps(asyncio.run(_status_cmd(settings)), indent=2))
    except InferaError as exc:
        structlog.get_logger("oracle_node").error("fatal", error=str(exc), kind=type(exc).__name__)
        print(f"oracle-node: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
