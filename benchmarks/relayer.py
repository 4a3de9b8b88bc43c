"""The relayer's HTTP intake: a real `python -m relayer run` process on a devnet (SQLite queue, as
one instance runs it), loaded over loopback by an aiohttp client. Measures accepted submissions
(POST /v1/jobs, 202: each durably committed with synchronous=FULL before the answer) per second
and their p99 latency, against GET /health on the same process under the same load: the same
HTTP stack and a database round trip, without the durable write, auth and validation.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import structlog

from benchmarks.chainops import BenchError
from infera.devnet import DEVNET_KEYS, free_port
from infera_testing.localnet import LocalNetwork

log = structlog.get_logger("benchmarks.relayer")
MODEL = "all-MiniLM-L6-v2"
RELAYER_KEY = DEVNET_KEYS[9]


@dataclass(frozen=True)
class LoadResult:
    """One load run: `requests` answered as expected within `seconds`."""

    route: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else 0.0


@dataclass(frozen=True)
class RelayerRun:
    submit: LoadResult  # POST /v1/jobs
    health: LoadResult  # GET /health, the baseline
    concurrency: int


async def _load(url: str, route: str, count: int, concurrency: int, time_limit: float,
                auth: dict[str, str]) -> LoadResult:
    """`count` requests by `concurrency` workers, stopped early at `time_limit` seconds."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    deadline = time.perf_counter() + time_limit

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, next_index
        while next_index < count and time.perf_counter() < deadline:
            i = next_index
            next_index += 1
            started = time.perf_counter()
            if route == "submit":
                body = {"model": MODEL, "texts": [f"relayer bench request {i}"]}
                response = session.post(f"{url}/v1/jobs", json=body, headers=auth)
            else:
                response = session.get(f"{url}/health")
            async with response as r:
                await r.read()
                ok = r.status == (202 if route == "submit" else 200)
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return LoadResult(route, len(latencies), errors, time.perf_counter() - started, latencies)


def _start(net: LocalNetwork, run_dir: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    port = free_port()
    env = net.base_env() | {
        "INFERA_PRIVATE_KEY": RELAYER_KEY, "INFERA_RELAYER_DATABASE_URL": f"sqlite:///{run_dir / 'relayer.db'}",
        "INFERA_RELAYER_STATE_DIR": str(run_dir / "relayer-state"), "INFERA_RELAYER_PORT": str(port),
        "INFERA_RELAYER_DEFAULT_RATE_PER_MINUTE": "10000000", "INFERA_RELAYER_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "relayer"]
    secret = subprocess.run([*cli, "keys", "create", "--name", "bench", "--quota", "100000000"], env=env,
                            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    log_path = run_dir / "relayer.log"
    with open(log_path, "ab") as out:
        process = subprocess.Popen([*cli, "run"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # up once /health answers (the "listening" line is below the WARNING log level)
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310 - loopback URL built above
                break
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"relayer did not start: {exc}\n{log_path.read_text()[-2000:]}") from exc
            time.sleep(0.2)
    return process, url, {"Authorization": f"Bearer {secret}"}


def relayer_run(run_dir: Path, count: int = 2000, concurrency: int = 32, time_limit: float = 30.0) -> RelayerRun:
    """Devnet and deployment (no nodes: intake does not wait for the chain), one relayer process,
    a warm-up, then the baseline and the submissions, each bounded by count and time."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with LocalNetwork(run_dir / "net") as net:
        net.start_devnet()
        net.deploy()
        process, url, auth = _start(net, run_dir)
        try:
            asyncio.run(_load(url, "submit", 50, 8, 10, auth))  # warm-up: connections, caches, WAL file
            health = asyncio.run(_load(url, "health", count, concurrency, time_limit, auth))
            submit = asyncio.run(_load(url, "submit", count, concurrency, time_limit, auth))
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    if submit.errors or not submit.requests:
        raise BenchError(f"relayer bench: {submit.errors} submissions were not accepted")
    log.info("relayer load done", submit_per_s=round(submit.requests_per_s, 1), health_per_s=round(health.requests_per_s, 1))
    return RelayerRun(submit, health, concurrency)
