"""Gasless requests: the user signs, a relayer pays the gas.

A gasless request is one ``JobRegistry.submitWithPermit`` call relayed by the trusted ERC-2771
forwarder (``InferaForwarder``, OpenZeppelin's ERC2771Forwarder). The user signs two EIP-712
messages, both bound to this chain and to one deadline:

1. an EIP-2612 permit letting JobRegistry take exactly the fee (model fee x texts) of the user's
   own INFER, and
2. the forwarder's ``ForwardRequest`` whose calldata is ``submitWithPermit(..., permit)``; it
   carries the forwarder's per-user sequential nonce, so it runs at most once, by whoever relays
   it first (a copy relayed by someone else is skipped, never charged twice).

The user stays the requester and the payer; the relayer spends only gas. The permit's signature
is part of the forwarded calldata, so the permit is signed first: :meth:`GaslessDraft.permit_typed_data`
and then :meth:`GaslessDraft.forward_typed_data`. :func:`sign_gasless` does both with a local
account, and :func:`prepare_gasless` reads what it needs (fee, nonces, chain id) from the chain in
one call. :func:`verify_gasless` is what a relayer checks before accepting a signed request.

Signatures are ECDSA (EOA signers): OpenZeppelin's ERC2771Forwarder and ERC20Permit recover with
ECDSA only, so an ERC-1271 contract wallet cannot sign a gasless request (it can call submit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3

from infera.abi import load_abi
from infera.boundary import boundary
from infera.errors import InferaError
from infera.inputs import encode_input

FORWARDER_NAME = "InferaForwarder"
FORWARDER_VERSION = "1"
TOKEN_NAME = "Infera"  # InferToken's ERC20Permit domain name
TOKEN_VERSION = "1"
# Gas the forwarded submitWithPermit may use (the signed `gas`): a first text and its permit, then
# each further text of the same call. Measured on the devnet: about 235k for the very first job of
# a fresh registry, 185k for one text later, about 53k for each further text (3.55M for 64); the
# figures below leave a margin. The relayer pays only the gas used, not this cap.
GAS_BASE = 300_000
GAS_PER_TEXT = 70_000
MAX_UINT48 = 2**48 - 1

_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_FORWARD_TYPE = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]
_PERMIT_TYPE = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


class GaslessRejected(InferaError):
    """A signed request that must not be relayed; `code` says why, for the HTTP error body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def gas_for(n_texts: int) -> int:
    """The gas a forwarded submitWithPermit of `n_texts` texts is signed for."""
    return GAS_BASE + GAS_PER_TEXT * max(0, n_texts - 1)


@dataclass(frozen=True)
class Domains:
    """What the signatures bind: the chain and the three contracts."""

    chain_id: int
    forwarder: str
    registry: str
    token: str

    def forwarder_domain(self) -> dict[str, Any]:
        return {"name": FORWARDER_NAME, "version": FORWARDER_VERSION, "chainId": self.chain_id,
                "verifyingContract": to_checksum_address(self.forwarder)}

    def token_domain(self) -> dict[str, Any]:
        return {"name": TOKEN_NAME, "version": TOKEN_VERSION, "chainId": self.chain_id,
                "verifyingContract": to_checksum_address(self.token)}


class PermitPart(BaseModel):
    """The EIP-2612 permit (spender JobRegistry, value exactly the fee), signed by `from`."""

    model_config = ConfigDict(extra="forbid")
    value: str = Field(pattern=r"^[0-9]{1,78}$", description="allowance granted, wei of INFER (decimal)")
    nonce: int = Field(ge=0, le=2**64, description="the token's permit nonce of `from`")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte r, s, v signature")


