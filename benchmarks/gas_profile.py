"""Where a verified job's gas goes: every batched transaction of the three-node scenario, traced
opcode by opcode (anvil's debug_traceTransaction) and added up by phase, contract and kind.

    .venv/bin/python -m benchmarks.gas_profile [--jobs 16]

Prints one table per phase (gas per job) and writes benchmarks/results/gas_profile.json. This is
the profile the gas work is steered by; `make bench` and the gas snapshot are the figures.

Attribution: a step costs the gas it took before the next step of the same call frame; a call's
own cost is what it took minus what its callee's steps took. What no step took (21,000, calldata,
minus refunds) is "intrinsic - refund".
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.chainops import gas_used, rpc, signer
from benchmarks.gas import THREE_NODES, fresh_network, measure
from benchmarks.lifecycle import PHASES
from infera.chain import Chain
from infera.devnet import DEVNET_KEYS

OUT = Path("benchmarks/results/gas_profile.json")
CALLS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE", "CREATE", "CREATE2"}
KINDS = {
    "SSTORE": "sstore", "SLOAD": "sload", "TSTORE": "transient", "TLOAD": "transient",
    "KECCAK256": "keccak", "CALLDATACOPY": "copy", "MCOPY": "copy", "CODECOPY": "copy",
    "RETURNDATACOPY": "copy", "MLOAD": "memory", "MSTORE": "memory", "MSTORE8": "memory",
}


def kind_of(op: str) -> str:
    if op.startswith("LOG"):
        return "log"
    if op in CALLS:
        return "call"
    return KINDS.get(op, "compute")


@dataclass
class Profile:
    """Gas by (phase, contract, kind), and SSTORE counts by phase."""

    gas: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    sstores: Counter[str] = field(default_factory=Counter)

    def add_trace(self, phase: str, logs: list[dict[str, Any]], names: dict[str, str], to: str, used: int) -> None:
        frames: list[dict[str, Any]] = []  # per open call: the call step's gas, callee, inner gas
        contract = [names.get(to.lower(), to)]
        execution = 0
        for i, step in enumerate(logs):
            op, gas, depth = step["op"], int(step["gas"]), int(step["depth"])
            nxt = logs[i + 1] if i + 1 < len(logs) else None
            here = contract[-1]
            if nxt is not None and int(nxt["depth"]) > depth:  # entered a callee
                target = "0x" + format(int(step["stack"][-2], 16), "040x")
                frames.append({"gas": gas, "contract": here, "inner": 0})
                contract.append(names.get(target, target))
                continue
            cost = gas - int(nxt["gas"]) if nxt is not None and int(nxt["depth"]) == depth else int(step["gasCost"])
            self._charge(phase, here, op, cost, frames)
            execution += cost
            if nxt is not None and int(nxt["depth"]) < depth:  # returned to the caller's call step
                frame = frames.pop()
                contract.pop()
                total = frame["gas"] - int(nxt["gas"])
                self._charge(phase, frame["contract"], "CALL", total - frame["inner"], frames)
                execution += total - frame["inner"]
        self.gas[(phase, "-", "intrinsic - refund")] += used - execution

    def _charge(self, phase: str, contract: str, op: str, cost: int, frames: list[dict[str, Any]]) -> None:
        self.gas[(phase, contract, kind_of(op))] += cost
        if op == "SSTORE":
            self.sstores[phase] += 1
        for frame in frames:
            frame["inner"] += cost

    def table(self, jobs: int) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for (phase, contract, kind), gas in sorted(self.gas.items()):
            out[phase][f"{contract}.{kind}"] = round(gas / jobs)
        return dict(out)


async def _trace(chain: Chain, tx_hash: str) -> list[dict[str, Any]]:
    result = await rpc(chain.w3, "debug_traceTransaction",
                       [tx_hash, {"disableStorage": True, "disableMemory": True, "enableReturnData": False}])
    return list(result["structLogs"])


async def _profile(jobs: int) -> tuple[Profile, dict[str, int]]:
    with fresh_network(Path(".run/gas-profile"), steps_tracing=True) as net:
        requester = await net.connect()
        try:
            await net.register_nodes(THREE_NODES, capacity=max(16, jobs))
            keys: dict[str, str] = {signer(requester, DEVNET_KEYS[i]).address: DEVNET_KEYS[i] for i in THREE_NODES}
            ledger = (await measure(requester, keys, jobs, batched=True, nodes=len(THREE_NODES))).ledger
            names = {a.lower(): n for n, a in requester.deployment.contracts.model_dump().items()}
            names[str(await requester.jobs.functions.judge().call()).lower()] = "AgreementJudge"
            profile = Profile()
            for phase, receipt in ledger.receipts:
                logs = await _trace(requester, "0x" + bytes(receipt["transactionHash"]).hex())
                profile.add_trace(phase, logs, names, str(receipt["to"]), gas_used(receipt))
            return profile, {p: round(ledger.gas[p] / jobs) for p in PHASES}
        finally:
            await requester.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    profile, totals = asyncio.run(_profile(args.jobs))
    table = profile.table(args.jobs)
    for phase in PHASES:
        rows = sorted(table.get(phase, {}).items(), key=lambda kv: -kv[1])
        lines = "\n".join(f"    {name:40s} {gas:>9,}" for name, gas in rows if gas)
        print(f"{phase}: {totals[phase]:,} gas a job, {profile.sstores[phase] / args.jobs:.1f} SSTOREs a job\n{lines}")  # noqa: T201
    print(f"total: {sum(totals.values()):,} gas a job")  # noqa: T201
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"jobs": args.jobs, "per_job": totals, "by_phase": table,
                               "sstores_per_job": {p: profile.sstores[p] / args.jobs for p in PHASES}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
