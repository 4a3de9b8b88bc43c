"""Typed contract errors without a chain: one class per ABI error with its selector and typed
arguments, hints, decoding of real encodings, the checked-in stub, and the translation of raw
web3/aiohttp exceptions at the SDK's boundary."""

from __future__ import annotations

import json
import pickle
import re
from typing import Any

import aiohttp
import pytest
from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError

import infera.contract_errors as contract_errors
from infera._contract_errors import ErrorSpec, error_specs, render_stub
from infera.abi import ABI_NAMES, load_abi, load_error_notes
from infera.boundary import translated
from infera.contract_errors import (
    ERC20InsufficientAllowance,
    ERC2771ForwarderInvalidSigner,
    JobRegistryDeadlinePassed,
    NodeRegistryStakeBelowMinimum,
    decode_custom_error,
    error_class,
    error_classes,
    revert_error,
)
from infera.errors import (
    ContractPanic,
    ContractRequireError,
    ContractRevert,
    InferaError,
    InsufficientStake,
    RpcRequestError,
    RpcUnreachable,
    TransactionFailed,
    UnknownRevert,
)
from infera.paths import ABI_DIR
from infera.revert_hints import HINTS

ONE = 10**18
ALICE = "0x" + "ab" * 20

# The errors users meet, which must each say what to do in their own words (not the NatSpec).
LISTED = [
    "NodeRegistryStakeBelowMinimum", "NodeRegistryInsufficientStake", "NodeRegistryNotRegistered",
    "NodeRegistryNothingToWithdraw", "NodeRegistryEjectionCooldown", "NodeRegistryDrawsDue",
    "NodeRegistryUnknownModel", "ModelRegistryUnknownModel", "JobRegistryFeeAboveMax", "JobRegistryModelInactive",
    "JobRegistryNotEnoughNodes", "JobRegistryUnknownJob", "JobRegistryDeadlinePassed", "JobRegistryNotAssigned",
    "JobRegistryWrongStatus", "JobRegistryInvalidInput", "JobRegistryInvalidBatch", "ERC20InsufficientBalance",
    "ERC20InsufficientAllowance", "ERC2612ExpiredSignature", "ERC2612InvalidSigner",
    "ERC2771ForwarderExpiredRequest", "ERC2771ForwarderInvalidSigner", "InvalidAccountNonce",
    "AccessControlUnauthorizedAccount", "RewardsNothingToClaim",
]


