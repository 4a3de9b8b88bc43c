"""Gasless requests through a real relayer process on a devnet: a user holding INFER and no ETH
signs with the SDK, the relayer verifies before its 202, relays with InferaForwarder.executeBatch
and tracks the jobs; the user pays the fee, the relayer pays gas. Each client mistake (bad
signature, expired, reused nonce) is a 4xx JSON error and stores nothing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount

from infera.devnet import DEVNET_KEYS
from infera.gasless import GaslessDraft, SignedGaslessRequest, prepare_gasless, sign_gasless
from infera.operator import ONE
from infera_testing.localnet import LocalNetwork
from relayer.process import RELAYER_KEY
from relayer.process import LocalRelayer as Relayer

MODEL = "all-MiniLM-L6-v2"
TEXTS = ["Signed by the user, paid in gas by the relayer.", "Sans ETH."]


async def _fund_and_sign(net: LocalNetwork, user: LocalAccount, ttl: int) -> SignedGaslessRequest:
    chain = await net.connect(DEVNET_KEYS[8])
    try:
        if await chain.balance_of(user.address) == 0:
            await chain.transact(chain.token.functions.transfer(user.address, 10 * ONE))
        return sign_gasless(user, await prepare_gasless(chain, user.address, MODEL, TEXTS, ttl=ttl))
    finally:
        await chain.close()


async def _draft(net: LocalNetwork, user: LocalAccount) -> GaslessDraft:
    chain = await net.connect()
    try:
        return await prepare_gasless(chain, user.address, MODEL, TEXTS)
    finally:
        await chain.close()


async def _balances(net: LocalNetwork, addresses: list[str]) -> dict[str, tuple[int, int]]:
    chain = await net.connect()
    try:
        return {a: (await chain.balance_of(a), int(await chain.w3.eth.get_balance(a))) for a in addresses}
    finally:
        await chain.close()


async def _requesters(net: LocalNetwork, job_ids: list[int]) -> list[str]:
    chain = await net.connect()
    try:
        return [j.requester for j in await chain.get_jobs(job_ids)]
    finally:
        await chain.close()


def _post(relayer: Relayer, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{relayer.url}/v1/jobs/gasless", json=body, timeout=10)


def _refused(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code, response.text


def test_gasless_request_is_verified_relayed_and_paid_by_its_signer(network: LocalNetwork, relayer: Relayer) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    relayer.start()
    user: LocalAccount = Account.create()
    relayer_address = Account.from_key(RELAYER_KEY).address

    # Expired: a deadline already past (the relayer also wants gasless_min_ttl seconds left).
    expired = asyncio.run(_fund_and_sign(network, user, ttl=-5))
    _refused(_post(relayer, expired.model_dump(by_alias=True)), 422, "expired")

    signed = asyncio.run(_fund_and_sign(network, user, ttl=600))
    body = signed.model_dump(by_alias=True)
    # Bad signature: the texts changed after signing, or another key signed for this `from`.
    _refused(_post(relayer, {**body, "texts": ["not what was signed", TEXTS[1]]}), 401, "bad_signature")
    forged = asyncio.run(_signed_by_other(network, TEXTS))
    _refused(_post(relayer, {**body, "signature": forged.signature}), 401, "bad_signature")
    _refused(_post(relayer, {**body, "callback": True}), 401, "bad_signature")
    # A known model is still required; wrong JSON shapes are 422 too.
    unknown = sign_gasless(user, replace(asyncio.run(_draft(network, user)), model_id=99))
    _refused(_post(relayer, unknown.model_dump(by_alias=True)), 422, "unknown_model")
    _refused(_post(relayer, {**body, "from": "0x1234"}), 422, "invalid_request")
    assert requests.get(f"{relayer.url}/v1/stats", timeout=10).json()["requests"] == {}

    before = asyncio.run(_balances(network, [user.address, relayer_address]))
    posted = _post(relayer, body)
    assert posted.status_code == 202, posted.text
    request_id = posted.json()["request_id"]
    # The same signed request again (a client whose answer was lost retries it): the same request.
    again = _post(relayer, body)
    assert again.status_code == 202 and again.json()["request_id"] == request_id, again.text
    # Another request signed over the same forwarder nonce: only one of them could ever run.
    rival = sign_gasless(user, replace(asyncio.run(_draft(network, user)), forwarder_nonce=signed.nonce,
                                       token_nonce=signed.permit.nonce, deadline=signed.deadline + 1))
    assert rival.signature != signed.signature
    clash = _post(relayer, rival.model_dump(by_alias=True))
    assert clash.status_code == 409 and clash.json()["error"]["code"] in ("nonce_queued", "nonce_used"), clash.text

    deadline = time.monotonic() + 60
    while True:
        view = requests.get(f"{relayer.url}/v1/jobs/{request_id}", timeout=10).json()  # no key: the id is enough
        if view["status"] in ("submitted", "completed", "failed"):
            break
        assert time.monotonic() < deadline, f"{view}\n{relayer.log()}"
        time.sleep(0.3)
    assert view["status"] == "submitted", view
    job_ids = [j["job_id"] for j in view["jobs"]]
    assert all(isinstance(j, int) for j in job_ids) and view["jobs"][0]["transactions"]["submit"]
    assert [a.lower() for a in asyncio.run(_requesters(network, job_ids))] == [user.address.lower()] * 2

    after = asyncio.run(_balances(network, [user.address, relayer_address]))
    fee = int(signed.permit.value)
    assert after[user.address] == (before[user.address][0] - fee, 0)  # paid the fee, never held ETH
    assert after[relayer_address][0] == before[relayer_address][0]  # the relayer paid no INFER
    assert after[relayer_address][1] < before[relayer_address][1]  # only gas

    # Once relayed: the same signed request is still the same request; a rival over the used
    # nonce is refused before anything is queued.
    replayed = _post(relayer, body)
    assert replayed.status_code == 202 and replayed.json()["request_id"] == request_id, replayed.text
    _refused(_post(relayer, rival.model_dump(by_alias=True)), 409, "nonce_used")
    assert requests.get(f"{relayer.url}/v1/stats", timeout=10).json()["requests"] == {"submitted": 1}


async def _signed_by_other(net: LocalNetwork, texts: list[str]) -> SignedGaslessRequest:
    chain = await net.connect()
    try:
        other = Account.create()
        return sign_gasless(other, await prepare_gasless(chain, other.address, MODEL, texts))
    finally:
        await chain.close()
