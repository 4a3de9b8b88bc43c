"""Gasless requests through InferaForwarder (OpenZeppelin's ERC2771Forwarder): the signer is the
requester and the payer, the relayer pays gas only, and replays, expired requests, front-running
and sender spoofing cost the user nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ape
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from contract_helpers import FEE, ONE, reverts_with
from infera.gasless import Domains, GaslessDraft, SignedGaslessRequest, sign_gasless, verify_gasless

DELEGATECALL = 0xF4


@pytest.fixture
def user(token: Any, deployer: Any, accounts: Any) -> LocalAccount:
    """A fresh key holding 10 INFER and no ETH at all."""
    account: LocalAccount = Account.create()
    token.transfer(account.address, 10 * ONE, sender=accounts[9])
    return account


@pytest.fixture
def relayer(accounts: Any) -> Any:
    return accounts[5]


@pytest.fixture
def sign(chain: Any, token: Any, jobs: Any, forwarder: Any) -> Callable[..., SignedGaslessRequest]:
    """Sign a gasless submit of `texts` for `account` with the chain's current nonces (or the given ones)."""
    domains = Domains(chain.chain_id, forwarder.address, jobs.address, token.address)

    def _sign(account: LocalAccount, texts: list[str] | None = None, deadline: int | None = None,
              nonce: int | None = None) -> SignedGaslessRequest:
        texts = texts or ["hello gasless"]
        draft = GaslessDraft(
            domains, account.address, 1, texts, FEE, token.nonces(account.address),
            forwarder.nonces(account.address) if nonce is None else nonce,
            chain.pending_timestamp + 3_600 if deadline is None else deadline)
        return sign_gasless(account, draft)

    return _sign


def request_data(signed: SignedGaslessRequest, jobs: Any, forwarder: Any, token: Any, chain: Any) -> tuple[Any, ...]:
    domains = Domains(chain.chain_id, forwarder.address, jobs.address, token.address)
    return verify_gasless(signed, domains, now=0).forward_request_data(jobs.address)


def test_forwarded_submit_makes_the_signer_requester_and_payer(
    chain: Any, jobs: Any, token: Any, forwarder: Any, user: LocalAccount, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest],
) -> None:
    request = request_data(sign(user, ["a", "b"]), jobs, forwarder, token, chain)
    infer_before, relayer_infer, relayer_eth = token.balanceOf(user.address), token.balanceOf(relayer), relayer.balance
    tx = forwarder.executeBatch([request], relayer, sender=relayer)

    executed = tx.decode_logs(forwarder.ExecutedForwardRequest)
    assert [(e.signer, e.nonce, e.success) for e in executed] == [(user.address, 0, True)]
    submitted = tx.decode_logs(jobs.JobSubmitted)
    assert [e.requester for e in submitted] == [user.address, user.address]
    assert jobs.getJob(1).requester == user.address
    # The user paid exactly the fee from its own INFER and never held ETH; the relayer paid gas only.
    assert token.balanceOf(user.address) == infer_before - 2 * FEE
    assert token.balanceOf(relayer) == relayer_infer
    assert chain.provider.get_balance(user.address) == 0
    assert relayer.balance == relayer_eth - tx.total_fees_paid
    assert forwarder.nonces(user.address) == 1


def test_forwarded_submit_gas_against_a_direct_submit(
    chain: Any, jobs: Any, token: Any, forwarder: Any, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest], accounts: Any, submit: Callable[..., Any],
) -> None:
    """The same submitWithPermit of two texts by two fresh keys in the same state: sent by the
    user itself, and forwarded (the forwarder's signature check and nonce are the difference)."""
    submit(["warm up"], assign=False)  # the registry's first job writes fresh slots: not measured
    users = [Account.create() for _ in range(2)]
    for u in users:
        token.transfer(u.address, 10 * ONE, sender=accounts[9])
    accounts[7].transfer(users[0].address, 10**18)
    direct_signed, forwarded_signed = sign(users[0], ["a", "b"]), sign(users[1], ["a", "b"])
    snapshot = chain.provider.make_request("evm_snapshot", [])
    direct_data = request_data(direct_signed, jobs, forwarder, token, chain)[5]
    w3 = chain.provider.web3
    signed_tx = users[0].sign_transaction({"to": jobs.address, "data": direct_data, "gas": 1_000_000, "nonce": 0,
                                           "chainId": chain.chain_id, "maxFeePerGas": 10**10,
                                           "maxPriorityFeePerGas": 0})
    direct = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed_tx.raw_transaction))
    assert direct["status"] == 1
    chain.provider.make_request("evm_revert", [snapshot])
    forwarded = forwarder.executeBatch([request_data(forwarded_signed, jobs, forwarder, token, chain)], relayer,
                                       sender=relayer)
    assert [e.success for e in forwarded.decode_logs(forwarder.ExecutedForwardRequest)] == [True]
    overhead = forwarded.gas_used - int(direct["gasUsed"])
    assert 0 < overhead < 45_000, (forwarded.gas_used, int(direct["gasUsed"]))


