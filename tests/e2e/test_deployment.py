"""`ape run deploy` registers MiniLM with the real weights digest and the published threshold, and
on a fresh devnet writes exactly the devnet record the SDK ships."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from infera.deployment import deployment_file, packaged_records
from infera.paths import project_root
from infera.types import Model
from infera_testing.localnet import NETWORK, LocalNetwork
from oracle_node.inference.embedder import minilm_path, weights_digest


async def _model(net: LocalNetwork) -> tuple[Model, str]:
    chain = await net.connect()
    try:
        model = await chain.get_model(1)
        return model, str(await chain.models.functions.nameOf(1).call())
    finally:
        await chain.close()


def test_registered_model_matches_weights_and_calibration(network: LocalNetwork) -> None:
    model, name = asyncio.run(_model(network))
    published = json.loads((project_root() / "docs/calibration/all-minilm-l6-v2.json").read_text())
    assert name == "all-MiniLM-L6-v2"
    assert model.threshold_ppm == published["threshold_ppm"]
    assert f"threshold_ppm = {published['threshold_ppm']}" in (project_root() / "docs/verification.md").read_text()
    assert model.weights_digest == weights_digest(minilm_path())
    assert (model.dimension, model.quorum, model.min_agreement) == (384, 3, 2)


def test_a_fresh_devnet_deploys_exactly_the_record_the_sdk_ships(tmp_path: Path) -> None:
    """A pip-installed SDK reads the packaged infera-devnet.json instead of a local record; that is
    right only while a fresh deployment reproduces it. When this fails after a change to
    scripts/deploy.py, copy the record it printed into sdk/infera/deployments/."""
    with LocalNetwork(tmp_path / "net") as net:
        net.start_devnet(heartbeat=False)  # no block before the deploy: its block is 0, as packaged
        net.deploy()
        written = json.loads(deployment_file(NETWORK, net.deployments_dir).read_text())
    packaged = json.loads((packaged_records() / "infera-devnet.json").read_text())
    assert written == packaged, f"a fresh deploy wrote:\n{json.dumps(written, indent=2)}"


async def _chain_facts(net: LocalNetwork) -> dict[str, object]:
    chain = await net.connect()
    try:
        assert net.deployment is not None
        addresses = net.deployment.contracts.model_dump()
        return {
            "code": {name: bytes(await chain.w3.eth.get_code(address)).hex() for name, address in addresses.items()},
            "deployment_block_hash": bytes((await chain.w3.eth.get_block(net.deployment.deployment_block))["hash"]).hex(),
            "deployer_nonce": await chain.w3.eth.get_transaction_count(net.deployment.deployer),
            "model": await chain.get_model(1),
        }
    finally:
        await chain.close()


def test_a_network_started_from_the_saved_deployment_is_that_deployment(tmp_path: Path) -> None:
    """Every end-to-end test's network starts from one deploy's dumped state (support/network.py):
    the same code at every address, the same blocks and the same registered model as the devnet
    that was deployed, and it mines on from there."""
    with LocalNetwork(tmp_path / "deployed") as deployed:
        deployed.start_devnet()
        deployed.deploy()
        facts = asyncio.run(_chain_facts(deployed))
        saved = deployed.save_deployed(tmp_path / "saved")
    with LocalNetwork(tmp_path / "restored") as restored:
        restored.start_deployed(saved)
        assert restored.deployment == deployed.deployment
        assert asyncio.run(_chain_facts(restored)) == facts
        codes = facts["code"]
        assert isinstance(codes, dict) and all(codes.values())
