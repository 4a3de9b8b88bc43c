"""A whole Infera network on this machine: devnet, deployment, staked nodes as real processes.

Used by `make demo`, the agents' --demo and the end-to-end tests; it runs the checkout's
`ape run deploy` and the `oracle-node` installed beside this interpreter. Every process it starts is recorded and stopped
by PID on exit, whatever the exit path.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from eth_account import Account

from infera.chain import Chain
from infera.deployment import Deployment, load_deployment
from infera.devnet import DEVNET_KEYS, Devnet, DevnetError, free_port, stop_process
from infera.operator import ONE, register_or_top_up
from infera.paths import checkout_root

NETWORK = "infera:devnet"
HEARTBEAT_S = 1.0  # seconds between empty blocks on an otherwise instant-mining devnet
# torch threads per node process: a local network runs three nodes (or so) on this machine.
SHARED_TORCH_THREADS = max(1, (os.cpu_count() or 1) // 3)
REQUESTER_KEY = DEVNET_KEYS[9]  # public anvil test key, devnet only


def project_root() -> Path:
    """The checkout that `ape run deploy` runs in: INFERA_PROJECT_ROOT, else the one holding this package."""
    return checkout_root() or Path(__file__).resolve().parent.parent


def _bin(name: str) -> str:
    """A console script installed beside the running interpreter."""
    return str(Path(sys.executable).parent / name)


@dataclass
class NodeProcess:
    index: int
    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_start: int = 0  # size of the log file when this process started (a restart appends)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def own_log_text(self) -> str:
        """What this process wrote, without what an earlier process of the same node wrote."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[self.log_start:].decode(errors="replace")


@dataclass(frozen=True)
class DeployedState:
    """A devnet as `ape run deploy` left it (anvil's dumped state) and the deployment record it
    wrote: a network started from it has the same contracts at the same addresses and the same
    blocks, without running the deploy again (which is most of a test network's start-up)."""

    state_file: Path
    deployments_dir: Path