def test_replayed_request_and_reused_nonce_are_refused(
    chain: Any, jobs: Any, token: Any, forwarder: Any, user: LocalAccount, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest],
) -> None:
    request = request_data(sign(user), jobs, forwarder, token, chain)
    forwarder.execute(request, sender=relayer)
    assert jobs.jobCount() == 1
    # The same signed request again: its nonce is used, so its signature no longer matches `from`.
    assert not forwarder.verify(request)
    with ape.reverts(forwarder.ERC2771ForwarderInvalidSigner):
        forwarder.execute(request, sender=relayer)
    # A new request signed with the used nonce 0 is refused the same way; skipped in a batch.
    reused = request_data(sign(user, ["other"], nonce=0), jobs, forwarder, token, chain)
    with ape.reverts(forwarder.ERC2771ForwarderInvalidSigner):
        forwarder.execute(reused, sender=relayer)
    tx = forwarder.executeBatch([request, reused], relayer, sender=relayer)
    assert not tx.decode_logs(forwarder.ExecutedForwardRequest)
    assert jobs.jobCount() == 1 and token.balanceOf(user.address) == 10 * ONE - FEE


def test_expired_request_is_refused(
    chain: Any, jobs: Any, token: Any, forwarder: Any, user: LocalAccount, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest],
) -> None:
    deadline = chain.pending_timestamp - 1
    request = request_data(sign(user, deadline=deadline), jobs, forwarder, token, chain)
    with reverts_with(forwarder.ERC2771ForwarderExpiredRequest, deadline=deadline):
        forwarder.execute(request, sender=relayer)
    forwarder.executeBatch([request], relayer, sender=relayer)
    assert jobs.jobCount() == 0 and forwarder.nonces(user.address) == 0


def test_front_run_permit_does_not_fail_the_request(
    chain: Any, jobs: Any, token: Any, forwarder: Any, user: LocalAccount, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest], accounts: Any,
) -> None:
    signed = sign(user)
    sig = signed.permit.signature
    # An attacker lifts the permit out of the pending calldata and spends it first.
    token.permit(user.address, jobs.address, FEE, signed.deadline, int(sig[-2:], 16), bytes.fromhex(sig[2:66]),
                 bytes.fromhex(sig[66:130]), sender=accounts[6])
    tx = forwarder.executeBatch([request_data(signed, jobs, forwarder, token, chain)], relayer, sender=relayer)
    assert [e.success for e in tx.decode_logs(forwarder.ExecutedForwardRequest)] == [True]
    assert jobs.getJob(1).requester == user.address
    assert token.balanceOf(user.address) == 10 * ONE - FEE


def test_front_run_forwarder_call_costs_the_user_nothing_extra(
    chain: Any, jobs: Any, token: Any, forwarder: Any, user: LocalAccount, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest], accounts: Any,
) -> None:
    request = request_data(sign(user), jobs, forwarder, token, chain)
    forwarder.execute(request, sender=accounts[6])  # an attacker relays the user's request first
    # The relayer's batch does not revert: the used request is skipped, the rest of it runs.
    other = Account.create()
    token.transfer(other.address, 5 * ONE, sender=accounts[9])
    tx = forwarder.executeBatch([request, request_data(sign(other), jobs, forwarder, token, chain)], relayer,
                                sender=relayer)
    assert [(e.signer, e.success) for e in tx.decode_logs(forwarder.ExecutedForwardRequest)] == [(other.address, True)]
    assert [e.requester for e in tx.decode_logs(jobs.JobSubmitted)] == [other.address]
    # Exactly one job and one fee for the user.
    assert jobs.jobCount() == 2 and jobs.getJob(1).requester == user.address
    assert token.balanceOf(user.address) == 10 * ONE - FEE


