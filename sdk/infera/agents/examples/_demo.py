"""What both example agents share: for --demo a local network up for the run, printed lines and
a clean stop; otherwise a run against the configured network until stopped."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from infera.agents import Agent, AgentSettings, Budget, Memory
from infera.client import InferaClient
from infera.logs import configure

if TYPE_CHECKING:
    from infera_testing.localnet import LocalNetwork

NODE_ACCOUNTS = [1, 2, 3]


def printer(phase: str, message: str) -> None:
    """The demo's user-facing lines: what the agent perceived, thought and did."""
    print(f"{phase:>9} | {message}", flush=True)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _local_network_class() -> type[LocalNetwork]:
    """The checkout's test harness, imported only for --demo: a pip-installed SDK has none."""
    try:
        from infera_testing.localnet import LocalNetwork
    except ModuleNotFoundError as exc:
        if exc.name != "infera_testing":
            raise
        raise SystemExit(
            "--demo starts a whole local network (devnet, deployment, node processes) with the Infera "
            "checkout's test harness, infera_testing, which is not installed here: run the demo from a "
            "checkout after `make setup` (`make demo-agent`), or run the agent against a deployment "
            "by giving its contract address instead of --demo"
        ) from None
    return LocalNetwork


@contextmanager
def local_network() -> Iterator[LocalNetwork]:
    """Devnet + deployment + three staked node processes; all stopped on exit, Ctrl-C included."""
    network_class = _local_network_class()
    run_dir = Path(tempfile.mkdtemp(prefix="infera-agent-"))
    try:
        with network_class(run_dir) as net:
            net.bring_up(NODE_ACCOUNTS, lambda line: print(line, flush=True))
            yield net
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def run_demo(body: Callable[[LocalNetwork, Path], Coroutine[Any, Any, int]]) -> None:
    """Bring a network up, run `body(net, state dir)`, stop everything; exit with its code."""
    configure(level="WARNING", json=False)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    code = 1
    try:
        with local_network() as net:
            code = asyncio.run(body(net, net.run_dir / "agent"))
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started has been stopped", file=sys.stderr)
        code = 130
    print("stopped the nodes and the devnet", flush=True)
    sys.exit(code)


async def run_live(build: Callable[[InferaClient, Memory, Budget, AgentSettings], Agent],
                   seeds: Mapping[str, Sequence[str]], threshold: float) -> int:
    """Run the agent `build` makes against the network the INFERA_* settings name, learning its
    prototypes from `seeds` first (unless its saved state has them), until it is stopped."""
    settings = AgentSettings()
    client = await InferaClient.connect()  # the INFERA_* client settings: network, RPC, signer
    memory = Memory.open(settings.state_path)
    try:
        agent = build(client, memory, Budget(settings.budget_wei), settings)
        await agent.learn_prototypes(seeds, dict.fromkeys(seeds, threshold))
        await agent.run()
        return 0
    finally:
        memory.close()
        await client.close()
