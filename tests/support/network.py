"""Test support: the deployed devnet fixture and the few chain reads every end-to-end test makes.

Synchronous on purpose: a test body drives real processes and sleeps between steps, and each
helper opens its own connection for one question (asyncio.run inside), so no event loop is kept
across a test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from infera.client import InferaClient, JobResult
from infera_testing.localnet import DeployedState, LocalNetwork


@pytest.fixture(scope="session")
def deployed_state(tmp_path_factory: pytest.TempPathFactory) -> DeployedState:
    """One real `ape run deploy` per test session, kept as anvil's dumped state; every test's
    network starts from it (tests/e2e/test_deployment.py runs the deploy itself)."""
    with LocalNetwork(tmp_path_factory.mktemp("deployed") / "net") as net:
        net.start_devnet()
        net.deploy()
        return net.save_deployed(net.run_dir / "saved")


@pytest.fixture
def network(tmp_path: Path, deployed_state: DeployedState) -> Iterator[LocalNetwork]:
    """A deployed devnet on a free port; every process it starts is stopped afterwards."""
    with LocalNetwork(tmp_path / "net") as net:
        net.start_deployed(deployed_state)
        yield net


def submit(net: LocalNetwork, texts: list[str]) -> list[int]:
    """Submit one job per text as the devnet requester; returns the job ids."""

    async def go() -> list[int]:
        chain = await net.connect()
        try:
            return await InferaClient(chain).submit_texts(texts)
        finally:
            await chain.close()

    return asyncio.run(go())


def results(net: LocalNetwork, job_ids: list[int], timeout: float = 240) -> list[JobResult]:
    """Wait for each job to be final; its result as the SDK reports it."""

    async def go() -> list[JobResult]:
        chain = await net.connect()
        try:
            client = InferaClient(chain)
            return [await client.wait_for_result(job_id, timeout=timeout) for job_id in job_ids]
        finally:
            await chain.close()

    return asyncio.run(go())


def stakes(net: LocalNetwork) -> dict[str, int]:
    """The stake of every node the network started, by address."""

    async def go() -> dict[str, int]:
        chain = await net.connect()
        try:
            return {n.address: (await chain.get_node(n.address)).stake for n in net.nodes}
        finally:
            await chain.close()

    return asyncio.run(go())
