"""The dashboard in a real headless Chromium, against a real devnet, three real oracle-node
processes and the relayer as its own process.

The third node answers with random vectors (oracle_node.faults), so each job is accepted by the
other two and the liar is slashed. The page is opened before any job exists; jobs are then
submitted through the relayer's API and the same page, never reloaded, shows one of them appear
and move to accepted, the three nodes with their stake and reputation, the model's threshold,
the liar's slashes with their reason, and a plot with points. A screenshot is
saved to benchmarks/results/dashboard.png (committed, so the README can show it).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infera_testing.localnet import DeployedState, LocalNetwork
from relayer.process import LocalRelayer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "dashboard.png"
MODEL = "all-MiniLM-L6-v2"
TEXTS = ["A dashboard shows verified inference live.", "Each job moves from drawing to accepted.",
         "Nodes stake and earn; dishonest ones are slashed."]

sync_api = pytest.importorskip("playwright.sync_api", reason="PyPI playwright is not installed: "
                               ".venv/bin/pip install -e '.[test]'")
if shutil.which(CHROMIUM) is None:
    pytest.skip(f"{CHROMIUM} is missing: run `make browser` as root (it runs `apt-get install -y chromium`)",
                allow_module_level=True)


@pytest.fixture
def network(tmp_path: Path, deployed_state: DeployedState) -> Iterator[LocalNetwork]:
    """1 s blocks, as in `make demo`: a job then stays a few seconds in each phase, long enough
    for a page polling every 1.5 s to show it open before it is accepted (on a devnet mining
    only on demand a job can go from drawn to accepted between two polls)."""
    with LocalNetwork(tmp_path / "net", block_time=1.0) as net:
        net.start_deployed(deployed_state)
        yield net


def _job_id(relayer: LocalRelayer, request_id: str, auth: dict[str, str], timeout: float = 120) -> int:
    """The on-chain id of the request's first job, once the relayer has submitted it."""
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = requests.get(f"{relayer.url}/v1/jobs/{request_id}", headers=auth, timeout=10).json()
        if view["jobs"][0]["job_id"] is not None:
            return int(view["jobs"][0]["job_id"])
        assert time.monotonic() < deadline, f"{view}\n{relayer.log()}"
        time.sleep(0.2)


def _watch_row(page: Any, job_id: int, timeout: float = 240) -> list[str]:
    """Every phase the page showed for the job, in order, until it read accepted."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not seen or seen[-1] != "accepted":
        status = page.evaluate(f"document.querySelector('tr[data-job=\"{job_id}\"]')?.dataset.status ?? null")
        if status is not None and (not seen or seen[-1] != status):
            seen.append(status)
        assert status != "refunded" and time.monotonic() < deadline, seen
        time.sleep(0.25)
    return seen


def test_dashboard_updates_live_in_chromium(network: LocalNetwork, relayer: LocalRelayer) -> None:
    auth = {"Authorization": "Bearer " + relayer.cli("keys", "create", "--name", "dashboard")}
    asyncio.run(network.register_nodes([1, 2, 3]))
    for index in (1, 2):
        network.start_node(index)
    liar = network.start_node(3, fault="random-vector").address
    network.wait_nodes_ready()
    relayer.start()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 780})
            page.goto(f"{relayer.url}/dashboard")
            page.wait_for_function("window.dashboardUpdates >= 1", timeout=60_000)
            # A marker a reload would erase: the page seen at the end is this very document.
            page.evaluate("window.loadedOnce = true")

            posted = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": TEXTS}, headers=auth,
                                   timeout=10)
            assert posted.status_code == 202, posted.text
            job_id = _job_id(relayer, posted.json()["request_id"], auth)
            seen = _watch_row(page, job_id)
            # Wait for every job of the request, so the screenshot shows a settled network.
            page.wait_for_function(f"document.querySelectorAll('#jobs tr[data-status=\"accepted\"]').length >= "
                                   f"{len(TEXTS)}", timeout=120_000)
            page.wait_for_function("Number(document.getElementById('plot').dataset.points) >= 1", timeout=30_000)

            assert page.evaluate("window.loadedOnce") is True
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
            assert page.evaluate("window.dashboardUpdates") >= 3
            assert len(seen) >= 2 and seen[-1] == "accepted", f"{seen}\n{relayer.log()}"  # seen open, then accepted

            nodes = page.locator("#nodes tbody tr[data-node]")
            assert nodes.count() == 3
            addresses = {nodes.nth(i).get_attribute("data-node") for i in range(3)}
            assert addresses == {n.address for n in network.nodes}
            for i in range(3):
                assert float(nodes.nth(i).locator("td.stake").inner_text().replace(",", "")) > 0
                assert float(nodes.nth(i).locator("td.reputation .mono").inner_text()) > 0
            threshold = requests.get(f"{relayer.url}/v1/models", timeout=10).json()["models"][0]["threshold"]
            cell = page.locator(f'#models tr[data-model="{MODEL}"] td.threshold').inner_text()
            assert float(cell) == pytest.approx(threshold, abs=1e-4)

            page.wait_for_function(f"document.querySelectorAll('#slashes tr[data-node]').length >= {len(TEXTS)}",
                                   timeout=60_000)
            slashes = page.locator("#slashes tbody tr[data-node]")
            shown = [(slashes.nth(i).get_attribute("data-node"), slashes.nth(i).get_attribute("data-outcome"))
                     for i in range(slashes.count())]
            assert shown.count((liar, "Disagreed")) >= len(TEXTS), shown

            data = requests.get(f"{relayer.url}/v1/dashboard", timeout=10).json()
            assert sum(point["accepted"] for point in data["series"]) >= len(TEXTS)
            assert all(point["gas_used"] > 0 for point in data["series"] if point["accepted"])
            assert all(int(s["slashed_wei"]) > 0 for s in data["slashes"])
            # The nodes table follows within its cache's 5 s (relayer.app.NODES_CACHE_S).
            page.wait_for_function(f"Number(document.querySelector('#nodes tr[data-node=\"{liar}\"] td.slashes')"
                                   f".textContent) >= {len(TEXTS)}", timeout=30_000)

            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
