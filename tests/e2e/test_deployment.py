"""`ape run deploy` registers MiniLM with the real weights digest and the published threshold."""

from __future__ import annotations

import asyncio
import json

from infera.paths import project_root
from infera.types import Model
from infera_testing.localnet import LocalNetwork
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