def abi_errors() -> dict[str, dict[str, Any]]:
    """Every error entry of every shipped ABI, by signature, read straight from the JSON files."""
    found: dict[str, dict[str, Any]] = {}
    for name in ABI_NAMES:
        for entry in json.loads((ABI_DIR / f"{name}.json").read_text()):
            if entry["type"] == "error":
                found[f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"] = entry
    return found


def test_every_abi_error_is_a_class_with_its_selector_and_arguments() -> None:
    errors = abi_errors()
    assert len(errors) > 80  # our contracts' errors and OpenZeppelin's
    for signature, entry in errors.items():
        cls = getattr(contract_errors, entry["name"])
        assert cls is error_class(entry["name"]) and entry["name"] in contract_errors.__all__
        assert cls.__name__ == entry["name"] and cls.__module__ == "infera.contract_errors"
        assert issubclass(cls, ContractRevert) and issubclass(cls, InferaError)
        assert cls.selector == keccak(text=signature)[:4] and cls.signature == signature
        assert [f.abi_name for f in cls.spec.fields] == [i["name"] for i in entry["inputs"]]
    assert set(error_classes()) == {e["name"] for e in errors.values()}


def test_an_error_two_contracts_declare_is_one_class() -> None:
    declared_by = [n for n in ABI_NAMES if any(e.get("name") == "AccessControlUnauthorizedAccount" for e in load_abi(n))]
    assert len(declared_by) > 1
    assert error_class("AccessControlUnauthorizedAccount").spec.contracts == tuple(declared_by)


def test_two_errors_of_one_name_are_refused() -> None:
    abis = {"A": [{"type": "error", "name": "Clash", "inputs": [{"name": "x", "type": "uint256"}]}],
            "B": [{"type": "error", "name": "Clash", "inputs": [{"name": "x", "type": "address"}]}]}
    with pytest.raises(RuntimeError, match="Clash"):
        error_specs(abis, {})


def test_the_checked_in_stub_is_current() -> None:
    stub = ABI_DIR.parent / "contract_errors.pyi"
    specs = error_specs({name: load_abi(name) for name in ABI_NAMES}, load_error_notes())
    assert stub.read_text() == render_stub(specs), "run `python toolchain/export_abi.py`"


def test_listed_errors_have_their_own_hint_and_every_other_a_notice() -> None:
    assert not set(LISTED) - set(HINTS), "an error users meet lost its hint"
    assert not set(HINTS) - set(error_classes()), "a hint for an error no ABI declares"
    for name, cls in error_classes().items():
        spec: ErrorSpec = cls.spec
        assert name in HINTS or spec.notice, f"{name} has neither a hint nor a NatSpec notice"


def test_messages_read_as_people_read_them() -> None:
    low = NodeRegistryStakeBelowMinimum(have=50 * ONE, need=100 * ONE)
    assert str(low).startswith("NodeRegistryStakeBelowMinimum(have=50 INFER, need=100 INFER): ")
    assert "oracle-node register --stake 100" in str(low) and "oracle-node add-stake 50" in str(low)
    assert isinstance(low, InsufficientStake)  # the same refusal as the SDK's own check
    assert low.name == "NodeRegistryStakeBelowMinimum" and low.args_by_name == {"have": 50 * ONE, "need": 100 * ONE}

    allowance = ERC20InsufficientAllowance(spender=ALICE, allowance=ONE // 2, needed=3 * ONE)
    assert to_checksum_address(ALICE) in str(allowance) and ALICE not in str(allowance)
    assert "allowance=0.5 INFER, needed=3 INFER" in str(allowance) and "approve" in str(allowance)

    late = JobRegistryDeadlinePassed(jobId=7, deadline=1_750_000_000)
    assert "deadline=2025-06-15T15:06:40Z" in str(late) and "too late" in str(late)

    signer = ERC2771ForwarderInvalidSigner(signer=ALICE, from_="0x" + "cd" * 20)  # `from` is a keyword
    assert signer.from_ == to_checksum_address("0x" + "cd" * 20) and signer.args_by_name["from"] == signer.from_


def test_real_encodings_decode_to_their_class() -> None:
    data = keccak(text="JobRegistryFeeAboveMax(uint96,uint96)")[:4] + encode(["uint96", "uint96"], [2 * ONE, ONE])
    err = decode_custom_error("0x" + data.hex())
    assert type(err).__name__ == "JobRegistryFeeAboveMax" and err is not None
    assert (err.fee, err.maxFee, err.raw) == (2 * ONE, ONE, "0x" + data.hex())  # type: ignore[attr-defined]
    assert "fee=2 INFER, maxFee=1 INFER" in str(err) and "quote the fee again" in str(err)
    assert decode_custom_error(data) is not None  # bytes as well as hex text
    truncated = decode_custom_error(data[:10])
    assert truncated is not None and truncated.args_by_name == {} and "could not be decoded" in str(truncated)


def test_panic_require_and_unknown_reverts_get_classes() -> None:
    panic = revert_error("0x4e487b71" + encode(["uint256"], [0x11]).hex())
    assert isinstance(panic, ContractPanic) and panic.code == 0x11 and "overflow" in str(panic)
    required = revert_error("0x08c379a0" + encode(["string"], ["no"]).hex())
    assert isinstance(required, ContractRequireError) and required.reason == "no"
    for data in (None, "0x", "0xdeadbeef"):
        unknown = revert_error(data)
        assert isinstance(unknown, UnknownRevert) and isinstance(unknown, TransactionFailed)
    # Not ContractRevert: code that catches that for "the contract refused" keeps its meaning.
    assert not isinstance(panic, ContractRevert) and not isinstance(required, ContractRevert)


def test_errors_survive_pickling_and_keep_the_old_constructor() -> None:
    err = NodeRegistryStakeBelowMinimum(have=1, need=2)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is NodeRegistryStakeBelowMinimum and back.args_by_name == err.args_by_name
    assert str(back) == str(err) and back.raw == err.raw
    old = ContractRevert("SomeError", {"a": 1}, "0x")
    assert str(old) == "SomeError(a=1)" and old.name == "SomeError"
    with pytest.raises(TypeError, match="takes"):
        NodeRegistryStakeBelowMinimum(have=1)  # type: ignore[call-arg]


# ------------------------------------------------------------------ property: encode -> decode
def _values(abi_type: str) -> st.SearchStrategy[Any]:
    if abi_type.endswith("]"):
        return st.lists(_values(abi_type[:abi_type.rindex("[")]), max_size=3).map(tuple)
    if abi_type.startswith("uint"):
        return st.integers(0, 2 ** int(abi_type[4:] or 256) - 1)
    if abi_type.startswith("int"):
        bits = int(abi_type[3:] or 256)
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if abi_type == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))
    if abi_type == "bool":
        return st.booleans()
    if abi_type == "string":
        return st.text(max_size=40)
    if abi_type == "bytes":
        return st.binary(max_size=40)
    return st.binary(min_size=int(abi_type[5:]), max_size=int(abi_type[5:]))