@dataclass
class LocalNetwork:
    run_dir: Path
    block_time: float = 0.0
    devnet: Devnet | None = None
    deployment: Deployment | None = None
    nodes: list[NodeProcess] = field(default_factory=list)

    @property
    def rpc_url(self) -> str:
        assert self.devnet is not None
        return self.devnet.rpc_url

    @property
    def deployments_dir(self) -> Path:
        return self.run_dir / "deployments"

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------- chain
    def start_devnet(self, heartbeat: bool = True, steps_tracing: bool = False, load_state: Path | None = None) -> None:
        """heartbeat=False: a block per transaction and none in between, as `infera-devnet up`
        mines by default; no job's committee is ever drawn there, but a deployment on it is
        byte for byte the same every time (the SDK's packaged devnet record). ``load_state``:
        start from a state anvil dumped (see :meth:`save_deployed`)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # block_time 0 means instant inclusion: every transaction is mined at once, and a heartbeat
        # block every second keeps the chain moving as a real one does (a committee is drawn from
        # the block after its job's, which an idle automining devnet would never produce).
        instant = self.block_time == 0
        self.devnet = Devnet(port=free_port(), log_path=self.run_dir / "anvil.log", steps_tracing=steps_tracing,
                             load_state=load_state)
        if heartbeat or not instant:
            self.devnet.block_time = HEARTBEAT_S if instant else self.block_time
            self.devnet.mixed_mining = instant
        self.devnet.start()

    def deploy(self) -> Deployment:
        """`ape run deploy` against the devnet, writing the record into run_dir."""
        env = self.base_env()
        result = subprocess.run(
            [_bin("ape"), "run", "deploy", "--network", f"{NETWORK}:node"],
            cwd=project_root(), env=env, capture_output=True, text=True, timeout=300,
        )
        if result.returncode != 0:
            raise DevnetError(f"deploy failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        self.deployment = load_deployment(NETWORK, self.deployments_dir)
        return self.deployment

    def save_deployed(self, directory: Path) -> DeployedState:
        """Keep this network's deployed devnet (call it right after :meth:`deploy`, before anything
        else happens on the chain) for :meth:`start_deployed`."""
        assert self.devnet is not None and self.deployment is not None, "deploy first"
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.deployments_dir, directory / "deployments", dirs_exist_ok=True)
        return DeployedState(self.devnet.dump_state(directory / "state.json"), directory / "deployments")

    def start_deployed(self, deployed: DeployedState) -> Deployment:
        """A devnet started from a saved deployed state, with its deployment record: what
        :meth:`start_devnet` then :meth:`deploy` give, in a fraction of the time. Block times
        go on from the wall clock, so the chain's first new block comes later after its last
        saved one than on a fresh deployment."""
        shutil.copytree(deployed.deployments_dir, self.deployments_dir, dirs_exist_ok=True)
        self.start_devnet(load_state=deployed.state_file)
        self.deployment = load_deployment(NETWORK, self.deployments_dir)
        return self.deployment

    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            INFERA_RPC_URL=self.rpc_url,
            INFERA_NETWORK=NETWORK,
            INFERA_DEPLOYMENTS_DIR=str(self.deployments_dir),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        env.setdefault("SOLCX_BINARY_PATH", str(project_root() / ".solcx"))
        return env

    async def connect(self, key: str = REQUESTER_KEY) -> Chain:
        assert self.deployment is not None
        return await Chain.connect(self.rpc_url, self.deployment, key)

    async def register_nodes(self, indices: list[int], stake_infer: int = 1_000, capacity: int = 16) -> None:
        """Register and stake devnet accounts ``indices`` (1..8) as nodes serving MiniLM."""
        assert self.deployment is not None
        model_ids = list(self.deployment.models.values())
        for index in indices:
            chain = await self.connect(DEVNET_KEYS[index])
            try:
                await register_or_top_up(chain, stake_infer * ONE, model_ids, capacity)
            finally:
                await chain.close()

    # ------------------------------------------------------------------- nodes
    def start_node(self, index: int, fault: str = "none", **settings: str) -> NodeProcess:
        """Start `oracle-node run` for devnet account ``index`` as its own process."""
        key = DEVNET_KEYS[index]
        env = self.base_env()
        env.update(
            INFERA_PRIVATE_KEY=key,
            INFERA_STATE_DIR=str(self.run_dir / "node-state"),
            INFERA_FAULT=fault,
            INFERA_POLL_INTERVAL="0.3",
            INFERA_FINALIZE_GRACE="2",
            INFERA_HEARTBEAT_INTERVAL="5",
            # The nodes share this machine's cores: a thread per core each would oversubscribe them.
            INFERA_TORCH_THREADS=str(SHARED_TORCH_THREADS),
        )
        env.update({f"INFERA_{k.upper()}": v for k, v in settings.items()})
        log_path = self.run_dir / f"node-{index}.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [_bin("oracle-node"), "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.run_dir, start_new_session=True,
            )
        node = NodeProcess(index, Account.from_key(key).address, process, log_path, log_start)
        self.nodes.append(node)
        return node

    def bring_up(self, node_indices: list[int], say: Callable[[str], None] = lambda _line: None) -> Deployment:
        """Devnet, deployment and staked node processes for devnet accounts `node_indices`, ready
        to take jobs; `say` gets a line for each step (the demos print them)."""
        self.start_devnet()
        say(f"devnet: anvil --optimism, chain id {self.devnet.chain_id if self.devnet else '?'}, {self.rpc_url}")
        deployment = self.deploy()
        say(f"deployed: JobRegistry {deployment.contracts.JobRegistry}")
        asyncio.run(self.register_nodes(node_indices))
        for index in node_indices:
            node = self.start_node(index)
            say(f"node {node.address} started (pid {node.process.pid})")
        self.wait_nodes_ready()
        return deployment

    def wait_nodes_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while '"node ready"' not in node.own_log_text():
                if node.process.poll() is not None:
                    raise DevnetError(f"node {node.index} exited with {node.process.returncode}:\n{node.log_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise DevnetError(f"node {node.index} not ready after {timeout:.0f}s:\n{node.log_text()[-3000:]}")
                time.sleep(0.2)

    def stop_node(self, node: NodeProcess) -> None:
        stop_process(node.process)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process.poll() is None:
                self.stop_node(node)
        self.nodes.clear()
        if self.devnet is not None:
            self.devnet.stop()
            self.devnet = None