class SignedGaslessRequest(BaseModel):
    """A signed gasless request, JSON-ready (``model_dump(by_alias=True)``): everything a relayer
    needs to rebuild the ForwardRequest and check both signatures."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", pattern=r"^0x[0-9a-fA-F]{40}$", description="the signer: requester and payer")
    model_id: int = Field(ge=1, le=2**32 - 1)
    texts: list[str] = Field(min_length=1, max_length=64)
    max_fee_per_job: str = Field(pattern=r"^[0-9]{1,29}$", description="wei of INFER (decimal)")
    callback: bool = False
    deadline: int = Field(ge=0, le=MAX_UINT48, description="unix time after which neither signature is valid")
    gas: int = Field(ge=21_000, le=30_000_000, description="gas the forwarded call gets")
    nonce: int = Field(ge=0, le=2**64, description="the forwarder's nonce of `from`")
    permit: PermitPart
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="the ForwardRequest's signature")


@cache
def _registry_abi_contract() -> Any:
    return Web3().eth.contract(abi=load_abi("JobRegistry"))


def _split(signature: str) -> tuple[int, bytes, bytes]:
    raw = bytes.fromhex(signature[2:])
    r, s, v = raw[:32], raw[32:64], raw[64]
    return (v + 27 if v < 27 else v), r, s


def submit_calldata(model_id: int, texts: list[str], max_fee_per_job: int, callback: bool, permit_value: int,
                    deadline: int, permit_signature: str) -> bytes:
    """JobRegistry.submitWithPermit's calldata: what the ForwardRequest's `data` is."""
    v, r, s = _split(permit_signature)
    encoded = _registry_abi_contract().encode_abi(
        "submitWithPermit", args=[model_id, texts, max_fee_per_job, callback, permit_value, deadline, v, r, s])
    return bytes.fromhex(encoded[2:])


def _typed(domain: dict[str, Any], primary: str, fields: list[dict[str, str]], message: dict[str, Any]) -> dict[str, Any]:
    return {"types": {"EIP712Domain": _DOMAIN_TYPE, primary: fields}, "primaryType": primary,
            "domain": domain, "message": message}


@dataclass(frozen=True)
class GaslessDraft:
    """An unsigned gasless request: produces the two typed-data messages the user signs."""

    domains: Domains
    sender: str
    model_id: int
    texts: list[str]
    fee_per_job: int
    token_nonce: int
    forwarder_nonce: int
    deadline: int
    callback: bool = False
    gas: int | None = None

    @property
    def fee(self) -> int:
        return self.fee_per_job * len(self.texts)

    @property
    def forward_gas(self) -> int:
        return self.gas if self.gas is not None else gas_for(len(self.texts))

    def permit_typed_data(self) -> dict[str, Any]:
        """EIP-712 permit for exactly the fee, spender JobRegistry (sign with eth_signTypedData_v4)."""
        return _typed(self.domains.token_domain(), "Permit", _PERMIT_TYPE, {
            "owner": to_checksum_address(self.sender), "spender": to_checksum_address(self.domains.registry),
            "value": self.fee, "nonce": self.token_nonce, "deadline": self.deadline})

    def forward_typed_data(self, permit_signature: str) -> dict[str, Any]:
        """EIP-712 ForwardRequest for submitWithPermit carrying the signed permit."""
        data = submit_calldata(self.model_id, self.texts, self.fee_per_job, self.callback, self.fee, self.deadline,
                               permit_signature)
        return _typed(self.domains.forwarder_domain(), "ForwardRequest", _FORWARD_TYPE, {
            "from": to_checksum_address(self.sender), "to": to_checksum_address(self.domains.registry), "value": 0,
            "gas": self.forward_gas, "nonce": self.forwarder_nonce, "deadline": self.deadline, "data": data})

    def signed(self, permit_signature: str, forward_signature: str) -> SignedGaslessRequest:
        return SignedGaslessRequest.model_validate({
            "from": to_checksum_address(self.sender), "model_id": self.model_id, "texts": list(self.texts),
            "max_fee_per_job": str(self.fee_per_job), "callback": self.callback, "deadline": self.deadline,
            "gas": self.forward_gas, "nonce": self.forwarder_nonce,
            "permit": {"value": str(self.fee), "nonce": self.token_nonce, "signature": permit_signature},
            "signature": forward_signature})


def _sign(account: LocalAccount, typed: dict[str, Any]) -> str:
    signed = account.sign_message(encode_typed_data(full_message=typed))
    return "0x" + bytes(signed.signature).hex()


def sign_gasless(account: LocalAccount, draft: GaslessDraft) -> SignedGaslessRequest:
    """Sign the permit, then the ForwardRequest carrying it, with a local account."""
    if to_checksum_address(draft.sender) != account.address:
        raise GaslessRejected("wrong_signer", f"the draft is for {draft.sender}, not {account.address}")
    permit_signature = _sign(account, draft.permit_typed_data())
    return draft.signed(permit_signature, _sign(account, draft.forward_typed_data(permit_signature)))


@boundary
async def prepare_gasless(chain: Any, sender: str, model: str | int, texts: list[str], ttl: int = 600,
                          callback: bool = False) -> GaslessDraft:
    """One call: read the model's fee, both nonces and the chain's time, and draft the request
    (`chain` is an infera.chain.Chain; nothing is sent and no key is needed)."""
    for i, text in enumerate(texts):
        encode_input(text, i)
    model_id = chain.deployment.model_id(model)
    fee = (await chain.get_model(model_id)).fee
    sender = to_checksum_address(sender)
    token_nonce = int(await chain.token.functions.nonces(sender).call())
    forwarder_nonce = int(await chain.forwarder.functions.nonces(sender).call())
    c = chain.deployment.contracts
    domains = Domains(chain.deployment.chain_id, c.InferaForwarder, c.JobRegistry, c.InferToken)
    return GaslessDraft(domains, sender, model_id, list(texts), fee, token_nonce, forwarder_nonce,
                        await chain.timestamp() + ttl, callback)


def _recover(typed: dict[str, Any], signature: str) -> str:
    try:
        return str(Account.recover_message(encode_typed_data(full_message=typed), signature=signature))
    except Exception:  # noqa: BLE001 - any malformed signature (bad v, s too high, ...) is just invalid
        return ""


@dataclass(frozen=True)
class VerifiedGasless:
    """A signed request whose signatures are good: the ForwardRequestData tuple executeBatch takes."""

    sender: str
    request: SignedGaslessRequest
    data: bytes

    @property
    def fee(self) -> int:
        return int(self.request.permit.value)

    def forward_request_data(self, registry: str) -> tuple[Any, ...]:
        r = self.request
        return (self.sender, to_checksum_address(registry), 0, r.gas, r.deadline, self.data,
                bytes.fromhex(r.signature[2:]))


def verify_gasless(signed: SignedGaslessRequest, domains: Domains, now: float | None = None,
                   min_ttl: int = 30) -> VerifiedGasless:
    """The checks that need no chain state, signatures first (nothing else is judged for a
    request its `from` did not sign): both signatures recover to `from` for the calldata this SDK
    encodes, the texts are submittable, the deadline leaves `min_ttl` seconds to relay, and the
    permit is for exactly the fee. Raises GaslessRejected (codes: invalid_request,
    bad_permit_signature, bad_signature, invalid_input, expired, bad_permit). A relayer also
    checks the nonces, the balance and the model's fee on chain."""
    if not is_address(signed.from_):
        raise GaslessRejected("invalid_request", f"`from` {signed.from_!r} is not an address")
    sender = to_checksum_address(signed.from_)
    fee_per_job, permit_value = int(signed.max_fee_per_job), int(signed.permit.value)
    draft = GaslessDraft(domains, sender, signed.model_id, list(signed.texts), fee_per_job, signed.permit.nonce,
                         signed.nonce, signed.deadline, signed.callback, signed.gas)
    permit = draft.permit_typed_data()
    permit["message"]["value"] = permit_value
    if _recover(permit, signed.permit.signature) != sender:
        raise GaslessRejected("bad_permit_signature", f"the permit's signature is not {sender}'s for this value, "
                                                      "nonce and deadline")
    try:
        data = submit_calldata(signed.model_id, list(signed.texts), fee_per_job, signed.callback, permit_value,
                               signed.deadline, signed.permit.signature)
    except Exception as exc:  # noqa: BLE001 - a text the ABI encoder cannot take (e.g. a lone surrogate)
        raise GaslessRejected("invalid_input", f"the request cannot be encoded: {exc}") from None
    forward = _typed(domains.forwarder_domain(), "ForwardRequest", _FORWARD_TYPE, {
        "from": sender, "to": to_checksum_address(domains.registry), "value": 0, "gas": signed.gas,
        "nonce": signed.nonce, "deadline": signed.deadline, "data": data})
    if _recover(forward, signed.signature) != sender:
        raise GaslessRejected("bad_signature", f"the request's signature is not {sender}'s for this request, "
                                               f"forwarder nonce {signed.nonce} and deadline")
    for i, text in enumerate(signed.texts):
        try:
            encode_input(text, i)
        except InferaError as exc:
            raise GaslessRejected("invalid_input", str(exc)) from None
    now = time.time() if now is None else now
    if signed.deadline < now + min_ttl:
        raise GaslessRejected("expired", f"the request's deadline {signed.deadline} has passed or leaves less "
                                         f"than {min_ttl} s to relay it (now {int(now)}); sign a new one")
    if permit_value != draft.fee:
        raise GaslessRejected("bad_permit", f"the permit is for {permit_value} wei; the fee is exactly "
                                            f"{draft.fee} wei ({len(signed.texts)} x {fee_per_job})")
    return VerifiedGasless(sender, signed, data)