@st.composite
def encoded_errors(draw: st.DrawFn) -> tuple[str, dict[str, Any], bytes]:
    name = draw(st.sampled_from(sorted(error_classes())))
    fields = error_class(name).spec.fields
    values = {f.abi_name: draw(_values(f.abi_type)) for f in fields}
    data = error_class(name).selector + encode([f.abi_type for f in fields], [values[f.abi_name] for f in fields])
    return name, values, data


HEX_BLOB = re.compile(r"0x[0-9a-fA-F]+")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoded_errors())
def test_any_encoded_error_decodes_to_its_class_with_a_readable_message(case: tuple[str, dict[str, Any], bytes]) -> None:
    name, values, data = case
    err = decode_custom_error(data)
    assert err is not None and type(err) is error_class(name)
    assert err.args_by_name == values
    for f in err.spec.fields:
        assert getattr(err, f.attr) == values[f.abi_name]
    message = str(err)
    assert message.startswith(f"{name}(") and len(message) > len(name) + 4
    # Hex appears only as addresses and bytes arguments, never as the raw revert data. (A string
    # argument is quoted as it is, whatever it holds.)
    allowed = set()
    for value in values.values():
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, bytes):
                allowed.add("0x" + v.hex())
            elif isinstance(v, str) and v.startswith("0x") and len(v) == 42:
                allowed.add(v)
            elif isinstance(v, str):
                message = message.replace(repr(v), "'…'")
    assert all(blob in allowed for blob in HEX_BLOB.findall(message)), message


# ------------------------------------------------------------------ the boundary
def test_raw_exceptions_are_translated_at_the_boundary() -> None:
    data = "0x" + NodeRegistryStakeBelowMinimum(have=1, need=2).raw[2:]
    assert isinstance(translated(ContractLogicError("execution reverted", data=data), "x"), NodeRegistryStakeBelowMinimum)
    assert isinstance(translated(ContractLogicError("execution reverted", data=None), "x"), UnknownRevert)
    assert isinstance(translated(TimeExhausted("not mined"), "x"), TransactionFailed)
    refused = translated(Web3RPCError("x", rpc_response={"jsonrpc": "2.0", "id": 1, "error": {
        "code": -32000, "message": "insufficient funds for gas * price + value"}}), "Chain.send")
    assert isinstance(refused, RpcRequestError) and refused.code == -32000 and "send it some ETH" in str(refused)
    assert isinstance(translated(aiohttp.ServerDisconnectedError(), "x"), RpcUnreachable)
    assert isinstance(translated(TimeoutError(), "x"), RpcUnreachable)
    assert translated(KeyError("a bug of ours"), "x") is None  # bugs are not dressed up
    assert translated(OSError("a file"), "x") is None  # a file's error is not the RPC's
