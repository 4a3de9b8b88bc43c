"""Loan-risk monitor: reads LendingPool's events, embeds each requested loan's description
through the network, flags the ones nearest the verified "risky" prototype through the
adjuster role (`flagRisk(loanId, scorePpm)`, which raises the collateral the loan needs), and
learns from what happened to each loan (LoanRepaid: it was sound; LoanDefaulted: it was risky).

    python -m infera.agents.examples.loans --demo
    python -m infera.agents.examples.loans --pool 0x..   # a deployment; the key must be an adjuster
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from web3.contract import AsyncContract
from web3.types import EventData

from infera.agents import (
    Action,
    Agent,
    AgentSettings,
    Budget,
    ChainEventPerceiver,
    ContractCall,
    Decision,
    Memory,
    Perception,
    Reporter,
    VerifiedEmbedder,
    VerifiedVector,
)
from infera.agents.perceivers import EventMapper
from infera.chain import Chain
from infera.client import InferaClient
from infera.vectors import PPM

if TYPE_CHECKING:
    from infera_testing.localnet import LocalNetwork

SEEDS: dict[str, list[str]] = {
    "risky": ["Unsecured loan to cover gambling debts, borrower has no income",
              "Emergency cash to pay off several overdue payday loans",
              "Leverage to buy a volatile memecoin before it moons"],
    "sound": ["Mortgage refinance for a salaried teacher with a long credit history",
              "Equipment loan for an established bakery with steady revenue",
              "Car loan for a nurse with a stable job and a down payment"],
}
THRESHOLD = 0.25
REQUESTS = [
    ("Working capital for a profitable family farm with ten years of accounts", 1_000),
    ("Borrowing to repay a casino marker before the collectors call", 500),
    ("Student loan for a medical degree, co-signed by employed parents", 800),
    ("All-in bet on leveraged crypto futures, I lost my job last month", 2_000),
]


def loan_mapper(source: str) -> EventMapper:
    def mapper(event: str, entry: EventData) -> Perception | None:
        args, key = entry["args"], f"{bytes(entry['transactionHash']).hex()}:{entry['logIndex']}"
        subject = f"loan #{args['loanId']}"
        if event == "LoanRequested":
            return Perception(source, key, subject, text=str(args["description"]),
                              data={"loan_id": int(args["loanId"]), "amount": int(args["amount"])})
        if event == "LoanRepaid":
            return Perception(source, key, subject, truth="sound")
        if event == "LoanDefaulted":
            return Perception(source, key, subject, truth="risky")
        return None

    return mapper


class FlagRisky:
    """Behaviour: a loan labelled risky is flagged with its cosine to the risky prototype."""

    def __init__(self, chain: Chain, pool: AsyncContract) -> None:
        self.chain = chain
        self.pool = pool

    def plan(self, perception: Perception, decision: Decision, vector: VerifiedVector) -> Sequence[Action]:
        if decision.label != "risky":
            return []
        loan_id = int(perception.data["loan_id"])
        score = max(1, min(PPM, round(decision.score * PPM)))
        return [ContractCall(self.chain, self.pool.functions.flagRisk(loan_id, score),
                             f"LendingPool.flagRisk(loan {loan_id}, {score / PPM:.3f})")]


def loan_agent(client: InferaClient, pool: AsyncContract, from_block: int, memory: Memory, budget: Budget,
               settings: AgentSettings, report: Reporter | None = None) -> Agent:
    mapper = loan_mapper("pool")
    perceiver = ChainEventPerceiver("pool", client.chain, pool, ["LoanRequested", "LoanRepaid", "LoanDefaulted"],
                                    mapper, from_block)
    embedder = VerifiedEmbedder(client, memory, budget, settings.model, settings.job_timeout)
    agent = Agent("loan-risk", memory, [perceiver], embedder, FlagRisky(client.chain, pool),
                  report=report, poll_interval=settings.poll_interval)
    agent.policy.default_threshold = THRESHOLD
    return agent


async def _demo(net: LocalNetwork, state_dir: Path) -> int:
    from infera.agents.examples._demo import printer
    from infera.agents.examples.contracts import deploy
    from infera.devnet import DEVNET_KEYS
    from infera.operator import ONE
    from infera_testing.localnet import REQUESTER_KEY

    assert net.deployment is not None and net.devnet is not None
    settings = AgentSettings(state_path=state_dir / "loans.db", budget_infer=30, poll_interval=0.5)
    owner = await net.connect(DEVNET_KEYS[0])
    borrower = await net.connect(DEVNET_KEYS[4])
    agent_chain = await net.connect(REQUESTER_KEY)
    try:
        start = await owner.block_number()
        pool = await deploy(owner, "LendingPool", owner.token.address, owner.address, 12_000, 8_000, 3_600)
        print(f"deployed LendingPool {pool.address}; adjuster {agent_chain.address}", flush=True)
        await owner.transact(pool.functions.grantRole(await pool.functions.ADJUSTER_ROLE().call(), agent_chain.address))
        as_borrower = borrower.w3.eth.contract(address=pool.address, abi=pool.abi)
        await borrower.transact(borrower.token.functions.approve(pool.address, 10**9 * ONE))
        await borrower.transact(as_borrower.functions.fund(10_000 * ONE))
        for description, amount in REQUESTS:
            await borrower.transact(as_borrower.functions.requestLoan(amount * ONE, description))
        client = InferaClient(agent_chain)
        as_agent = agent_chain.w3.eth.contract(address=pool.address, abi=pool.abi)

        print("\n== run 1: seed prototypes, then the loan requests", flush=True)
        memory = Memory.open(settings.state_path)
        agent = loan_agent(client, as_agent, start, memory, Budget(settings.budget_wei), settings, printer)
        await agent.learn_prototypes(SEEDS, dict.fromkeys(SEEDS, THRESHOLD))
        await agent.run(until_idle=True)
        memory.close()

        print("\n== outcomes: loans 1 and 3 open and are repaid; loan 2 opens and defaults", flush=True)
        for loan_id in (1, 2, 3):
            await borrower.transact(as_borrower.functions.openLoan(loan_id))
        for loan_id in (1, 3):
            await borrower.transact(as_borrower.functions.repay(loan_id))
        net.devnet.advance_time(3_700)
        await owner.transact(pool.functions.markDefault(2))

        print("\n== run 2: the agent resumes from its state and learns from the outcomes", flush=True)
        memory = Memory.open(settings.state_path)
        agent = loan_agent(client, as_agent, start, memory, Budget(settings.budget_wei), settings, printer)
        await agent.run(until_idle=True)
        memory.close()
        flagged = await agent_chain.logs(pool, "RiskFlagged", start)
        print(f"\non chain: {len(flagged)} loans flagged risky by the agent", flush=True)
        for event in flagged:
            args = event["args"]
            print(f"  loan {args['loanId']}: score {args['scorePpm'] / PPM:.3f}, collateral now "
                  f"{args['collateralBps'] / 100:.0f}%", flush=True)
        return 0
    finally:
        for c in (owner, borrower, agent_chain):
            await c.close()


async def _live(pool_address: str) -> int:
    from infera.agents.examples._demo import run_live
    from infera.agents.examples.contracts import bind

    return await run_live(lambda client, memory, budget, settings: loan_agent(
        client, bind(client.chain, "LendingPool", pool_address), client.chain.deployment.deployment_block,
        memory, budget, settings), SEEDS, THRESHOLD)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="start a local network and run the agent end to end")
    parser.add_argument("--pool", help="LendingPool address (not with --demo)")
    args = parser.parse_args(argv)
    if args.demo:
        from infera.agents.examples._demo import run_demo

        run_demo(_demo)
    if not args.pool:
        parser.error("give --demo or --pool")
    raise SystemExit(asyncio.run(_live(args.pool)))


if __name__ == "__main__":
    main()
