"""News-signal agent: headlines from a file (or an HTTP feed) are embedded through the network,
labelled by their nearest verified prototype, and the label is posted on chain to NewsLabels
with the job id it was decided from. Lines ``!label headline`` are an editor's verdict on a
headline seen before: the agent learns from them (moves that label's prototype and thresholds).

    python -m infera.agents.examples.news --demo          # whole local network, end to end
    python -m infera.agents.examples.news --labels 0x.. --headlines feed.txt   # a deployment
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from eth_utils.crypto import keccak
from web3.contract import AsyncContract

from infera.agents import (
    Action,
    Agent,
    AgentSettings,
    Budget,
    ContractCall,
    Decision,
    FilePerceiver,
    Memory,
    Perception,
    Reporter,
    VerifiedEmbedder,
    VerifiedVector,
)
from infera.chain import Chain
from infera.client import InferaClient
from infera.vectors import PPM

if TYPE_CHECKING:
    from infera_testing.localnet import LocalNetwork

SEEDS: dict[str, list[str]] = {
    "markets": ["Stocks rally as the central bank holds interest rates steady",
                "Bond yields climb after a strong jobs report"],
    "crypto": ["Bitcoin jumps above a record high as ETF inflows surge",
               "Ethereum validators upgrade the network to cut fees"],
    "sports": ["The home team wins the championship final in overtime",
               "Star striker signs a record transfer deal"],
    "weather": ["Heavy storms bring flooding to the coast this weekend",
                "A heatwave pushes temperatures past 40 degrees"],
}
THRESHOLD = 0.20  # MiniLM cosines of a headline to its topic's mean sit around 0.2 to 0.5

FIRST_BATCH = [
    "Central bank signals a rate cut in the coming months",
    "Blizzard warning issued for the northern mountains",
    "Tennis champion retires after twenty years on tour",
    "Stablecoin issuer mints another billion tokens on Solana",
    "Snow and ice close schools across the region",
    "Local bakery wins award for best sourdough",
]
SECOND_BATCH = [
    "!crypto Stablecoin issuer mints another billion tokens on Solana",
    "!weather Snow and ice close schools across the region",
    "DeFi lending protocol loses funds in a smart contract exploit",
    "Freezing rain and black ice expected overnight",
]


def label_bytes(label: str) -> bytes:
    raw = label.encode()
    if not 0 < len(raw) <= 32:
        raise ValueError(f"label {label!r} must be 1 to 32 UTF-8 bytes")
    return raw.ljust(32, b"\0")


def parse_headline(source: str, number: int, line: str) -> Perception:
    """``headline`` is an input; ``!label headline`` an outcome for that headline."""
    if line.startswith("!"):
        label, _, headline = line[1:].partition(" ")
        return Perception(source, f"line {number}", headline.strip(), truth=label.strip())
    return Perception(source, f"line {number}", line, text=line)


class PostLabels:
    """Behaviour: post a confident label to NewsLabels; say nothing when unsure."""

    def __init__(self, chain: Chain, labels: AsyncContract) -> None:
        self.chain = chain
        self.labels = labels

    def plan(self, perception: Perception, decision: Decision, vector: VerifiedVector) -> Sequence[Action]:
        if decision.label is None or perception.text is None:
            return []
        score = max(0, min(PPM, round(decision.score * PPM)))
        fn = self.labels.functions.postLabel(keccak(text=perception.text), vector.job_id,
                                             label_bytes(decision.label), score)
        return [ContractCall(self.chain, fn, f"NewsLabels.postLabel({decision.label!r}, job {vector.job_id})")]


def news_agent(client: InferaClient, labels: AsyncContract, headlines: Path, memory: Memory, budget: Budget,
               settings: AgentSettings, report: Reporter | None = None) -> Agent:
    perceiver = FilePerceiver("headlines", headlines, lambda n, line: parse_headline("headlines", n, line))
    embedder = VerifiedEmbedder(client, memory, budget, settings.model, settings.job_timeout)
    agent = Agent("news-signal", memory, [perceiver], embedder, PostLabels(client.chain, labels),
                  report=report, poll_interval=settings.poll_interval)
    agent.policy.default_threshold = THRESHOLD
    return agent


async def _demo(net: LocalNetwork, state_dir: Path) -> int:
    from infera.agents.examples._demo import printer
    from infera.agents.examples.contracts import deploy
    from infera.devnet import DEVNET_KEYS
    from infera_testing.localnet import REQUESTER_KEY

    settings = AgentSettings(state_path=state_dir / "news.db", budget_infer=30, poll_interval=0.5)
    owner = await net.connect(DEVNET_KEYS[0])
    chain = await net.connect(REQUESTER_KEY)
    try:
        labels = await deploy(owner, "NewsLabels", owner.address, chain.address)
        print(f"deployed NewsLabels {labels.address} (agent {chain.address})", flush=True)
        labels = chain.w3.eth.contract(address=labels.address, abi=labels.abi)
        client = InferaClient(chain)
        headlines = state_dir / "headlines.txt"
        headlines.parent.mkdir(parents=True, exist_ok=True)
        headlines.write_text("".join(f"{h}\n" for h in FIRST_BATCH))

        print("\n== run 1: seed prototypes, then the first headlines", flush=True)
        memory = Memory.open(settings.state_path)
        agent = news_agent(client, labels, headlines, memory, Budget(settings.budget_wei), settings, printer)
        await agent.learn_prototypes(SEEDS, dict.fromkeys(SEEDS, THRESHOLD))
        await agent.run(until_idle=True)
        memory.close()

        print("\n== run 2: a fresh agent process resumes from its state; editor verdicts and new headlines arrive",
              flush=True)
        with headlines.open("a") as fh:
            fh.write("".join(f"{h}\n" for h in SECOND_BATCH))
        memory = Memory.open(settings.state_path)
        agent = news_agent(client, labels, headlines, memory, Budget(settings.budget_wei), settings, printer)
        await agent.run(until_idle=True)
        memory.close()

        posted = await chain.logs(labels, "LabelPosted", net.deployment.deployment_block if net.deployment else 0)
        print(f"\non chain: {len(posted)} labels posted to NewsLabels {labels.address}", flush=True)
        for event in posted:
            args = event["args"]
            name = bytes(args["label"]).rstrip(b"\0").decode()
            print(f"  job {args['jobId']}: {name} "
                  f"(score {args['scorePpm'] / PPM:.3f})", flush=True)
        return 0 if posted else 1
    finally:
        await chain.close()
        await owner.close()


async def _live(labels_address: str, headlines: Path) -> int:
    from infera.agents.examples._demo import run_live
    from infera.agents.examples.contracts import bind

    return await run_live(lambda client, memory, budget, settings: news_agent(
        client, bind(client.chain, "NewsLabels", labels_address), headlines, memory, budget, settings),
        SEEDS, THRESHOLD)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="start a local network and run the agent end to end")
    parser.add_argument("--labels", help="NewsLabels address (not with --demo)")
    parser.add_argument("--headlines", type=Path, help="headline file to follow (not with --demo)")
    args = parser.parse_args(argv)
    if args.demo:
        from infera.agents.examples._demo import run_demo

        run_demo(_demo)
    if not args.labels or not args.headlines:
        parser.error("give --demo, or --labels and --headlines")
    raise SystemExit(asyncio.run(_live(args.labels, args.headlines)))


if __name__ == "__main__":
    main()
