"""InferToken: capped, role-restricted minting, EIP-2612 permit, burning."""

from __future__ import annotations

from typing import Any

import ape
from eth_account import Account

from contract_helpers import ONE

CAP = 1_000_000_000 * ONE


def permit_signature(token: Any, chain: Any, owner: Any, spender: Any, value: int, deadline: int) -> tuple[int, bytes, bytes]:
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "Infera", "version": "1", "chainId": chain.chain_id, "verifyingContract": token.address},
        "message": {
            "owner": owner.address, "spender": str(spender), "value": value,
            "nonce": token.nonces(owner), "deadline": deadline,
        },
    }
    signed = Account.sign_typed_data(owner.private_key, full_message=typed)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def test_metadata_and_cap(token: Any) -> None:
    assert token.name() == "Infera"
    assert token.symbol() == "INFER"
    assert token.decimals() == 18
    assert token.cap() == CAP


def test_minter_mints_and_emits_transfer(token: Any, deployer: Any, accounts: Any) -> None:
    before = token.balanceOf(accounts[5])
    tx = token.mint(accounts[5], 7 * ONE, sender=deployer)
    assert token.balanceOf(accounts[5]) == before + 7 * ONE
    assert tx.decode_logs(token.Transfer)[0].value == 7 * ONE


def test_mint_without_role_reverts(token: Any, accounts: Any) -> None:
    with ape.reverts(token.AccessControlUnauthorizedAccount):
        token.mint(accounts[5], ONE, sender=accounts[5])


def test_mint_past_cap_reverts(token: Any, deployer: Any) -> None:
    remaining = CAP - token.totalSupply()
    with ape.reverts(token.ERC20ExceededCap):
        token.mint(deployer, remaining + 1, sender=deployer)


def test_only_admin_grants_roles(token: Any, deployer: Any, accounts: Any) -> None:
    with ape.reverts(token.AccessControlUnauthorizedAccount):
        token.grantRole(token.MINTER_ROLE(), accounts[5], sender=accounts[5])
    token.grantRole(token.MINTER_ROLE(), accounts[5], sender=deployer)
    assert token.hasRole(token.MINTER_ROLE(), accounts[5])
    token.revokeRole(token.MINTER_ROLE(), accounts[5], sender=deployer)
    assert not token.hasRole(token.MINTER_ROLE(), accounts[5])


def test_permit_sets_allowance_and_rejects_replay(token: Any, chain: Any, accounts: Any) -> None:
    owner, spender = accounts[5], accounts[6]
    deadline = chain.pending_timestamp + 3600
    v, r, s = permit_signature(token, chain, owner, spender.address, 5 * ONE, deadline)
    token.permit(owner, spender, 5 * ONE, deadline, v, r, s, sender=spender)
    assert token.allowance(owner, spender) == 5 * ONE
    assert token.nonces(owner) == 1
    with ape.reverts(token.ERC2612InvalidSigner):
        token.permit(owner, spender, 5 * ONE, deadline, v, r, s, sender=spender)


def test_expired_permit_reverts(token: Any, chain: Any, accounts: Any) -> None:
    owner, spender = accounts[5], accounts[6]
    deadline = chain.pending_timestamp - 1
    v, r, s = permit_signature(token, chain, owner, spender.address, ONE, deadline)
    with ape.reverts(token.ERC2612ExpiredSignature):
        token.permit(owner, spender, ONE, deadline, v, r, s, sender=spender)


def test_burn_reduces_supply(token: Any, accounts: Any) -> None:
    supply = token.totalSupply()
    token.burn(ONE, sender=accounts[5])
    assert token.totalSupply() == supply - ONE
    with ape.reverts(token.ERC20InsufficientAllowance):
        token.burnFrom(accounts[5], ONE, sender=accounts[6])


def test_transfers_and_allowances(token: Any, accounts: Any) -> None:
    a, b, c = accounts[5], accounts[6], accounts[7]
    before = token.balanceOf(b)
    tx = token.transfer(b, ONE, sender=a)
    assert tx.decode_logs(token.Transfer)[0].value == ONE
    assert token.balanceOf(b) == before + ONE
    token.approve(c, 2 * ONE, sender=a)
    token.transferFrom(a, b, 2 * ONE, sender=c)
    assert token.allowance(a, c) == 0
    with ape.reverts(token.ERC20InsufficientAllowance):
        token.transferFrom(a, b, 1, sender=c)
    with ape.reverts(token.ERC20InsufficientBalance):
        token.transfer(b, token.balanceOf(a) + 1, sender=a)
