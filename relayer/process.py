"""`python -m relayer run` as a child process of a LocalNetwork: what the end-to-end tests and
`make demo` start, restartable on the same database and port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infera.devnet import DEVNET_KEYS, free_port
from infera_testing.localnet import LocalNetwork

RELAYER_KEY = DEVNET_KEYS[9]  # the relayer pays fees from this funded devnet account
START_TIMEOUT_S = 60


class LocalRelayer:
    """A relayer on a free port with its own SQLite queue and state in `run_dir`."""

    def __init__(self, net: LocalNetwork, run_dir: Path, private_key: str = RELAYER_KEY, *,
                 database_url: str | None = None, instance: str = "local", name: str = "relayer",
                 **settings: str) -> None:
        """`settings` become INFERA_RELAYER_<NAME> variables; `name` keeps several relayers'
        logs and state apart in one run_dir (instances sharing one PostgreSQL queue)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = run_dir / f"{name}.log"
        self.env = net.base_env()
        # Short polls and back-offs: a devnet with 1 s blocks, where a person or a test watches.
        self.env.update(
            INFERA_PRIVATE_KEY=private_key,
            INFERA_RELAYER_DATABASE_URL=database_url or f"sqlite:///{run_dir / 'relayer.db'}",
            INFERA_RELAYER_STATE_DIR=str(run_dir / f"{name}-state"),
            INFERA_RELAYER_PORT=str(self.port),
            INFERA_RELAYER_POLL_INTERVAL="0.3",
            INFERA_RELAYER_RETRY_BASE="0.5",
            INFERA_RELAYER_RETRY_MAX="2",
            INFERA_RELAYER_BATCH_LINGER="1.5",
            INFERA_RELAYER_INSTANCE_ID=instance,
        )
        self.env.update({f"INFERA_RELAYER_{k.upper()}": v for k, v in settings.items()})
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        """`infera-relayer ARGS` on this relayer's settings; its standard output."""
        done = subprocess.run([sys.executable, "-m", "relayer", *args], env=self.env, capture_output=True,
                              text=True, timeout=60, check=True)
        return done.stdout.strip()

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start and wait until it listens (its log says so)."""
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            # Its own session, so kill9 takes any child with it.
            self.process = subprocess.Popen([sys.executable, "-m", "relayer", "run"], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while '"relayer listening"' not in self.log_path.read_bytes()[start:].decode(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the relayer did not start:\n{self.log()}")
            time.sleep(0.2)

    def kill9(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]
