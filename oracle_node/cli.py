"""`oracle-node`: run a node, register and stake, or show its status."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence

import structlog

from infera.errors import InferaError
from infera.operator import ONE, claim_rewards, node_status, register_or_top_up
from oracle_node.config import NodeSettings
from oracle_node.logs import configure
from oracle_node.node import OracleNode, connect_signer


async def _run(settings: NodeSettings) -> None:
    node = OracleNode(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stop)
    await node.run()


async def _register(settings: NodeSettings, stake: float, capacity: int) -> dict[str, object]:
    """Register with `stake` INFER, or top the stake up to `stake` if already registered."""
    chain = await connect_signer(settings)
    try:
        model_ids = [chain.deployment.model_id(m) for m in settings.models]
        status = await register_or_top_up(chain, int(stake * ONE), model_ids, capacity)
        return status.as_dict()
    finally:
        await chain.close()


async def _claim_cmd(settings: NodeSettings) -> dict[str, object]:
    chain = await connect_signer(settings)
    try:
        return {"claimed_infer": await claim_rewards(chain) / ONE, **(await node_status(chain)).as_dict()}
    finally:
        await chain.close()


async def _status_cmd(settings: NodeSettings) -> dict[str, object]:
    chain = await connect_signer(settings)
    try:
        return (await node_status(chain)).as_dict()
    finally:
        await chain.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oracle-node", description="Infera oracle node")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve jobs until stopped (settings from INFERA_* variables / .env)")
    reg = sub.add_parser("register", help="register and stake, or top up the stake")
    reg.add_argument("--stake", type=float, required=True, help="INFER to have staked")
    reg.add_argument("--capacity", type=int, default=8, help="most jobs at once")
    sub.add_parser("status", help="stake, reputation, balance and pending rewards of this node")
    sub.add_parser("claim", help="claim emission rewards of every closed epoch")
    args = parser.parse_args(argv)

    settings = NodeSettings()
    configure(settings.log_level, settings.log_json)
    try:
        if args.command == "run":
            asyncio.run(_run(settings))
        elif args.command == "register":
            print(json.dumps(asyncio.run(_register(settings, args.stake, args.capacity)), indent=2))
        elif args.command == "claim":
            print(json.dumps(asyncio.run(_claim_cmd(settings)), indent=2))
        else:
            print(json.dumps(asyncio.run(_status_cmd(settings)), indent=2))
    except InferaError as exc:
        structlog.get_logger("oracle_node").error("fatal", error=str(exc), kind=type(exc).__name__)
        print(f"oracle-node: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