def test_appended_address_from_a_non_forwarder_does_not_impersonate(
    chain: Any, jobs: Any, token: Any, forwarder: Any, user: LocalAccount, relayer: Any, three_nodes: list[Any],
    sign: Callable[..., SignedGaslessRequest], accounts: Any, requester: Any,
) -> None:
    victim, attacker = requester, accounts[6]
    token.approve(jobs, 100 * ONE, sender=victim)
    token.approve(jobs, 100 * ONE, sender=attacker)
    victim_before, attacker_before = token.balanceOf(victim), token.balanceOf(attacker)
    call = jobs.submit.as_transaction(1, ["spoof"], FEE, False, sender=attacker)
    forged = bytes(call.data) + bytes.fromhex(victim.address[2:])
    w3 = chain.provider.web3
    tx_hash = w3.eth.send_transaction({"from": attacker.address, "to": jobs.address, "data": forged, "gas": 1_000_000})
    tx = chain.provider.get_receipt(tx_hash.hex())
    assert tx.status == 1
    assert [e.requester for e in tx.decode_logs(jobs.JobSubmitted)] == [attacker.address]
    assert token.balanceOf(victim) == victim_before and token.balanceOf(attacker) == attacker_before - FEE

    # Through the forwarder, a signer that appends the victim to its own data is still itself:
    # the forwarder appends `from` after the data, and only the last 20 bytes count.
    signed = sign(user)
    request = list(request_data(signed, jobs, forwarder, token, chain))
    request[5] = bytes(request[5]) + bytes.fromhex(victim.address[2:])
    draft_sig = Account.from_key(user.key).sign_message(_forward_message(chain, forwarder, tuple(request), 0))
    request[6] = bytes(draft_sig.signature)
    tx = forwarder.execute(tuple(request), sender=relayer)
    assert [e.requester for e in tx.decode_logs(jobs.JobSubmitted)] == [user.address]
    assert token.balanceOf(victim) == victim_before


def _forward_message(chain: Any, forwarder: Any, request: tuple[Any, ...], nonce: int) -> Any:
    from eth_account.messages import encode_typed_data

    from infera.gasless import _DOMAIN_TYPE, _FORWARD_TYPE, FORWARDER_NAME, FORWARDER_VERSION

    return encode_typed_data(full_message={
        "types": {"EIP712Domain": _DOMAIN_TYPE, "ForwardRequest": _FORWARD_TYPE}, "primaryType": "ForwardRequest",
        "domain": {"name": FORWARDER_NAME, "version": FORWARDER_VERSION, "chainId": chain.chain_id,
                   "verifyingContract": forwarder.address},
        "message": {"from": request[0], "to": request[1], "value": request[2], "gas": request[3], "nonce": nonce,
                    "deadline": request[4], "data": request[5]}})


def _opcodes(code: bytes) -> set[int]:
    """The opcodes of runtime bytecode, skipping PUSH immediates."""
    seen: set[int] = set()
    i = 0
    while i < len(code):
        op = code[i]
        seen.add(op)
        i += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return seen


def test_no_self_delegatecall_multicall(chain: Any, jobs: Any, forwarder: Any) -> None:
    """ERC-2771 plus a self-delegatecall multicall lets anyone spoof any sender: JobRegistry has
    no multicall and no DELEGATECALL at all, and it trusts exactly the deployed forwarder."""
    names = {item.name for item in jobs.contract_type.abi if getattr(item, "type", "") == "function"}
    assert not {n for n in names if "multicall" in n.lower()}
    code = bytes(chain.provider.get_code(jobs.address))
    # Solidity appends CBOR metadata after the code; its length is in the last two bytes.
    assert DELEGATECALL not in _opcodes(code[: -2 - int.from_bytes(code[-2:], "big")])
    assert jobs.trustedForwarder() == forwarder.address
    assert jobs.isTrustedForwarder(forwarder.address) and not jobs.isTrustedForwarder(jobs.address)
