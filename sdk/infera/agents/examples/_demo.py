"""What both example demos share: a local network up for the run, printed lines, clean stop."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from infera.localnet import LocalNetwork
from infera.logs import configure

NODE_ACCOUNTS = [1, 2, 3]


def printer(phase: str, message: str) -> None:
    """The demo's user-facing lines: what the agent perceived, thought and did."""
    print(f"{phase:>9} | {message}", flush=True)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def local_network() -> Iterator[LocalNetwork]:
    """Devnet + deployment + three staked node processes; all stopped on exit, Ctrl-C included."""
    run_dir = Path(tempfile.mkdtemp(prefix="infera-agent-"))
    try:
        with LocalNetwork(run_dir) as net:
            net.start_devnet()
            print(f"devnet {net.rpc_url}", flush=True)
            deployment = net.deploy()
            print(f"deployed: JobRegistry {deployment.contracts.JobRegistry}", flush=True)
            asyncio.run(net.register_nodes(NODE_ACCOUNTS))
            for index in NODE_ACCOUNTS:
                node = net.start_node(index)
                print(f"node {node.address} started (pid {node.process.pid})", flush=True)
            net.wait_nodes_ready()
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
