"""InferToken: genesis allocation, capped minting by the one wired minter, EIP-2612 permit, burning."""

from __future__ import annotations

from typing import Any

import ape
import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError

from contract_helpers import ONE, reverts_with

CAP = 1_000_000_000 * ONE
GENESIS = 9 * 1_000_000 * ONE
ZERO = "0x" + "00" * 20
DEFAULT_ADMIN_ROLE = b"\x00" * 32


@pytest.fixture
def fresh(project: Any, deployer: Any, accounts: Any) -> Any:
    """A token of its own, genesis allocation to accounts[4], no minter wired yet."""
    return deployer.deploy(project.InferToken, CAP, deployer, accounts[4], GENESIS)


@pytest.fixture
def minter(fresh: Any, deployer: Any, accounts: Any) -> Any:
    """accounts[3] stands in for the emission contract."""
    fresh.wireMinter(accounts[3], sender=deployer)
    return accounts[3]


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
    assert not hasattr(token, "MINTER_ROLE")  # no role an admin could grant itself to mint
    assert token.name() == "Infera"
    assert token.symbol() == "INFER"
    assert token.decimals() == 18
    assert token.cap() == CAP


def test_genesis_allocation_goes_to_its_holder(project: Any, chain: Any, deployer: Any, accounts: Any, fresh: Any) -> None:
    assert fresh.balanceOf(accounts[4]) == GENESIS
    assert fresh.totalSupply() == GENESIS
    assert fresh.balanceOf(deployer) == 0
    assert fresh.minter() == ZERO
    assert fresh.hasRole(DEFAULT_ADMIN_ROLE, deployer)
    none = deployer.deploy(project.InferToken, CAP, deployer, ZERO, 0)
    assert none.totalSupply() == 0
    # A genesis allocation above the cap cannot be deployed (Ape cannot decode a constructor's
    # custom error, so this asks the node directly).
    code = project.InferToken.contract_type.deployment_bytecode.bytecode
    args = encode(["uint256", "address", "address", "uint256"], [CAP, deployer.address, deployer.address, CAP + 1])
    with pytest.raises(ContractCustomError) as err:
        chain.provider.web3.eth.call({"from": deployer.address, "data": code + args.hex()})
    expected = keccak(text="ERC20ExceededCap(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [CAP + 1, CAP])
    assert err.value.data == "0x" + expected.hex()


def test_wired_minter_mints_and_emits_transfer(fresh: Any, minter: Any, accounts: Any) -> None:
    tx = fresh.mint(accounts[5], 7 * ONE, sender=minter)
    assert fresh.balanceOf(accounts[5]) == 7 * ONE
    assert fresh.totalSupply() == GENESIS + 7 * ONE
    assert tx.decode_logs(fresh.Transfer)[0].value == 7 * ONE


def test_nobody_mints_before_the_minter_is_wired(fresh: Any, deployer: Any, accounts: Any) -> None:
    with reverts_with(fresh.InferTokenNotMinter, caller=deployer):
        fresh.mint(deployer, ONE, sender=deployer)
    with reverts_with(fresh.InferTokenNotMinter, caller=accounts[5]):
        fresh.mint(accounts[5], ONE, sender=accounts[5])


def test_only_the_minter_mints_not_even_the_admin(fresh: Any, minter: Any, deployer: Any, accounts: Any) -> None:
    with reverts_with(fresh.InferTokenNotMinter, caller=deployer):
        fresh.mint(deployer, ONE, sender=deployer)
    with reverts_with(fresh.InferTokenNotMinter, caller=accounts[4]):
        fresh.mint(accounts[4], ONE, sender=accounts[4])
    assert fresh.totalSupply() == GENESIS


def test_minter_is_wired_once_by_the_admin(fresh: Any, deployer: Any, accounts: Any) -> None:
    with reverts_with(fresh.AccessControlUnauthorizedAccount, account=accounts[3], neededRole=DEFAULT_ADMIN_ROLE):
        fresh.wireMinter(accounts[3], sender=accounts[3])
    with reverts_with(fresh.InferTokenMinterWired, minter=ZERO):
        fresh.wireMinter(ZERO, sender=deployer)
    tx = fresh.wireMinter(accounts[3], sender=deployer)
    assert tx.decode_logs(fresh.MinterWired)[0].minter == accounts[3].address
    assert fresh.minter() == accounts[3].address
    with reverts_with(fresh.InferTokenMinterWired, minter=accounts[3]):
        fresh.wireMinter(deployer, sender=deployer)
    with reverts_with(fresh.InferTokenMinterWired, minter=accounts[3]):
        fresh.wireMinter(accounts[3], sender=deployer)
    assert fresh.minter() == accounts[3].address


def test_mint_past_cap_reverts(fresh: Any, minter: Any) -> None:
    remaining = CAP - fresh.totalSupply()
    with reverts_with(fresh.ERC20ExceededCap, increasedSupply=CAP + 1, cap=CAP):
        fresh.mint(minter, remaining + 1, sender=minter)
    fresh.mint(minter, remaining, sender=minter)
    assert fresh.totalSupply() == CAP


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
