"""Node-operator calls: register and stake (or top up), add stake, change service, unstake,
withdraw, reinstate, claim, status.

Amounts are integers in wei (1 INFER = 10**18 wei); `parse_infer` turns an operator's decimal
text into wei exactly and `format_infer` turns wei back into exact decimal text. Every call that
sends a transaction first checks what it can read from the chain and raises one of the SDK's
typed errors, with a message that says what to do, instead of a bare revert; what the chain
refuses anyway arrives as the contract error's class (infera.contract_errors), and no web3 or
aiohttp exception leaves a public function (infera.boundary).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, Inexact, InvalidOperation, localcontext

from eth_utils.address import to_checksum_address

from infera.boundary import boundary
from infera.chain import Chain
from infera.errors import (
    EjectionCooldown,
    InsufficientBalance,
    InsufficientStake,
    InvalidAmount,
    InvalidService,
    NodeNotRegistered,
    NotEjected,
    NothingToWithdraw,
    UnbondingNotOver,
)
from infera.types import NodeInfo
from infera.units import ONE as ONE
from infera.units import format_infer as format_infer
from infera.units import utc_iso as utc_iso

DECIMALS = 18
MAX_UINT96 = 2**96 - 1  # NodeRegistry keeps stakes as uint96
MAX_CAPACITY = 2**16 - 1  # uint16
MAX_MODELS_PER_NODE = 8
REP_ONE = 10_000


# ------------------------------------------------------------------ amounts
def parse_infer(text: str) -> int:
    """``"150.5"`` -> 150.5 * 10**18 wei, exactly (decimal arithmetic, never float). Refuses
    what no node operation accepts: not a number, NaN or infinity, zero or negative, more than 18
    decimals, or more than a uint96 holds."""
    raw = text.strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidAmount(f"{text!r} is not an amount of INFER; write a decimal number such as 150.5") from None
    if not value.is_finite():
        raise InvalidAmount(f"{text!r} is not a finite amount of INFER; write a decimal number such as 150.5")
    if value <= 0:
        raise InvalidAmount(f"{text!r} INFER: the amount must be more than 0")
    with localcontext() as ctx:
        ctx.prec = 200  # exact for any amount a uint96 can hold, and far beyond
        ctx.traps[Inexact] = True
        try:
            scaled = value.scaleb(DECIMALS)
        except Inexact:
            raise InvalidAmount(f"{text!r} INFER is too large") from None
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{text!r} INFER has more than {DECIMALS} decimals; INFER has {DECIMALS}")
    wei = int(scaled)
    if wei > MAX_UINT96:
        raise InvalidAmount(f"{text!r} INFER is more than any stake can be ({format_infer(MAX_UINT96)})")
    return wei


# ------------------------------------------------------------------- status
@dataclass(frozen=True)
class NodeStatus:
    """A node's standing, as `oracle-node status` prints it. Amounts come twice: exact decimal
    text in INFER (or ETH) and integer wei; times are UTC ISO 8601 (null when not applicable)."""

    node: str
    registered: bool
    chain_time: str
    stake_infer: str
    stake_wei: int
    min_stake_infer: str
    unbonding_infer: str
    unbonding_wei: int
    unbonding_until: str | None
    withdrawable: bool
    reputation: float
    ejected: bool
    ejected_since: str | None
    reinstate_after: str | None
    models: list[int]
    capacity: int
    open_jobs: int
    selection_weight_infer: str
    """Stake counted in committee draws, min(stake, cap), while the node is eligible; 0 while it
    is full, ejected or below the minimum. A draw keeps a pick with probability reputation / 2."""
    pending_rewards_infer: str
    pending_rewards_wei: int
    balance_infer: str
    balance_wei: int
    eth_balance: str
    eth_balance_wei: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@boundary
async def node_status(chain: Chain, address: str | None = None) -> NodeStatus:
    info = await chain.get_node(address or chain.address)
    nodes = chain.nodes.functions
    now = await chain.timestamp()
    minimum = int(await nodes.minStake().call())
    threshold = int(await nodes.ejectionThreshold().call())
    unbonding_period = int(await nodes.unbondingPeriod().call())
    ejected = info.registered and info.reputation < threshold
    served = [int(m) for m in await nodes.modelsOf(info.address).call()] if info.registered else []
    pending = await pending_rewards(chain, info.address)
    balance = await chain.balance_of(info.address)
    eth = int(await chain.w3.eth.get_balance(to_checksum_address(info.address)))
    return NodeStatus(
        node=info.address,
        registered=info.registered,
        chain_time=utc_iso(now),
        stake_infer=format_infer(info.stake),
        stake_wei=info.stake,
        min_stake_infer=format_infer(minimum),
        unbonding_infer=format_infer(info.unbonding),
        unbonding_wei=info.unbonding,
        unbonding_until=utc_iso(info.unbonding_until) if info.unbonding else None,
        withdrawable=info.unbonding > 0 and now >= info.unbonding_until,
        reputation=info.reputation / REP_ONE,
        ejected=ejected,
        ejected_since=utc_iso(info.ejected_at) if ejected else None,
        reinstate_after=utc_iso(info.ejected_at + unbonding_period) if ejected else None,
        models=served,
        capacity=info.capacity,
        open_jobs=info.open_jobs,
        selection_weight_infer=format_infer(info.listed_weight),
        pending_rewards_infer=format_infer(pending),
        pending_rewards_wei=pending,
        balance_infer=format_infer(balance),
        balance_wei=balance,
        eth_balance=format_infer(eth),
        eth_balance_wei=eth,
    )


# ------------------------------------------------------------------ checks
async def _registered(chain: Chain) -> NodeInfo:
    info = await chain.get_node(chain.address)
    if not info.registered:
        raise NodeNotRegistered(
            f"{chain.address} is not a registered node: register it first (oracle-node register --stake N)"
        )
    return info


async def _require_gas(chain: Chain) -> None:
    if int(await chain.w3.eth.get_balance(chain.address)) == 0:
        raise InsufficientBalance(f"{chain.address} holds no ETH to pay for gas; send it some ETH first")


async def _require_infer(chain: Chain, amount: int, what: str) -> None:
    balance = await chain.balance_of(chain.address)
    if balance < amount:
        raise InsufficientBalance(
            f"{chain.address} holds {format_infer(balance)} INFER, needs {format_infer(amount)} to {what}; "
            "fund it with INFER first"
        )


async def _check_service(chain: Chain, model_ids: list[int], capacity: int) -> None:
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidService(f"capacity {capacity} is out of range: give 1 to {MAX_CAPACITY} jobs at once")
    if not 1 <= len(model_ids) <= MAX_MODELS_PER_NODE or len(set(model_ids)) != len(model_ids):
        raise InvalidService(
            f"model list {model_ids} is invalid: serve 1 to {MAX_MODELS_PER_NODE} models, each listed once"
        )
    for model_id in model_ids:
        if not await chain.models.functions.exists(model_id).call():
            raise InvalidService(f"model {model_id} is not in the model registry; serve registered models only")


# -------------------------------------------------------------- operations
@boundary
async def register_or_top_up(chain: Chain, stake: int, model_ids: list[int], capacity: int) -> NodeStatus:
    """Make the signer a registered node with at least ``stake`` wei of INFER bonded (a
    registered node's stake is topped up to ``stake``; its service is left as it is)."""
    me = chain.address
    info = await chain.get_node(me)
    minimum = int(await chain.nodes.functions.minStake().call())
    if stake < minimum:
        raise InsufficientStake(
            f"a stake of {format_infer(stake)} INFER is below the minimum of {format_infer(minimum)}; "
            f"stake at least {format_infer(minimum)}"
        )
    if not info.registered:
        await _check_service(chain, model_ids, capacity)
    needed = stake - info.stake if info.registered else stake
    if needed > 0:
        await _require_infer(chain, needed, "stake")
        await _require_gas(chain)
        await chain.transact(chain.token.functions.approve(chain.nodes.address, needed))
        if info.registered:
            await chain.transact_node_op(chain.nodes.functions.addStake(needed))
        else:
            await chain.transact_node_op(chain.nodes.functions.register(stake, model_ids, capacity))
    return await node_status(chain)


@boundary
async def add_stake(chain: Chain, amount: int) -> NodeStatus:
    """Bond ``amount`` wei more INFER."""
    if amount <= 0:
        raise InvalidAmount("the amount to add must be more than 0 INFER")
    info = await _registered(chain)
    if info.stake + amount > MAX_UINT96:
        raise InvalidAmount(f"a stake of {format_infer(info.stake + amount)} INFER is more than a uint96 holds")
    await _require_infer(chain, amount, "add to the stake")
    await _require_gas(chain)
    await chain.transact(chain.token.functions.approve(chain.nodes.address, amount))
    await chain.transact_node_op(chain.nodes.functions.addStake(amount))
    return await node_status(chain)


@boundary
async def update_service(chain: Chain, capacity: int, model_ids: list[int] | None = None) -> NodeStatus:
    """Set the node's capacity and, when ``model_ids`` is given, the models it serves (else the
    models it serves now are kept). Open jobs are unaffected."""
    await _registered(chain)
    if model_ids is None:
        model_ids = [int(m) for m in await chain.nodes.functions.modelsOf(chain.address).call()]
    await _check_service(chain, model_ids, capacity)
    await _require_gas(chain)
    await chain.transact_node_op(chain.nodes.functions.updateService(model_ids, capacity))
    return await node_status(chain)


@boundary
async def request_unstake(chain: Chain, amount: int) -> NodeStatus:
    """Move ``amount`` wei of bonded stake into unbonding. What stays bonded must be 0 (leaving)
    or at least the minimum stake; each request restarts the clock of everything unbonding."""
    if amount <= 0:
        raise InvalidAmount("the amount to unstake must be more than 0 INFER")
    info = await _registered(chain)
    if amount > info.stake:
        raise InsufficientStake(
            f"cannot unstake {format_infer(amount)} INFER: only {format_infer(info.stake)} INFER is staked"
        )
    minimum = int(await chain.nodes.functions.minStake().call())
    remaining = info.stake - amount
    if 0 < remaining < minimum:
        raise InsufficientStake(
            f"unstaking {format_infer(amount)} INFER would leave {format_infer(remaining)}, below the minimum of "
            f"{format_infer(minimum)}: unstake at most {format_infer(max(info.stake - minimum, 0))}, "
            f"or all {format_infer(info.stake)} to leave"
        )
    await _require_gas(chain)
    await chain.transact_node_op(chain.nodes.functions.requestUnstake(amount))
    return await node_status(chain)


@boundary
async def withdraw(chain: Chain) -> int:
    """Withdraw all unbonded stake once its unbonding period has ended; returns the wei withdrawn."""
    info = await _registered(chain)
    if info.unbonding == 0:
        raise NothingToWithdraw("nothing is unbonding: request it first (oracle-node unstake AMOUNT)")
    now = await chain.timestamp()
    if now < info.unbonding_until:
        raise UnbondingNotOver(
            f"{format_infer(info.unbonding)} INFER unbonding until {utc_iso(info.unbonding_until)}; "
            "withdraw after that"
        )
    await _require_gas(chain)
    await chain.transact_node_op(chain.nodes.functions.withdraw())
    return info.unbonding


@boundary
async def reinstate(chain: Chain) -> NodeStatus:
    """Bring an ejected node back on probation, once one unbonding period has passed since its
    ejection."""
    info = await _registered(chain)
    nodes = chain.nodes.functions
    threshold = int(await nodes.ejectionThreshold().call())
    if info.reputation >= threshold:
        raise NotEjected(
            f"{chain.address} is not ejected (reputation {info.reputation / REP_ONE:g}, the ejection line is "
            f"{threshold / REP_ONE:g}): there is nothing to reinstate"
        )
    until = info.ejected_at + int(await nodes.unbondingPeriod().call())
    if await chain.timestamp() < until:
        raise EjectionCooldown(
            f"{chain.address} was ejected at {utc_iso(info.ejected_at)}; reinstate after {utc_iso(until)}"
        )
    await _require_gas(chain)
    await chain.transact_node_op(nodes.reinstate())
    return await node_status(chain)


# ------------------------------------------------------------------ rewards
@boundary
async def claimable_epochs(chain: Chain, address: str, lookback: int = 60) -> list[int]:
    """Closed epochs (the last ``lookback``) in which ``address`` earned points and has not claimed."""
    current = int(await chain.rewards.functions.currentEpoch().call())
    epochs = []
    for epoch in range(max(0, current - lookback), current):
        earned = int(await chain.rewards.functions.pointsOf(epoch, address).call())
        if earned and not await chain.rewards.functions.claimed(epoch, address).call():
            epochs.append(epoch)
    return epochs


@boundary
async def pending_rewards(chain: Chain, address: str) -> int:
    """INFER the node can claim now, in wei."""
    epochs = await claimable_epochs(chain, address)
    return int(await chain.rewards.functions.pendingRewards(address, epochs).call()) if epochs else 0


@boundary
async def claim_rewards(chain: Chain) -> int:
    """Claim every closed epoch with unclaimed points; returns INFER (wei) minted."""
    epochs = await claimable_epochs(chain, chain.address)
    if not epochs:
        return 0
    amount = int(await chain.rewards.functions.pendingRewards(chain.address, epochs).call())
    if amount:
        await _require_gas(chain)
        await chain.transact(chain.rewards.functions.claim(epochs))
    return amount
