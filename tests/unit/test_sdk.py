"""SDK pieces that need no chain: deployment records, revert decoding, input validation, ABIs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak

from infera.abi import decode_revert, load_abi
from infera.client import InvalidInput, validate_inputs
from infera.deployment import (
    CONTRACTS,
    ContractAddresses,
    Deployment,
    deployment_file,
    load_deployment,
    packaged_records,
)
from infera.devnet import DEVNET_CHAIN_ID
from infera.errors import DeploymentNotFound, UnknownModel
from infera.inputs import canonical_text
from infera.paths import project_root

RECORD = {
    "network": "infera:devnet", "chain_id": 994207, "deployment_block": 3, "deployer": "0x" + "11" * 20,
    "contracts": {name: "0x" + f"{i:02x}" * 20 for i, name in enumerate(ContractAddresses.model_fields, 1)},
    "models": {"all-MiniLM-L6-v2": 1},
}


def test_deployment_round_trip_and_model_lookup(tmp_path: Path) -> None:
    deployment_file("infera:devnet", tmp_path).write_text(json.dumps(RECORD))
    d = load_deployment("infera:devnet", tmp_path)
    assert d.chain_id == 994207
    assert d.model_id("all-MiniLM-L6-v2") == 1 and d.model_id("7") == 7 and d.model_id(3) == 3
    with pytest.raises(UnknownModel, match="known: all-MiniLM-L6-v2"):
        d.model_id("gpt-5")


def test_missing_deployment_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(DeploymentNotFound, match="ape run deploy --network infera:testnet"):
        load_deployment("infera:testnet", tmp_path)


def _record_in(folder: Path, chain_id: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    deployment_file("infera:devnet", folder).write_text(json.dumps({**RECORD, "chain_id": chain_id}))


def test_records_are_looked_up_given_folder_then_env_then_checkout_then_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given, env, checkout = tmp_path / "given", tmp_path / "env", tmp_path / "checkout"
    monkeypatch.setenv("INFERA_DEPLOYMENTS_DIR", str(env))
    monkeypatch.setenv("INFERA_PROJECT_ROOT", str(checkout))
    for folder, chain_id in ((given, 1), (env, 2), (checkout / "deployments", 3)):
        _record_in(folder, chain_id)
    assert load_deployment("infera:devnet", given).chain_id == 1
    assert load_deployment("infera:devnet").chain_id == 2
    monkeypatch.delenv("INFERA_DEPLOYMENTS_DIR")
    assert load_deployment("infera:devnet", tmp_path / "empty").chain_id == 3
    monkeypatch.setenv("INFERA_PROJECT_ROOT", str(tmp_path / "no-record-here"))
    packaged = load_deployment("infera:devnet", tmp_path / "empty")
    assert packaged == Deployment.model_validate_json(
        (packaged_records() / "infera-devnet.json").read_text())
    assert (packaged.chain_id, packaged.deployment_block) == (DEVNET_CHAIN_ID, 0)


def test_a_missing_record_names_every_place_looked_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERA_DEPLOYMENTS_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("INFERA_PROJECT_ROOT", str(tmp_path / "checkout"))
    with pytest.raises(DeploymentNotFound) as caught:
        load_deployment("infera:testnet", tmp_path / "given")
    message = str(caught.value)
    for place, label in ((tmp_path / "given", "the folder given"), (tmp_path / "env", "INFERA_DEPLOYMENTS_DIR"),
                         (tmp_path / "checkout" / "deployments", "this checkout"),
                         (packaged_records(), "packaged with the SDK")):
        assert f"{place / 'infera-testnet.json'} ({label})" in message
    assert "INFERA_DEPLOYMENTS_DIR at the folder that holds the record" in message


def test_corrupt_deployment_is_reported(tmp_path: Path) -> None:
    deployment_file("infera:devnet", tmp_path).write_text('{"network": 1}')
    with pytest.raises(DeploymentNotFound, match="unreadable"):
        load_deployment("infera:devnet", tmp_path)


def test_custom_errors_decode_by_name_and_arguments() -> None:
    data = keccak(text="NodeRegistryStakeBelowMinimum(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [5, 100])
    err = decode_revert("0x" + data.hex())
    assert err is not None
    assert err.name == "NodeRegistryStakeBelowMinimum"
    assert err.args_by_name == {"have": 5, "need": 100}
    assert str(err).startswith("NodeRegistryStakeBelowMinimum(have=0.000000000000000005 INFER, "
                               "need=0.0000000000000001 INFER): ")


def test_unknown_revert_data_is_not_decoded() -> None:
    assert decode_revert("0xdeadbeef") is None
    assert decode_revert("0x") is None
    assert decode_revert(None) is None


def test_every_contract_error_has_a_unique_selector() -> None:
    selectors: dict[bytes, str] = {}
    for name in CONTRACTS:
        for entry in load_abi(name):
            if entry["type"] == "error":
                sig = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
                sel = keccak(text=sig)[:4]
                assert selectors.setdefault(sel, sig) == sig


@pytest.mark.parametrize(
    ("texts", "message"),
    [([], "no inputs"), ([""], "input 0 is empty"), (["ok", "x" * 2049], "input 1 is 2049 bytes"),
     (["é" * 1025], "2050 bytes"), ([b"bytes"], "not str"),
     (["ok", "lone \udc80 surrogate"], "input 1 is not valid Unicode")],
)
def test_invalid_inputs_are_rejected_before_any_transaction(texts: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_inputs(texts)


def test_exported_abis_match_the_build() -> None:
    build = project_root() / ".build" / "__local__.json"
    if not build.exists():
        pytest.skip("contracts not compiled (make setup compiles them)")
    result = subprocess.run([sys.executable, "toolchain/export_abi.py", "--check"], cwd=project_root(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"plain", "plain"), (b"\xff\xfe\xfd\xfc", "\ufffd" * 4), (b"nul\x00ok", "nul\x00ok"),
     ("\U0001d538".encode() * 2, "\U0001d538" * 2), (b"cut \xf0\x9d\x94", "cut \ufffd")],
)
def test_every_node_embeds_the_same_canonical_text(raw: bytes, text: str) -> None:
    """The protocol's rule for input bytes: UTF-8, each invalid sequence replaced by U+FFFD."""
    assert canonical_text(raw) == text
