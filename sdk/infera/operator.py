"""Node-operator calls: register and stake (or top up), unstake, withdraw, status."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from infera.chain import Chain
from infera.errors import InsufficientBalance, InsufficientStake

ONE = 10**18


@dataclass(frozen=True)
class NodeStatus:
    node: str
    registered: bool
    stake_infer: float
    unbonding_infer: float
    capacity: int
    open_jobs: int
    reputation: float
    selection_weight: float
    balance_infer: float
    pending_rewards_infer: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def register_or_top_up(chain: Chain, stake: int, model_ids: list[int], capacity: int) -> NodeStatus:
    """Make the signer a registered node with at least ``stake`` wei of INFER bonded."""
    me = chain.address
    info = await chain.get_node(me)
    minimum = int(await chain.nodes.functions.minStake().call())
    if stake < minimum:
        raise InsufficientStake(f"a stake of {stake / ONE:g} INFER is below the minimum of {minimum / ONE:g}")
    needed = stake - info.stake if info.registered else stake
    if needed > 0:
        balance = await chain.balance_of(me)
        if balance < needed:
            raise InsufficientBalance(f"{me} holds {balance / ONE:g} INFER, needs {needed / ONE:g} to stake")
        await chain.transact(chain.token.functions.approve(chain.nodes.address, needed))
        if info.registered:
            await chain.transact_node_op(chain.nodes.functions.addStake(needed))
        else:
            await chain.transact_node_op(chain.nodes.functions.register(stake, model_ids, capacity))
    return await node_status(chain)


async def claimable_epochs(chain: Chain, address: str, lookback: int = 60) -> list[int]:
    """Closed epochs (the last ``lookback``) in which ``address`` earned points and has not claimed."""
    current = int(await chain.rewards.functions.currentEpoch().call())
    epochs = []
    for epoch in range(max(0, current - lookback), current):
        earned = int(await chain.rewards.functions.pointsOf(epoch, address).call())
        if earned and not await chain.rewards.functions.claimed(epoch, address).call():
            epochs.append(epoch)
    return epochs


async def pending_rewards(chain: Chain, address: str) -> int:
    """INFER the node can claim now, in wei."""
    epochs = await claimable_epochs(chain, address)
    return int(await chain.rewards.functions.pendingRewards(address, epochs).call()) if epochs else 0


async def claim_rewards(chain: Chain) -> int:
    """Claim every closed epoch with unclaimed points; returns INFER (wei) minted."""
    epochs = await claimable_epochs(chain, chain.address)
    if not epochs:
        return 0
    amount = int(await chain.rewards.functions.pendingRewards(chain.address, epochs).call())
    if amount:
        await chain.transact(chain.rewards.functions.claim(epochs))
    return amount


async def node_status(chain: Chain, address: str | None = None) -> NodeStatus:
    info = await chain.get_node(address or chain.address)
    return NodeStatus(
        node=info.address,
        registered=info.registered,
        stake_infer=info.stake / ONE,
        unbonding_infer=info.unbonding / ONE,
        capacity=info.capacity,
        open_jobs=info.open_jobs,
        reputation=info.reputation / 10_000,
        selection_weight=info.listed_weight / ONE,
        balance_infer=await chain.balance_of(info.address) / ONE,
        pending_rewards_infer=await pending_rewards(chain, info.address) / ONE,
    )
