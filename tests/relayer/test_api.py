"""The HTTP layer on a real SQLite queue, without a chain: authentication, rate limits, quotas,
idempotency, and a clear 4xx JSON error for every client mistake; the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from relayer_api_cases import CASES, case_headers

from infera.deployment import ContractAddresses, Deployment
from relayer.app import Services, make_app
from relayer.keys import new_key
from relayer.settings import RelayerSettings
from relayer.store import Store

ZERO = "0x" + "00" * 20
DEPLOYMENT = Deployment(network="infera:devnet", chain_id=1, deployment_block=0, deployer=ZERO,
                        contracts=ContractAddresses(**dict.fromkeys(ContractAddresses.model_fields, ZERO)),
                        models={"all-MiniLM-L6-v2": 1})
Body = Callable[[TestClient[Any, Any], dict[str, str], Services], Awaitable[None]]


def with_api(sqlite_url: str, body: Body, quota: int = 100, rate: int = 600, **settings: Any) -> None:
    async def main() -> None:
        store = Store.open(sqlite_url)
        key = new_key()
        await store.add_key(key, "t", quota, rate)
        services = Services(RelayerSettings(database_url=sqlite_url, **settings), store, DEPLOYMENT, None)
        client = TestClient(TestServer(make_app(services)))
        await client.start_server()
        try:
            await body(client, {"Authorization": f"Bearer {key.plaintext}"}, services)
        finally:
            await client.close()
            await store.close()
    asyncio.run(main())


async def error_of(response: ClientResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


def test_a_request_is_stored_and_read_back(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        r = await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["a", "b"]}, headers=auth)
        assert r.status == 202, await r.text()
        created = await r.json()
        assert created["status"] == "queued" and created["jobs"] == 2
        assert r.headers["Location"] == f"/v1/jobs/{created['request_id']}"
        r = await client.get(r.headers["Location"], headers=auth)
        view = await r.json()
        assert r.status == 200 and view["phase"] == "queue"
        assert [j["status"] for j in view["jobs"]] == ["pending", "pending"]

    with_api(sqlite_url, body)


def test_idempotent_replays_return_the_same_request(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        payload = {"model": "all-MiniLM-L6-v2", "texts": ["a"]}
        first = await (await client.post("/v1/jobs", json=payload, headers={**auth, "Idempotency-Key": "x"})).json()
        again = await (await client.post("/v1/jobs", json=payload, headers={**auth, "Idempotency-Key": "x"})).json()
        assert first["request_id"] == again["request_id"]
        await error_of(await client.post("/v1/jobs", json={**payload, "texts": ["b"]},
                                         headers={**auth, "Idempotency-Key": "x"}), 409, "idempotency_conflict")

    with_api(sqlite_url, body)


@pytest.mark.parametrize(("case", "send", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_every_client_mistake_is_a_4xx_json_error(sqlite_url: str, case: str, send: dict[str, Any], status: int,
                                                  code: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        headers = case_headers(auth, send)
        if "json" in send:
            response = await client.post("/v1/jobs", json=send["json"], headers=headers)
        else:
            if send["ctype"] is not None:
                headers["Content-Type"] = send["ctype"]
            response = await client.post("/v1/jobs", data=send["data"], headers=headers,
                                         skip_auto_headers=["Content-Type"])
        await error_of(response, status, code)
        stats = await services.store.stats()
        assert stats["requests"] == {}, "a refused request must not be stored"

    with_api(sqlite_url, body)


def test_other_mistakes_are_json_too(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        await error_of(await client.get("/v1/jobs/nope", headers=auth), 404, "not_found")
        await error_of(await client.get("/v1/nothing-here"), 404, "not_found")
        await error_of(await client.delete("/v1/jobs", headers=auth), 405, "method_not_allowed")

    with_api(sqlite_url, body)


def test_quota_and_rate_limit(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        ok = await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["a", "b"]}, headers=auth)
        assert ok.status == 202
        await error_of(await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["c"]},
                                         headers=auth), 403, "quota_exceeded")
        limited = await client.get("/v1/jobs/x", headers=auth)  # the third request in a 2/minute bucket
        await error_of(limited, 429, "rate_limited")
        assert int(limited.headers["Retry-After"]) >= 1

    with_api(sqlite_url, body, quota=2, rate=2)


def test_cors_preflight_and_headers(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        pre = await client.options("/v1/jobs", headers={"Origin": "https://app.example",
                                                        "Access-Control-Request-Method": "POST"})
        assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
        other = await client.get("/v1/stats", headers={"Origin": "https://evil.example"})
        assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers

    with_api(sqlite_url, body, cors_origins=["https://app.example"])


def test_the_document_states_what_a_valid_request_is(sqlite_url: str) -> None:
    """Regression (schemathesis: "schema-valid request rejected"): `{"model": "0", "texts": [""]}`
    was valid by the document and refused with a 422. The document now bounds each text
    (1 to 2048 characters; the exact byte limit is in the description) and lists the models
    served as an enum, and a request it calls valid is taken."""
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        doc = await (await client.get("/openapi.json")).json()
        validate(doc)
        request = doc["components"]["schemas"]["SubmitJobsRequest"]["properties"]
        assert request["texts"]["items"] == {"type": "string", "minLength": 1, "maxLength": 2048}
        assert request["model"]["enum"] == ["all-MiniLM-L6-v2"]
        r = await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["a" * 2048]}, headers=auth)
        assert r.status == 202, await r.text()

    with_api(sqlite_url, body)


def test_openapi_document_is_valid_and_covers_every_route(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        doc = await (await client.get("/openapi.json")).json()
        validate(doc)
        assert set(doc["paths"]) >= {"/v1/jobs", "/v1/jobs/{request_id}", "/v1/jobs/{request_id}/events",
                                     "/v1/models", "/v1/nodes", "/v1/stats", "/metrics", "/health"}
        post = doc["paths"]["/v1/jobs"]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("SubmitJobsRequest")
        assert {"202", "401", "413", "415", "422", "429"} <= set(post["responses"])
        page = await (await client.get("/docs")).text()
        assert "/openapi.json" in page and "http://" not in page and "https://" not in page  # nothing from a CDN
        text = await (await client.get("/metrics")).text()
        assert "infera_relayer_requests_total" in text
        health = await client.get("/health")
        assert health.status == 200 and (await health.json())["database"] is True
        json.dumps(doc)

    with_api(sqlite_url, body)


def test_dashboard_is_self_contained_public_and_documented(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        page = await client.get("/dashboard")
        html = await page.text()
        assert page.status == 200 and page.content_type == "text/html"
        assert "/v1/dashboard" in html and "<canvas" in html
        assert "http://" not in html and "https://" not in html and "<script src" not in html  # no CDN
        op = (await (await client.get("/openapi.json")).json())["paths"]["/v1/dashboard"]["get"]
        assert "security" not in op  # public network data: no key
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("DashboardResponse")
        # Without a chain connection its data is a clear 503, not a 500.
        await error_of(await client.get("/v1/dashboard"), 503, "no_chain")

    with_api(sqlite_url, body)


def test_health_fails_when_a_loop_stops_ticking(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        services.liveness.submitter = services.liveness.tracker = time.time()
        assert (await client.get("/health")).status == 200
        services.liveness.tracker = time.time() - 120
        stalled = await client.get("/health")
        assert stalled.status == 503 and (await stalled.json())["status"] == "degraded"

    with_api(sqlite_url, body, health_stall_after=60)


def test_a_request_is_visible_to_its_own_key_only(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        r = await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["a"]}, headers=auth)
        location = r.headers["Location"]
        other = new_key()
        await services.store.add_key(other, "other", 10, 60)
        await error_of(await client.get(location, headers={"X-API-Key": other.plaintext}), 404, "not_found")
        await error_of(await client.get(location + "/events", headers={"X-API-Key": other.plaintext}), 404,
                       "not_found")
        assert (await client.get(location, headers=auth)).status == 200

    with_api(sqlite_url, body)


def test_events_stream_each_change_until_final(sqlite_url: str) -> None:
    async def body(client: TestClient[Any, Any], auth: dict[str, str], services: Services) -> None:
        r = await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["a"]}, headers=auth)
        request_id = (await r.json())["request_id"]

        async def advance() -> None:
            store = services.store
            await asyncio.sleep(0.7)
            batch = await store.claim("i", 64)
            assert batch is not None
            await store.mark_sent(batch.batch_id, 0, "0x" + "aa" * 32)
            await asyncio.sleep(0.7)
            await store.mark_mined(batch.batch_id, "0x" + "aa" * 32, 5, [42])
            await asyncio.sleep(0.7)
            [job] = await store.open_jobs()
            await store.update_jobs([(job, "accepted", {"vector": [1, 2], "agreeing": ["0xn"], "final_tx": "0xf"})])

        mover = asyncio.create_task(advance())
        stream = await client.get(f"/v1/jobs/{request_id}/events", headers=auth)
        assert stream.headers["Content-Type"] == "text/event-stream"
        text = await stream.text()
        await mover
        events = [(block.split("\n")[0], json.loads(block.split("\n")[1][len("data: "):]))
                  for block in text.strip().split("\n\n") if block.startswith("event:")]
        order = ["queued", "claimed", "sent", "submitted", "completed"]
        seen = [e[1]["status"] for e in events]
        # Each change once, in order (a poll may or may not land in the brief "claimed" state).
        assert seen == sorted(set(seen), key=order.index) and {"queued", "sent", "submitted", "completed"} <= set(seen)
        assert [e[0] for e in events] == ["event: update"] * (len(events) - 1) + ["event: final"]
        assert events[-1][1]["jobs"][0]["vector"] == [1, 2] and events[-1][1]["phase"] == "final"

    with_api(sqlite_url, body)


def test_a_queue_that_is_down_is_a_503_to_retry_not_a_500(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gone' / 'relayer.db'}"  # a folder that does not exist: no database

    async def main() -> None:
        store = Store.open(url)
        client = TestClient(TestServer(make_app(Services(RelayerSettings(database_url=url), store, DEPLOYMENT, None))))
        await client.start_server()
        try:
            r = await client.post("/v1/jobs", json={"model": "all-MiniLM-L6-v2", "texts": ["a"]},
                                  headers={"Authorization": f"Bearer {new_key().plaintext}"})
            await error_of(r, 503, "unavailable")
            assert r.headers["Retry-After"] == "5"
            assert (await client.get("/health")).status == 503
        finally:
            await client.close()
            await store.close()

    asyncio.run(main())
