"""Two relayer processes on one PostgreSQL queue, each with its own devnet key, three real node
processes, 200 concurrent HTTP submissions spread over both, and one instance killed with
SIGKILL in the middle and restarted. Every request must be stored (202), reach a final state
(accepted, or refunded by the protocol's rules), and be submitted on chain exactly once: each
text in exactly one JobSubmitted event."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infera.devnet import DEVNET_KEYS
from infera_testing.localnet import DeployedState, LocalNetwork
from relayer.process import RELAYER_KEY
from relayer.process import LocalRelayer as Relayer

MODEL = "all-MiniLM-L6-v2"
REQUESTS = 200
KILL_AFTER = 80  # answered submissions before instance A is killed
SECOND_KEY = DEVNET_KEYS[8]  # B's own account (funded by the devnet faucet): one key, one nonce sequence
SETTINGS = {"lease_timeout": "4", "batch_linger": "0.5", "confirmations": "1", "default_rate_per_minute": "100000"}


@pytest.fixture
def network(tmp_path: Path, deployed_state: DeployedState) -> Iterator[LocalNetwork]:
    with LocalNetwork(tmp_path / "net") as net:
        net.start_deployed(deployed_state)
        # Capacity for the whole load at once: a committee is drawn only among nodes below their
        # capacity, and a job none can take is refunded, which would hide what this test counts.
        asyncio.run(net.register_nodes([1, 2, 3], capacity=REQUESTS))
        for index in (1, 2, 3):
            net.start_node(index)
        net.wait_nodes_ready()
        yield net


RETRIED: list[int] = []  # requests whose first instance dropped the connection (the kill)


async def _submit(session: aiohttp.ClientSession, urls: list[str], i: int, auth: dict[str, str],
                  deadline: float) -> bool:
    """POST one request to its instance; on a dropped connection (the instance was killed) retry
    on the other with the same Idempotency-Key, as a client would: stored once either way."""
    headers = {**auth, "Idempotency-Key": f"req-{i}"}
    body = {"model": MODEL, "texts": [_text(i)]}
    attempt = 0
    while time.monotonic() < deadline:
        url = urls[(i + attempt) % len(urls)]
        attempt += 1
        try:
            async with session.post(f"{url}/v1/jobs", json=body, headers=headers) as r:
                if r.status == 202:
                    return True
                if r.status < 500:
                    raise AssertionError(f"request {i}: {r.status} {await r.text()}")
        except (aiohttp.ClientConnectionError, TimeoutError):
            RETRIED.append(i)
        await asyncio.sleep(0.2)
    return False


def _text(i: int) -> str:
    return f"two-instance kill test, request {i}"


async def _load(a: Relayer, b: Relayer, auth: dict[str, str]) -> int:
    """All submissions at once; kill A (SIGKILL) once KILL_AFTER were answered. Returns the 202s."""
    deadline = time.monotonic() + 60
    answered = 0
    killed = asyncio.Event()

    async def one(session: aiohttp.ClientSession, i: int) -> bool:
        nonlocal answered
        ok = await _submit(session, [a.url, b.url], i, auth, deadline)
        answered += 1
        if answered >= KILL_AFTER and not killed.is_set():
            killed.set()
            a.kill9()  # mid-load: requests in flight to A, claims and sent batches of A open
        return ok

    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        done = await asyncio.gather(*(one(session, i) for i in range(REQUESTS)))
    return sum(done)


async def _wait_final(url: str, auth: dict[str, str], timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/v1/stats") as r:
                stats: dict[str, Any] = await r.json()
            if stats["requests"].get("completed", 0) >= REQUESTS:
                return {str(k): int(v) for k, v in stats["jobs"].items()}
            assert time.monotonic() < deadline, stats
            await asyncio.sleep(1)


async def _submitted_inputs(net: LocalNetwork) -> Counter[str]:
    chain = await net.connect()
    try:
        events = await chain.logs(chain.jobs, "JobSubmitted", chain.deployment.deployment_block)
        return Counter(str(e["args"]["input"]) for e in events)
    finally:
        await chain.close()


def test_two_instances_one_killed_submit_every_request_exactly_once(network: LocalNetwork, postgres_url: str,
                                                                     tmp_path: Path) -> None:
    a = Relayer(network, tmp_path, RELAYER_KEY, database_url=postgres_url, instance="a", name="relayer-a",
                **SETTINGS)
    b = Relayer(network, tmp_path, SECOND_KEY, database_url=postgres_url, instance="b", name="relayer-b",
                **SETTINGS)
    try:
        auth = {"Authorization": "Bearer " + a.cli("keys", "create", "--name", "load", "--quota", "1000")}
        a.start()
        b.start()
        started = time.monotonic()
        accepted = asyncio.run(_load(a, b, auth))
        time.sleep(2)  # a stall longer than nothing, shorter than B's takeover would need
        a.start()  # same name, same state dir: resumes what its TxManager holds
        jobs = asyncio.run(_wait_final(b.url, auth, 150))
        wall = time.monotonic() - started
        counts = asyncio.run(_submitted_inputs(network))
        expected = {_text(i) for i in range(REQUESTS)}
        duplicates = sorted(t for t, n in counts.items() if n > 1)
        lost = sorted(expected - set(counts))
        print(f"two instances: requests={REQUESTS} accepted_202={accepted} jobs={jobs} duplicates={len(duplicates)} "
              f"lost={len(lost)} retried_after_kill={len(set(RETRIED))} wall_s={wall:.1f}")
        assert accepted == REQUESTS
        assert not duplicates, duplicates[:5]
        assert not lost, lost[:5]
        assert set(counts) == expected
        assert set(jobs) <= {"accepted", "refunded"} and sum(jobs.values()) == REQUESTS, jobs
    finally:
        a.stop()
        b.stop()
