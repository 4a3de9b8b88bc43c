"""The agents' example contracts: NewsLabels (owner/agent-only posts) and LendingPool (the
adjuster's flag raises collateral; open, repay, default)."""

from __future__ import annotations

from typing import Any

import ape
import pytest

from contract_helpers import ONE, reverts_with

LABEL = b"crypto".ljust(32, b"\0")
HEAD = b"\x11" * 32


def test_news_labels_only_owner_or_agent(project: Any, accounts: Any) -> None:
    owner, agent, stranger = accounts[0], accounts[9], accounts[5]
    labels = owner.deploy(project.NewsLabels, owner, agent)
    with reverts_with(labels.NotAgent, caller=stranger.address):
        labels.postLabel(HEAD, 7, LABEL, 500_000, sender=stranger)
    with reverts_with(labels.EmptyLabel):
        labels.postLabel(HEAD, 7, b"\0" * 32, 500_000, sender=agent)
    with reverts_with(labels.ScoreOutOfRange, scorePpm=1_000_001):
        labels.postLabel(HEAD, 7, LABEL, 1_000_001, sender=agent)
    tx = labels.postLabel(HEAD, 7, LABEL, 500_000, sender=agent)
    assert tx.events[0].jobId == 7 and labels.labelOf(HEAD).label == LABEL and labels.postCount() == 1
    labels.setAgent(stranger, sender=owner)
    with reverts_with(labels.NotAgent, caller=agent.address):
        labels.postLabel(HEAD, 8, LABEL, 1, sender=agent)


@pytest.fixture
def pool(project: Any, accounts: Any, token: Any) -> Any:
    owner = accounts[0]
    p = owner.deploy(project.LendingPool, token, owner, 12_000, 8_000, 3_600)
    p.grantRole(p.ADJUSTER_ROLE(), accounts[9], sender=owner)
    return p


def test_lending_pool_flag_open_repay_default(pool: Any, accounts: Any, token: Any, chain: Any) -> None:
    owner, borrower, adjuster = accounts[0], accounts[4], accounts[9]
    token.approve(pool, 10**6 * ONE, sender=borrower)
    pool.fund(1_000 * ONE, sender=borrower)
    pool.requestLoan(100 * ONE, "casino marker", sender=borrower)
    pool.requestLoan(100 * ONE, "bakery oven", sender=borrower)
    with ape.reverts():
        pool.flagRisk(1, 500_000, sender=borrower)
    with reverts_with(pool.ScoreOutOfRange, scorePpm=0):
        pool.flagRisk(1, 0, sender=adjuster)
    pool.flagRisk(1, 500_000, sender=adjuster)
    assert pool.loanOf(1).collateralBps == 12_000 + 4_000 and pool.loanOf(1).risky
    pool.openLoan(1, sender=borrower)
    pool.openLoan(2, sender=borrower)
    assert pool.loanOf(1).collateral == 160 * ONE and pool.loanOf(2).collateral == 120 * ONE
    with reverts_with(pool.WrongStatus, loanId=1, status=2):
        pool.flagRisk(1, 1, sender=adjuster)
    pool.repay(2, sender=borrower)
    with reverts_with(pool.NotDue, loanId=1, dueAt=pool.loanOf(1).dueAt):
        pool.markDefault(1, sender=owner)
    chain.provider.make_request("evm_increaseTime", [3_700])
    chain.provider.make_request("evm_mine", [])
    pool.markDefault(1, sender=owner)
    assert pool.loanOf(1).status == 4 and pool.collateralHeld() == 0
