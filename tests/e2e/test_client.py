"""The SDK client end to end, both transports on one network: a devnet, three real oracle nodes
and a relayer process. Each test pays from its own devnet account, so balances tell exactly what
it was charged."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from eth_account import Account

from infera.chain import Chain
from infera.client import Embeddings, Infera, InferaClient, JobRef
from infera.devnet import DEVNET_KEYS
from infera.errors import DeploymentNotFound, InferaError, RelayerRejected, ResultsTimeout, SubmitUnconfirmed
from infera.operator import ONE
from infera_testing.localnet import LocalNetwork
from relayer.process import LocalRelayer
from support.http_proxy import LosingProxy
from support.rpc_proxy import FlakyProxy

MODEL = "all-MiniLM-L6-v2"


class Net:
    def __init__(self, net: LocalNetwork, relayer: LocalRelayer, api_key: str) -> None:
        self.net, self.relayer, self.api_key = net, relayer, api_key

    def chain_settings(self, key_index: int, **more: object) -> dict[str, object]:
        return {"transport": "chain", "rpc_url": self.net.rpc_url, "private_key": DEVNET_KEYS[key_index],
                "deployments_dir": self.net.deployments_dir, **more}

    def relayer_settings(self, **more: object) -> dict[str, object]:
        return {"transport": "relayer", "relayer_url": self.relayer.url, "rpc_url": self.net.rpc_url,
                "deployments_dir": self.net.deployments_dir, **more}

    async def chain(self, key_index: int | None = None) -> Chain:
        return await self.net.connect(DEVNET_KEYS[key_index] if key_index is not None else DEVNET_KEYS[0])

    async def infer_balance(self, address: str) -> int:
        chain = await self.chain()
        try:
            return await chain.balance_of(address)
        finally:
            await chain.close()

    async def accepted_vectors(self, job_ids: list[int]) -> dict[int, list[int]]:
        """The JobAccepted vectors, read from the chain without the client."""
        chain = await self.chain()
        try:
            logs = await chain.logs(chain.jobs, "JobAccepted", chain.deployment.deployment_block, jobId=job_ids)
            return {int(e["args"]["jobId"]): np.frombuffer(bytes(e["args"]["vector"]), np.int8).tolist() for e in logs}
        finally:
            await chain.close()

    async def submissions_by(self, requester: str) -> list[tuple[int, str]]:
        """(job id, tx hash) of every JobSubmitted whose requester is `requester`."""
        chain = await self.chain()
        try:
            logs = await chain.logs(chain.jobs, "JobSubmitted", chain.deployment.deployment_block,
                                    requester=requester)
            return [(int(e["args"]["jobId"]), "0x" + bytes(e["transactionHash"]).hex()) for e in logs]
        finally:
            await chain.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    run_dir = tmp_path_factory.mktemp("client")
    with LocalNetwork(run_dir / "net") as network:
        network.bring_up([1, 2, 3])
        relayer = LocalRelayer(network, run_dir)
        try:
            api_key = relayer.cli("keys", "create", "--name", "client", "--quota", "100")
            relayer.start()
            yield Net(network, relayer, api_key)
        finally:
            relayer.stop()


def _unit(vector: list[int]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def test_sync_embed_on_chain_charges_the_quote_and_returns_the_accepted_vectors(net: Net) -> None:
    texts = ["The cat sat on the mat.", "Verified inference, one call."]
    payer = Account.from_key(DEVNET_KEYS[7]).address

    async def inside_a_running_loop() -> tuple[Embeddings, int, int]:
        # As in Jupyter: the calling thread runs an event loop already; the sync client has its own.
        with Infera.connect(**net.chain_settings(7)) as infera:
            quote = infera.quote(texts)
            before = await net.infer_balance(payer)
            out = infera.embed(texts, timeout=240)
            return out, quote.total_wei, before - await net.infer_balance(payer)

    out, quoted, charged = asyncio.run(inside_a_running_loop())
    assert charged == quoted > 0
    job_ids = [r.job_id for r in out.results if r.job_id is not None]
    accepted = asyncio.run(net.accepted_vectors(job_ids))
    assert [r.input for r in out.results] == texts
    assert out.vectors == [_unit(accepted[j]) for j in job_ids]
    array = out.numpy()
    assert array.shape == (2, 384) and array.dtype == np.float32
    assert np.allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)
    again = Embeddings.model_validate_json(out.to_json())
    assert again.vectors == out.vectors and [str(r.ref) for r in again.results] == [f"job:{j}" for j in job_ids]


def test_async_stream_yields_in_completion_order_and_reattach_pays_nothing(net: Net) -> None:
    payer = Account.from_key(DEVNET_KEYS[4]).address

    async def go() -> None:
        settings = net.chain_settings(4)
        before = await net.infer_balance(payer)
        async with await InferaClient.connect(**settings) as client:
            quote = await client.quote(3)
            [early] = await client.submit(["Submitted first, final first."])
            await client.results([early], timeout=240)
            late = await client.submit(["Submitted later.", "Also submitted later."])
            # The first reference given is the last to finish: the stream goes by completion.
            order = [r.ref async for r in client.stream([*late, early], timeout=240)]
            assert order[0] == early and set(order[1:]) == set(late)

            [pending] = await client.submit(["Persisted, then reattached to."])
            with pytest.raises(ResultsTimeout) as timed_out:
                await client.results([pending], timeout=0.0)
            assert timed_out.value.pending == (str(pending),)
        # A new client (a restart): only the persisted string.
        async with await InferaClient.connect(**settings) as fresh:
            [result] = await fresh.reattach(list(timed_out.value.pending), timeout=240)
        assert result.accepted and result.ref == pending and result.input == "Persisted, then reattached to."
        assert before - await net.infer_balance(payer) == quote.total_wei + quote.fee_per_job_wei

    asyncio.run(go())


def test_chain_submit_whose_receipts_are_lost_is_paid_once_after_a_restart(net: Net, tmp_path: Path) -> None:
    payer = Account.from_key(DEVNET_KEYS[6]).address
    texts = ["Mined, but its receipt was lost.", "Paid for once."]

    async def go(proxy: FlakyProxy) -> None:
        # Approve first, through the real endpoint: this test is about the submit transaction.
        chain = await net.chain(6)
        try:
            await chain.transact(chain.token.functions.approve(chain.jobs.address, 100 * ONE))
        finally:
            await chain.close()
        before = await net.infer_balance(payer)
        already = await net.submissions_by(payer)
        settings = net.chain_settings(6, rpc_url=proxy.url, receipt_timeout=4.0, state_dir=tmp_path)
        async with await InferaClient.connect(**settings) as client:
            quote = await client.quote(texts)
            proxy.hide_receipts = True
            key = uuid.uuid4().hex
            with pytest.raises(SubmitUnconfirmed) as unconfirmed:
                await client.submit(texts, idempotency_key=key)
            assert unconfirmed.value.idempotency_key == key
            assert proxy.methods["eth_sendRawTransaction"] >= 1
        proxy.hide_receipts = False
        # A new client, as after a restart: nothing of the first is in memory, only its journal.
        async with await InferaClient.connect(**settings) as client:
            refs = await client.submit(texts, idempotency_key=key)  # the same signed bytes, not a new nonce
            results = await client.results(refs, timeout=240)
            assert await client.submit(texts, idempotency_key=key) == refs  # and again: the same jobs
            with pytest.raises(InferaError, match="was used for other texts"):
                await client.submit(texts[:1], idempotency_key=key)
        assert all(r.accepted for r in results)
        mine = [s for s in await net.submissions_by(payer) if s not in already]
        assert sorted(j for j, _ in mine) == sorted(r.job_id for r in refs if r.job_id is not None)
        assert len(mine) == len(texts) and len({tx for _, tx in mine}) == 1
        assert mine[0][1] in unconfirmed.value.tx_hashes
        assert before - await net.infer_balance(payer) == quote.total_wei

    with FlakyProxy(net.net.rpc_url) as proxy:
        asyncio.run(go(proxy))


def test_relayer_with_an_api_key_retries_a_lost_answer_into_one_request(net: Net) -> None:
    texts = ["Through the relayer, paid by it.", "Un seul envoi."]
    with LosingProxy(net.relayer.url) as proxy:
        proxy.lose[("POST", "/v1/jobs")] = 1
        settings = net.relayer_settings(relayer_url=proxy.url, api_key=net.api_key)
        with Infera.connect(**settings) as infera:
            quote = infera.quote(texts)
            out = infera.embed(texts, timeout=240)
            stats = requests.get(f"{net.relayer.url}/v1/stats", timeout=10).json()
    assert proxy.seen[("POST", "/v1/jobs")] == 2  # the first answer was lost, the retry replayed
    assert sum(stats["requests"].values()) == 1
    assert quote.fee_per_job_wei > 0 and quote.model == MODEL
    job_ids = [r.job_id for r in out.results if r.job_id is not None]
    assert len(job_ids) == 2 and all(str(r.ref).startswith("req:") for r in out.results)
    accepted = asyncio.run(net.accepted_vectors(job_ids))
    assert out.vectors == [_unit(accepted[j]) for j in job_ids]
    assert JobRef.parse(str(out.results[0].ref)) == out.results[0].ref


def test_gasless_through_the_relayer_user_pays_infer_and_no_gas_once_though_its_answer_was_lost(net: Net) -> None:
    user = Account.create()
    texts = ["Signed by a user who holds no ETH.", "Gasless."]

    async def fund() -> None:
        chain = await net.chain(5)
        try:
            await chain.transact(chain.token.functions.transfer(user.address, 10 * ONE))
        finally:
            await chain.close()

    asyncio.run(fund())
    stored_before = sum(requests.get(f"{net.relayer.url}/v1/stats", timeout=10).json()["requests"].values())
    with LosingProxy(net.relayer.url) as proxy:
        proxy.lose[("POST", "/v1/jobs/gasless")] = 1
        settings = net.relayer_settings(relayer_url=proxy.url, private_key="0x" + bytes(user.key).hex())
        with Infera.connect(**settings) as infera:
            quote = infera.quote(texts)
            out = infera.embed(texts, timeout=240)
    # The retry re-posted the same signed request: the relayer answered with the stored one.
    assert proxy.seen[("POST", "/v1/jobs/gasless")] == 2
    stored = sum(requests.get(f"{net.relayer.url}/v1/stats", timeout=10).json()["requests"].values())
    assert stored == stored_before + 1
    assert all(r.accepted for r in out.results)
    assert asyncio.run(net.infer_balance(user.address)) == 10 * ONE - quote.total_wei

    async def eth() -> int:
        chain = await net.chain()
        try:
            return int(await chain.w3.eth.get_balance(user.address))
        finally:
            await chain.close()

    assert asyncio.run(eth()) == 0
    requesters = asyncio.run(net.submissions_by(user.address))
    assert sorted(j for j, _ in requesters) == sorted(r.job_id for r in out.results if r.job_id is not None)


def test_a_public_method_raises_only_infera_errors(net: Net) -> None:
    # A deployment record that does not match the chain (no code at the ModelRegistry address):
    # web3 fails to decode the call, and the client says what is wrong as an InferaError.
    assert net.net.deployment is not None
    stray = "0x" + "42" * 20
    wrong = net.net.deployment.model_copy(
        update={"contracts": net.net.deployment.contracts.model_copy(update={"ModelRegistry": stray})})
    settings = net.chain_settings(0)
    settings.pop("deployments_dir")
    with Infera.connect(**settings, deployment=wrong) as infera:
        with pytest.raises(DeploymentNotFound, match="no contract code answers at the deployment's address"):
            infera.quote(1)
    # A relayer URL that is some other HTTP service (here the devnet's RPC port).
    with Infera.connect(**net.relayer_settings(relayer_url=net.net.rpc_url, api_key=net.api_key)) as infera:
        with pytest.raises(InferaError, match="Infera relayer|refused"):
            infera.quote(1)
    with Infera.connect(**net.relayer_settings(api_key=net.api_key)) as infera:
        with pytest.raises(RelayerRejected) as missing:
            infera.reattach(["req:00000000-0000-0000-0000-000000000000/0"], timeout=5)
    assert missing.value.status == 404
