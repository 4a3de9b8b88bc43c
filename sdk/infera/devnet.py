"""Start and stop the local OP-stack devnet (anvil --optimism) by PID.

``infera-devnet up`` starts anvil in the background and records its PID; ``down`` stops exactly
that process; ``run -- CMD`` starts a devnet on a free loopback port, runs CMD with
``INFERA_RPC_URL`` pointing at it, and always stops it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from infera.paths import project_root

DEVNET_CHAIN_ID = 994207
"""Chain id of the local Infera L3 devnet (must equal ape-config.yaml's infera:devnet)."""

# The well-known anvil mnemonic and its first keys: public test keys, for the devnet ONLY.
DEVNET_MNEMONIC = "test test test test test test test test test test test junk"
DEVNET_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",  # 0 deployer
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",  # 1
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",  # 2
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",  # 3
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",  # 4
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",  # 5
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",  # 6
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",  # 7
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",  # 8
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",  # 9
)


class DevnetError(RuntimeError):
    """The devnet could not be started, reached or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_anvil() -> str:
    """anvil from INFERA_ANVIL_BIN, the project's node_modules, or PATH."""
    configured = os.environ.get("INFERA_ANVIL_BIN")
    if configured:
        return configured
    bundled = project_root() / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    if bundled.exists():
        return str(bundled)
    found = shutil.which("anvil")
    if found:
        return found
    raise DevnetError("anvil not found: run `make setup` (npm installs it) or set INFERA_ANVIL_BIN")


def rpc_call(url: str, method: str, params: list[object] | None = None, timeout: float = 2.0) -> object:
    """One JSON-RPC call with the standard library (no web3 needed to probe a node)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise DevnetError(f"{method} failed: {reply['error']}")
    return reply.get("result")


@dataclass
class Devnet:
    """A running anvil process (or one to start) on 127.0.0.1:port."""

    port: int
    chain_id: int = DEVNET_CHAIN_ID
    block_time: float = 0.0
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # With a block time: also mine every transaction at once (anvil --mixed-mining), so the chain
    # is both quick and never idle. Committee draws need a block after the submitting one.
    mixed_mining: bool = False
    # Keep every step of every transaction, for geth-style debug_traceTransaction (gas profiles).
    steps_tracing: bool = False
    # Start from a state anvil dumped (dump_state): its accounts, contracts and blocks.
    load_state: Path | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            find_anvil(),
            "--optimism",
            "--chain-id", str(self.chain_id),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--mnemonic", DEVNET_MNEMONIC,
            "--accounts", str(len(DEVNET_KEYS)),
            "--balance", "100000",
            "--gas-limit", "60000000",
        ]
        if self.block_time > 0:
            cmd += ["--block-time", f"{self.block_time:g}"]
            if self.mixed_mining:
                cmd.append("--mixed-mining")
        if self.steps_tracing:
            cmd.append("--steps-tracing")
        if self.load_state is not None:
            cmd += ["--load-state", str(self.load_state)]
        return cmd

    def dump_state(self, path: Path) -> Path:
        """Write the chain's whole state (accounts, storage, blocks) where ``load_state`` reads it."""
        blob = bytes.fromhex(str(rpc_call(self.rpc_url, "anvil_dumpState", timeout=60.0)).removeprefix("0x"))
        path.write_bytes(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
        return path

    def advance_time(self, seconds: int) -> None:
        """Move the chain's clock forward and mine a block at the new time (devnet only)."""
        rpc_call(self.rpc_url, "evm_increaseTime", [seconds])
        rpc_call(self.rpc_url, "evm_mine")

    def start(self, timeout: float = 30.0) -> Devnet:
        """Start anvil and wait until it answers with the expected chain id."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if self.log_path:
                log.close()  # type: ignore[union-attr]
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise DevnetError(f"anvil exited with code {self.process.returncode} (port {self.port} taken?)")
            try:
                chain_id = int(str(rpc_call(self.rpc_url, "eth_chainId")), 16)
            except (OSError, urllib.error.URLError, DevnetError):
                time.sleep(0.1)
                continue
            if chain_id != self.chain_id:
                raise DevnetError(f"{self.rpc_url} answers chain id {chain_id}, expected {self.chain_id}")
            return
        raise DevnetError(f"anvil did not answer on {self.rpc_url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a child started with a new session: SIGTERM its group, reap it, SIGKILL if it lingers.

    Waiting on the Popen (not probing the group) matters: an exited but unreaped child still
    answers a probe, which would turn every stop into a full grace period.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def stop_pid(pid: int, grace: float = 5.0) -> None:
    """SIGTERM the process group led by ``pid`` (not our child: `infera-devnet down`), then SIGKILL."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_devnet(block_time: float = 0.0, log_path: Path | None = None) -> Iterator[Devnet]:
    """A devnet on a free port for the duration of the block; always stopped afterwards."""
    devnet = Devnet(port=free_port(), block_time=block_time, log_path=log_path)
    try:
        yield devnet.start()
    finally:
        devnet.stop()


# ----------------------------------------------------------------------------------- CLI
def _state_dir() -> Path:
    path = Path(os.environ.get("INFERA_RUN_DIR", project_root() / ".run"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_up(args: argparse.Namespace) -> int:
    pid_file = _state_dir() / "devnet.pid"
    if pid_file.exists():
        pid, port = (int(x) for x in pid_file.read_text().split())
        if _pid_alive(pid) and port == args.port:
            print(f"devnet already running: pid {pid}, http://127.0.0.1:{port}")
            return 0
        if _pid_alive(pid):
            stop_pid(pid)
        pid_file.unlink()
    devnet = Devnet(port=args.port, block_time=args.block_time, log_path=_state_dir() / "devnet.log")
    devnet.start()
    assert devnet.process is not None
    pid_file.write_text(f"{devnet.process.pid} {args.port}\n")
    print(f"devnet up: pid {devnet.process.pid}, {devnet.rpc_url}, chain id {devnet.chain_id}")
    return 0


def cmd_down(_: argparse.Namespace) -> int:
    pid_file = _state_dir() / "devnet.pid"
    if not pid_file.exists():
        print("devnet not running")
        return 0
    pid = int(pid_file.read_text().split()[0])
    stop_pid(pid)
    pid_file.unlink()
    print(f"devnet down: stopped pid {pid}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    command: Sequence[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("infera-devnet run: give a command after --")
    with running_devnet(block_time=args.block_time) as devnet:
        env = dict(os.environ, INFERA_RPC_URL=devnet.rpc_url)
        child = subprocess.Popen(list(command), env=env)
        # Pass a SIGTERM (e.g. from `timeout` or CI) on to the command and still stop the devnet;
        # Python's default would die here and leave anvil running.
        signal.signal(signal.SIGTERM, lambda signum, _frame: child.send_signal(signum))
        return child.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infera-devnet", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start anvil in the background")
    up.add_argument("--port", type=int, default=int(os.environ.get("INFERA_DEVNET_PORT", "8545")))
    up.add_argument("--block-time", type=float, default=0.0, help="seconds per block; 0 = mine on demand")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop the anvil started by `up`")
    down.set_defaults(func=cmd_down)
    run = sub.add_parser("run", help="run a command against a throwaway devnet on a free port")
    run.add_argument("--block-time", type=float, default=0.0)
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DevnetError as exc:
        print(f"infera-devnet: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
