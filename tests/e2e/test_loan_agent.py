"""Both example agents' flows on a real devnet with three real node processes: the loan-risk
monitor flags the risky requests through the adjuster role from verified vectors, resumes from
its state and learns from repaid and defaulted loans; the news agent's contract is the same
pattern and runs in `make demo-agent`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from infera.agents.examples import loans
from infera_testing.localnet import LocalNetwork


def test_loan_agent_flags_risky_loans_and_learns(network: LocalNetwork, tmp_path: Path,
                                                 capsys: object) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    for index in (1, 2, 3):
        network.start_node(index)
    network.wait_nodes_ready()
    assert asyncio.run(loans._demo(network, tmp_path / "agent")) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "LendingPool.flagRisk(loan 2" in out and "LendingPool.flagRisk(loan 4" in out
    assert "flagRisk(loan 1" not in out and "flagRisk(loan 3" not in out
    assert "resumed: 2 prototypes, 10 verified vectors" in out
    assert "loan #2: was 'risky', agent was right" in out
    assert "on chain: 2 loans flagged risky" in out
