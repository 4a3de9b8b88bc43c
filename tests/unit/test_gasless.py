"""infera.gasless without a chain: the typed data a user signs, the signed JSON, and the checks a
relayer makes before accepting it (each altered field is refused)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from infera.gasless import (
    Domains,
    GaslessDraft,
    GaslessRejected,
    SignedGaslessRequest,
    gas_for,
    sign_gasless,
    verify_gasless,
)

DOMAINS = Domains(901, "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20)
FEE = 10**18
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def user() -> LocalAccount:
    account: LocalAccount = Account.from_key("0x" + "ab" * 32)
    return account


def draft(user: LocalAccount, **overrides: Any) -> GaslessDraft:
    fields: dict[str, Any] = {"domains": DOMAINS, "sender": user.address, "model_id": 1, "texts": ["a", "b"],
                              "fee_per_job": FEE, "token_nonce": 3, "forwarder_nonce": 7, "deadline": NOW + 600}
    fields.update(overrides)
    return GaslessDraft(**fields)


def test_typed_data_binds_chain_contracts_fee_nonce_and_deadline(user: LocalAccount) -> None:
    d = draft(user)
    permit = d.permit_typed_data()
    assert permit["domain"] == {"name": "Infera", "version": "1", "chainId": 901,
                                "verifyingContract": "0x" + "33" * 20}
    assert permit["message"]["spender"] == "0x" + "22" * 20 and permit["message"]["value"] == 2 * FEE
    assert permit["message"]["nonce"] == 3 and permit["message"]["deadline"] == NOW + 600
    forward = d.forward_typed_data("0x" + "00" * 65)
    assert forward["domain"]["name"] == "InferaForwarder" and forward["domain"]["chainId"] == 901
    assert forward["message"]["to"] == "0x" + "22" * 20 and forward["message"]["value"] == 0
    assert forward["message"]["nonce"] == 7 and forward["message"]["gas"] == gas_for(2)


def test_signed_request_is_json_ready_and_verifies(user: LocalAccount) -> None:
    signed = sign_gasless(user, draft(user))
    wire = json.loads(json.dumps(signed.model_dump(by_alias=True)))
    assert wire["from"] == user.address and wire["permit"]["value"] == str(2 * FEE)
    verified = verify_gasless(SignedGaslessRequest.model_validate(wire), DOMAINS, now=NOW)
    assert verified.sender == user.address and verified.fee == 2 * FEE
    request = verified.forward_request_data(DOMAINS.registry)
    assert request[0] == user.address and request[3] == gas_for(2) and request[4] == NOW + 600
    assert request[5][:4] == verified.data[:4] and len(request[6]) == 65


@pytest.mark.parametrize(("change", "code"), [
    ({"texts": ["a", "c"]}, "bad_signature"),
    ({"callback": True}, "bad_signature"),
    ({"nonce": 8}, "bad_signature"),
    ({"gas": 400_000}, "bad_signature"),
    ({"model_id": 2}, "bad_signature"),
    ({"deadline": NOW + 601}, "bad_permit_signature"),
    ({"max_fee_per_job": str(FEE // 2)}, "bad_signature"),
    ({"permit": {"value": "1", "nonce": 3}}, "bad_permit_signature"),
    ({"from": "0x" + "44" * 20}, "bad_permit_signature"),
])
def test_every_altered_field_is_refused(user: LocalAccount, change: dict[str, Any], code: str) -> None:
    wire = sign_gasless(user, draft(user)).model_dump(by_alias=True)
    if "permit" in change:
        change = {"permit": {**wire["permit"], **change["permit"]}}
    wire.update(change)
    with pytest.raises(GaslessRejected) as raised:
        verify_gasless(SignedGaslessRequest.model_validate(wire), DOMAINS, now=NOW, min_ttl=30)
    assert raised.value.code == code, raised.value


@pytest.mark.parametrize("deadline", [NOW - 1, NOW + 10])  # passed, or less than min_ttl left to relay it
def test_expired_request_is_refused(user: LocalAccount, deadline: int) -> None:
    with pytest.raises(GaslessRejected) as raised:
        verify_gasless(sign_gasless(user, draft(user, deadline=deadline)), DOMAINS, now=NOW, min_ttl=30)
    assert raised.value.code == "expired"


def test_signed_but_unsubmittable_text_is_refused(user: LocalAccount) -> None:
    signed = sign_gasless(user, draft(user, texts=["ok", ""]))
    with pytest.raises(GaslessRejected) as raised:
        verify_gasless(signed, DOMAINS, now=NOW)
    assert raised.value.code == "invalid_input"


def test_another_chain_or_forwarder_does_not_accept_the_signature(user: LocalAccount) -> None:
    signed = sign_gasless(user, draft(user))
    for other in (Domains(902, DOMAINS.forwarder, DOMAINS.registry, DOMAINS.token),
                  Domains(901, "0x" + "55" * 20, DOMAINS.registry, DOMAINS.token)):
        with pytest.raises(GaslessRejected, match="signature"):
            verify_gasless(signed, other, now=NOW)


def test_a_malformed_signature_is_refused_not_raised(user: LocalAccount) -> None:
    wire = sign_gasless(user, draft(user)).model_dump(by_alias=True)
    wire["signature"] = "0x" + "ff" * 65
    with pytest.raises(GaslessRejected) as raised:
        verify_gasless(SignedGaslessRequest.model_validate(wire), DOMAINS, now=NOW)
    assert raised.value.code == "bad_signature"


def test_signing_a_draft_of_someone_else_is_refused(user: LocalAccount) -> None:
    with pytest.raises(GaslessRejected, match="draft is for"):
        sign_gasless(Account.create(), draft(user))
