"""The relayer as a real process against a real devnet and three real oracle-node processes.

A request is taken (202) while no node is registered, so the chain refuses every batch and the
relayer backs off; the relayer is then killed with SIGKILL before anything was submitted, the
nodes come up, and the restarted relayer submits the stored request. Killed again once the job
ids are known, the next relayer process tracks the jobs to accepted. Nothing is lost or sent
twice; the result, agreeing nodes and cosines match the chain; two requests that arrive together
share one transaction; every client mistake is a 4xx JSON error over real HTTP.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import requests
from relayer_api_cases import CASES, case_headers

from infera.client import InferaClient
from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork
from relayer.process import LocalRelayer as Relayer

MODEL = "all-MiniLM-L6-v2"
TEXTS = ["Verifiable inference through a relayer.", "Le relais soumet les tâches en lot."]


def _wait(relayer: Relayer, request_id: str, auth: dict[str, str], until: str, timeout: float) -> dict[str, Any]:
    order = ["queued", "claimed", "sent", "submitted", "completed"]
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = requests.get(f"{relayer.url}/v1/jobs/{request_id}", headers=auth, timeout=10).json()
        if order.index(view["status"]) >= order.index(until):
            return view
        assert time.monotonic() < deadline, f"{view}\n{relayer.log()}"
        time.sleep(0.3)


async def _chain_truth(net: LocalNetwork, job_ids: list[int]) -> dict[str, Any]:
    chain = await net.connect()
    try:
        client = InferaClient(chain)
        results = {j: await client.result(j) for j in job_ids}
        submitted = await chain.logs(chain.jobs, "JobSubmitted", chain.deployment.deployment_block)
        return {"results": results, "submitted_inputs": [bytes(e["args"]["input"].encode()) for e in submitted]}
    finally:
        await chain.close()


def test_relayer_takes_jobs_over_http_and_survives_kill_9(network: LocalNetwork, relayer: Relayer) -> None:
    auth = {"Authorization": "Bearer " + relayer.cli("keys", "create", "--name", "e2e", "--quota", "20")}
    relayer.start()

    # No node is registered yet: the chain refuses every batch, the relayer backs off.
    posted = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": TEXTS}, headers=auth, timeout=10)
    assert posted.status_code == 202, posted.text
    request_id = posted.json()["request_id"]
    deadline = time.monotonic() + 30
    while requests.get(f"{relayer.url}/v1/jobs/{request_id}", headers=auth, timeout=10).json()["attempts"] < 1:
        assert time.monotonic() < deadline, relayer.log()
        time.sleep(0.2)
    view = requests.get(f"{relayer.url}/v1/jobs/{request_id}", headers=auth, timeout=10).json()
    assert view["status"] == "queued" and "JobRegistryNotEnoughNodes" in view["last_error"]
    relayer.kill9()  # after the 202, before any submission

    asyncio.run(network.register_nodes([1, 2, 3]))
    for index in (1, 2, 3):
        network.start_node(index)
    network.wait_nodes_ready()

    relayer.start()
    submitted = _wait(relayer, request_id, auth, "submitted", 120)
    job_ids = [j["job_id"] for j in submitted["jobs"]]
    assert all(isinstance(j, int) for j in job_ids)
    relayer.kill9()  # mid-tracking: the next process must follow the same jobs
    relayer.start()
    done = _wait(relayer, request_id, auth, "completed", 240)

    truth = asyncio.run(_chain_truth(network, job_ids))
    nodes = {n.address for n in network.nodes}
    assert done["phase"] == "final"
    for job in done["jobs"]:
        chain_result = truth["results"][job["job_id"]]
        assert chain_result.status is JobStatus.ACCEPTED and job["status"] == "accepted"
        assert job["vector"] == chain_result.vector and len(job["vector"]) == 384
        assert job["result_hash"] == chain_result.result_hash
        assert set(job["agreeing"]) == set(chain_result.agreeing) == nodes
        assert len(job["cosines"]) == 3 and all(c["cosine"] >= job["threshold"] for c in job["cosines"])
        assert job["transactions"]["submit"] == done["jobs"][0]["transactions"]["submit"]
        assert job["transactions"]["final"] and job["transactions"]["final"].startswith("0x")
    # Submitted exactly once, despite two kills.
    assert sorted(truth["submitted_inputs"]) == sorted(t.encode() for t in TEXTS)

    # Two requests that arrive together travel in one transaction (one batch per block).
    first = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": ["one", "two"]}, headers=auth,
                          timeout=10).json()["request_id"]
    second = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": ["three"]},
                           headers={**auth, "Idempotency-Key": "k"}, timeout=10).json()["request_id"]
    replay = requests.post(f"{relayer.url}/v1/jobs", json={"model": MODEL, "texts": ["three"]},
                           headers={**auth, "Idempotency-Key": "k"}, timeout=10)
    assert replay.status_code == 202 and replay.json()["request_id"] == second
    # Server-sent events follow the request until it is final.
    with requests.get(f"{relayer.url}/v1/jobs/{first}/events", headers=auth, stream=True, timeout=240) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = [line for line in stream.iter_lines(decode_unicode=True) if line.startswith("event:")]
    assert events[-1] == "event: final" and len(events) >= 2
    a = _wait(relayer, first, auth, "completed", 240)
    b = _wait(relayer, second, auth, "completed", 240)
    assert a["jobs"][0]["transactions"]["submit"] == b["jobs"][0]["transactions"]["submit"]
    assert all(j["status"] == "accepted" for j in a["jobs"] + b["jobs"])

    stats = requests.get(f"{relayer.url}/v1/stats", timeout=10).json()
    assert stats["requests"] == {"completed": 3} and stats["batches_mined"] == 2 and stats["jobs_per_batch"] == 2.5
    models = requests.get(f"{relayer.url}/v1/models", timeout=10).json()["models"]
    assert [m["name"] for m in models] == [MODEL] and models[0]["quorum"] == 3
    listed = requests.get(f"{relayer.url}/v1/nodes", timeout=10).json()["nodes"]
    assert {n["address"] for n in listed} == nodes
    assert all(int(n["earnings_wei"]) > 0 and n["slashes"] == 0 for n in listed)
    metrics = requests.get(f"{relayer.url}/metrics", timeout=10).text
    # Counted by this process: at least the three jobs of the last two requests (the first two
    # jobs went final under this process or the one killed before it).
    accepted = [line for line in metrics.splitlines() if line.startswith('infera_relayer_jobs_final_total{status="accepted"}')]
    assert accepted and 3 <= float(accepted[0].split()[-1]) <= 5, accepted
    assert "infera_relayer_batches_sent_total 1.0" in metrics
    assert requests.get(f"{relayer.url}/health", timeout=10).json()["status"] == "ok"

    # Every client mistake, over real HTTP: a 4xx with a JSON error body, nothing stored.
    for name, send, status, code in CASES:
        headers = case_headers(auth, send)
        if "json" in send:
            response = requests.post(f"{relayer.url}/v1/jobs", json=send["json"], headers=headers, timeout=10)
        else:
            if send["ctype"] is not None:
                headers["Content-Type"] = send["ctype"]
            response = requests.post(f"{relayer.url}/v1/jobs", data=send["data"], headers=headers, timeout=10)
        assert response.status_code == status, (name, response.text)
        assert response.headers["Content-Type"].startswith("application/json"), name
        assert response.json()["error"]["code"] == code, (name, response.text)
    assert requests.get(f"{relayer.url}/v1/stats", timeout=10).json()["requests"] == {"completed": 3}
