"""`oracle-node`: run a node, manage its stake and service, claim emission, show its status.

Exit codes: 0 done; 2 a usage, settings or operator error, printed as one line
``oracle-node: <what is wrong and what to do>`` on stderr (never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from eth_utils.address import is_address, to_checksum_address

from infera import operator as op
from infera.chain import Chain, load_account
from infera.deployment import load_deployment
from infera.errors import ConfigError, InferaError, InvalidAmount
from oracle_node.config import NodeSettings, load_settings
from oracle_node.inference.embedder import NODE_EXTRA_INSTALL, missing_node_extra
from oracle_node.keylock import KeyLock
from oracle_node.logs import configure
from oracle_node.node import OracleNode, connect_signer


def _amount(text: str) -> int:
    """argparse type: decimal INFER -> wei, exactly; a bad amount is a usage error (exit 2)."""
    try:
        return op.parse_infer(text)
    except InvalidAmount as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _capacity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of jobs") from None
    if not 1 <= value <= op.MAX_CAPACITY:
        raise argparse.ArgumentTypeError(f"capacity must be 1 to {op.MAX_CAPACITY} jobs at once, got {value}")
    return value


def _model_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one model, e.g. --models all-MiniLM-L6-v2")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oracle-node",
        description="Infera oracle node. Settings come from INFERA_* variables or a .env file; "
        "amounts are decimal INFER (18 decimals), e.g. 150.5.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="serve jobs until stopped")
    reg = sub.add_parser("register", help="register and stake (models from INFERA_MODELS), or top the stake up")
    reg.add_argument("--stake", type=_amount, required=True, metavar="INFER", help="INFER to have staked, e.g. 1000.5")
    reg.add_argument("--capacity", type=_capacity, default=8, help="most jobs at once (default 8)")
    add = sub.add_parser("add-stake", help="bond more INFER")
    add.add_argument("amount", type=_amount, metavar="INFER", help="INFER to add, e.g. 10")
    upd = sub.add_parser("update-service", help="change capacity and, with --models, the models served")
    upd.add_argument("--capacity", type=_capacity, required=True, help="most jobs at once")
    upd.add_argument("--models", type=_model_list, metavar="A,B",
                     help="models to serve, by name or id, comma-separated (default: the ones served now)")
    uns = sub.add_parser("unstake", help="move stake into unbonding (withdraw it after the unbonding period)")
    uns.add_argument("amount", type=_amount, metavar="INFER", help="INFER to unbond, e.g. 25.25")
    sub.add_parser("withdraw", help="withdraw stake whose unbonding period has ended")
    sub.add_parser("reinstate", help="come back on probation after an ejection")
    st = sub.add_parser("status", help="stake, unbonding, reputation, capacity, balances and pending emission")
    st.add_argument("--address", help="show another node (default: the INFERA_PRIVATE_KEY account)")
    sub.add_parser("claim", help="claim emission rewards of every closed epoch")
    return parser


def signer_address(settings: NodeSettings) -> str:
    """The address of INFERA_PRIVATE_KEY, checked before anything else is done with it."""
    return str(load_account(settings.signing_key()).address)


async def _run(settings: NodeSettings) -> None:
    node = OracleNode(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stop)
    await node.run()


async def _with_signer(settings: NodeSettings, action: Callable[[Chain], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    chain = await connect_signer(settings)
    try:
        return await action(chain)
    finally:
        await chain.close()


async def _status(settings: NodeSettings, address: str | None) -> dict[str, Any]:
    if address is None:
        return await _with_signer(settings, lambda chain: _as_dict(op.node_status(chain)))
    if not is_address(address):
        raise ConfigError(f"--address {address!r} is not an Ethereum address")
    deployment = load_deployment(settings.network, settings.deployments_dir)
    chain = await Chain.connect(settings.rpc_url, deployment)
    try:
        return (await op.node_status(chain, to_checksum_address(address))).as_dict()
    finally:
        await chain.close()


async def _as_dict(status: Awaitable[op.NodeStatus]) -> dict[str, Any]:
    return (await status).as_dict()


def _action(args: argparse.Namespace, settings: NodeSettings) -> Callable[[Chain], Awaitable[dict[str, Any]]]:
    """The SDK call a transaction-sending command makes, returning what it prints."""

    async def register(chain: Chain) -> dict[str, Any]:
        model_ids = [chain.deployment.model_id(m) for m in settings.models]
        return (await op.register_or_top_up(chain, args.stake, model_ids, args.capacity)).as_dict()

    async def update_service(chain: Chain) -> dict[str, Any]:
        model_ids = None if args.models is None else [chain.deployment.model_id(m) for m in args.models]
        return (await op.update_service(chain, args.capacity, model_ids)).as_dict()

    async def withdraw(chain: Chain) -> dict[str, Any]:
        amount = await op.withdraw(chain)
        return {"withdrawn_infer": op.format_infer(amount), "withdrawn_wei": amount,
                **(await op.node_status(chain)).as_dict()}

    async def claim(chain: Chain) -> dict[str, Any]:
        amount = await op.claim_rewards(chain)
        return {"claimed_infer": op.format_infer(amount), "claimed_wei": amount,
                **(await op.node_status(chain)).as_dict()}

    actions: dict[str, Callable[[Chain], Awaitable[dict[str, Any]]]] = {
        "register": register,
        "add-stake": lambda chain: _as_dict(op.add_stake(chain, args.amount)),
        "update-service": update_service,
        "unstake": lambda chain: _as_dict(op.request_unstake(chain, args.amount)),
        "withdraw": withdraw,
        "reinstate": lambda chain: _as_dict(op.reinstate(chain)),
        "claim": claim,
    }
    return actions[args.command]


def _embedding_missing(command: str) -> str | None:
    """Why `command` cannot run here, when it embeds and the node extra is not installed."""
    missing = missing_node_extra() if command == "run" else []
    if not missing:
        return None
    verb = "is" if len(missing) == 1 else "are"
    return (f"`oracle-node run` embeds with torch and sentence-transformers, and {', '.join(missing)} {verb} "
            f"not installed: install the node extra with `{NODE_EXTRA_INSTALL}` "
            "(in a checkout: `make setup`, which installs it)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a usage error exits 2 here, with argparse's message
    # Before the settings: a missing install is the first thing to fix, whatever else is set.
    missing = _embedding_missing(args.command)
    if missing:
        print(f"oracle-node: {missing}", file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"oracle-node: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level, settings.log_json)
    try:
        if args.command == "status":
            print(json.dumps(asyncio.run(_status(settings, args.address)), indent=2))
            return 0
        with KeyLock(settings.state_dir, signer_address(settings), args.command):
            if args.command == "run":
                asyncio.run(_run(settings))
            else:
                print(json.dumps(asyncio.run(_with_signer(settings, _action(args, settings))), indent=2))
    except InferaError as exc:
        structlog.get_logger("oracle_node").error("fatal", error=str(exc), kind=type(exc).__name__)
        print(f"oracle-node: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
