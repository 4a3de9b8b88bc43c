"""ModelRegistry: registration, validation of every parameter, updates, activation."""

from __future__ import annotations

from typing import Any

import ape
import pytest

from contract_helpers import FEE, THRESHOLD_PPM, model_params


def test_registered_model_reads_back(models: Any) -> None:
    m = models.getModel(1)
    assert m.dimension == 384
    assert m.thresholdPpm == THRESHOLD_PPM
    assert (m.quorum, m.minAgreement) == (3, 2)
    assert m.fee == FEE
    assert m.active
    assert models.nameOf(1) == "all-MiniLM-L6-v2"
    assert models.exists(1) and not models.exists(0) and not models.exists(2)
    assert models.modelCount() == 1


def test_register_emits_configured_and_activation(models: Any, deployer: Any) -> None:
    tx = models.registerModel(model_params(name="other", quorum=5, min_agreement=3), sender=deployer)
    configured = tx.decode_logs(models.ModelConfigured)[0]
    assert (configured.modelId, configured.name, configured.quorum, configured.minAgreement) == (2, "other", 5, 3)
    assert tx.decode_logs(models.ModelActivationChanged)[0].active


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"threshold": 0}, "ModelRegistryInvalidThreshold"),
        ({"threshold": 1_000_001}, "ModelRegistryInvalidThreshold"),
        ({"quorum": 0, "min_agreement": 0}, "ModelRegistryInvalidQuorum"),
        ({"quorum": 17, "min_agreement": 9}, "ModelRegistryInvalidQuorum"),
        ({"quorum": 3, "min_agreement": 4}, "ModelRegistryInvalidQuorum"),
        ({"quorum": 4, "min_agreement": 2}, "ModelRegistryInvalidQuorum"),  # not a majority
        ({"dimension": 0}, "ModelRegistryInvalidDimension"),
        ({"dimension": 100}, "ModelRegistryInvalidDimension"),
        ({"dimension": 4128}, "ModelRegistryInvalidDimension"),
        ({"quantization": 0}, "ModelRegistryUnsupportedQuantization"),
        ({"commit_window": 0}, "ModelRegistryInvalidWindow"),
        ({"reveal_window": 0}, "ModelRegistryInvalidWindow"),
        ({"commit_window": 7 * 86_400 + 1}, "ModelRegistryInvalidWindow"),
        ({"reveal_window": 7 * 86_400 + 1}, "ModelRegistryInvalidWindow"),
        ({"digest": b"\x00" * 32}, "ModelRegistryZeroDigest"),
        ({"name": ""}, "ModelRegistryEmptyName"),
    ],
)
def test_invalid_parameters_revert(models: Any, deployer: Any, overrides: dict[str, Any], error: str) -> None:
    with ape.reverts(getattr(models, error)):
        models.registerModel(model_params(**overrides), sender=deployer)


def test_model_ids_stop_at_max_models(models: Any, deployer: Any, chain: Any) -> None:
    """JobRegistry stores a job's model id in 16 bits, so the registry refuses a model past
    MAX_MODELS. Registering 65,535 models would take too long: the count is moved to the last
    free id through anvil's storage cheat (its slot is the one that registering bumps by one)."""
    def slots() -> list[int]:
        return [int(chain.provider.make_request("eth_getStorageAt", [models.address, hex(i), "latest"]), 16)
                for i in range(8)]

    before = slots()
    models.registerModel(model_params(name="second"), sender=deployer)
    [slot] = [i for i, (a, b) in enumerate(zip(before, slots(), strict=True)) if b == a + 1]
    last = models.MAX_MODELS()
    assert last == 2**16 - 1
    chain.provider.make_request("anvil_setStorageAt", [models.address, hex(slot), "0x" + (last - 1).to_bytes(32, "big").hex()])
    tx = models.registerModel(model_params(name="last"), sender=deployer)
    assert tx.decode_logs(models.ModelConfigured)[0].modelId == last
    with ape.reverts(models.ModelRegistryFull):
        models.registerModel(model_params(name="one too many"), sender=deployer)


def test_only_model_admin_writes(models: Any, accounts: Any) -> None:
    outsider = accounts[5]
    with ape.reverts(models.AccessControlUnauthorizedAccount):
        models.registerModel(model_params(), sender=outsider)
    with ape.reverts(models.AccessControlUnauthorizedAccount):
        models.updateModel(1, model_params(), sender=outsider)
    with ape.reverts(models.AccessControlUnauthorizedAccount):
        models.setActive(1, False, sender=outsider)


def test_update_changes_parameters(models: Any, deployer: Any) -> None:
    tx = models.updateModel(1, model_params(threshold=950_000, fee=2 * FEE), sender=deployer)
    assert tx.decode_logs(models.ModelConfigured)[0].thresholdPpm == 950_000
    assert models.getModel(1).fee == 2 * FEE
    assert models.getModel(1).active


def test_set_active_toggles(models: Any, deployer: Any) -> None:
    tx = models.setActive(1, False, sender=deployer)
    assert not tx.decode_logs(models.ModelActivationChanged)[0].active
    assert not models.getModel(1).active


@pytest.mark.parametrize("model_id", [0, 2, 2**32 - 1])
def test_unknown_model_reverts(models: Any, deployer: Any, model_id: int) -> None:
    with ape.reverts(models.ModelRegistryUnknownModel):
        models.getModel(model_id)
    with ape.reverts(models.ModelRegistryUnknownModel):
        models.nameOf(model_id)
    with ape.reverts(models.ModelRegistryUnknownModel):
        models.updateModel(model_id, model_params(), sender=deployer)
    with ape.reverts(models.ModelRegistryUnknownModel):
        models.setActive(model_id, True, sender=deployer)
