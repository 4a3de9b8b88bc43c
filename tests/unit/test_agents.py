"""The agent framework without a chain: real SQLite state, real files, a real HTTP server; the
only stand-in is the embedder (texts to vectors), since a verified vector needs a network
(tests/e2e/test_loan_agent.py runs the real one)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from infera.agents import (
    ActionResult,
    Agent,
    Budget,
    BudgetExhausted,
    Decision,
    FilePerceiver,
    HttpFeedPerceiver,
    HttpPost,
    Learner,
    Memory,
    Perception,
    Policy,
    VerifiedVector,
)
from infera.agents.examples.news import parse_headline

DIM = 8
BASIS = {"a": np.eye(DIM)[0], "b": np.eye(DIM)[1]}


def vec(x: float, y: float, noise: float = 0.0) -> np.ndarray:
    v = x * BASIS["a"] + y * BASIS["b"] + noise * np.eye(DIM)[2]
    return np.asarray(np.rint(v / np.max(np.abs(v)) * 127), dtype=np.int8)


class TableEmbedder:
    """Vectors from a table, with a real Budget: one INFER per new text, as the devnet's fee."""

    def __init__(self, table: dict[str, np.ndarray], memory: Memory, budget: Budget) -> None:
        self.table, self.memory, self.budget = table, memory, budget
        self.calls: list[list[str]] = []

    async def embed(self, texts: list[str]) -> dict[str, VerifiedVector | None]:
        new = [t for t in texts if self.memory.vector_for_text(t) is None]
        self.budget.reserve(10**18 * len(new))
        self.calls.append(new)
        out: dict[str, VerifiedVector | None] = {}
        for t in texts:
            known = self.memory.vector_for_text(t)
            if known is None:
                known = VerifiedVector(self.memory.vector_count() + 1, t, self.table[t], ("n1", "n2"), 0.999, 0.99)
                self.memory.remember(known)
            out[t] = known
        return out


class Record:
    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []

    def plan(self, p: Perception, decision: Decision, vector: VerifiedVector) -> Sequence[object]:
        if decision.label is None:
            return []
        record = self

        class Note:
            description = f"note {decision.label}"

            async def run(self) -> ActionResult:
                record.done.append((p.subject, str(decision.label)))
                return ActionResult(True, "noted")

        return [Note()]


TABLE = {"alpha one": vec(1, 0.1), "beta one": vec(0.1, 1), "alpha two": vec(1, 0.3), "middle": vec(1, 1, 3),
         "seed a": vec(1, 0), "seed b": vec(0, 1)}


def make_agent(tmp_path: Path, lines: Path, record: Record, budget_infer: int = 20) -> tuple[Agent, Memory, TableEmbedder]:
    memory = Memory.open(tmp_path / "state.db")
    embedder = TableEmbedder(TABLE, memory, Budget(budget_infer * 10**18))
    perceiver = FilePerceiver("file", lines, lambda n, line: parse_headline("file", n, line))
    agent = Agent("test", memory, [perceiver], embedder, record, poll_interval=0.01)  # type: ignore[arg-type]
    return agent, memory, embedder


def test_decides_acts_learns_and_resumes(tmp_path: Path) -> None:
    lines = tmp_path / "in.txt"
    lines.write_text("alpha one\nbeta one\nmiddle\npartial line without newline")
    record = Record()
    agent, memory, embedder = make_agent(tmp_path, lines, record)
    asyncio.run(agent.learn_prototypes({"a": ["seed a"], "b": ["seed b"]}, {"a": 0.9, "b": 0.9}))
    asyncio.run(agent.run(until_idle=True))
    assert record.done == [("alpha one", "a"), ("beta one", "b")]  # "middle" is below both thresholds
    assert memory.decision("middle") is not None and memory.decision("middle").label is None  # type: ignore[union-attr]
    memory.close()

    # A new agent on the same state: nothing is redone, the partial line is read once complete,
    # and an outcome about the abstained subject lowers label a's threshold.
    with lines.open("a") as fh:
        fh.write("\n!a middle\nalpha two\n")
    record2 = Record()
    agent2, memory2, embedder2 = make_agent(tmp_path, lines, record2)
    assert agent2.policy.threshold("a") == 0.9 and agent2.budget.spent_wei == 5 * 10**18
    asyncio.run(agent2.run(until_idle=True))
    assert embedder2.calls[0] == ["partial line without newline", "alpha two"]
    assert agent2.policy.threshold("a") < 0.9
    assert memory2.outcome("middle") == "a"
    assert ("alpha two", "a") in record2.done and ("alpha one", "a") not in record2.done
    memory2.close()


TABLE["partial line without newline"] = vec(0, 1)


def test_budget_refuses_work_once_spent(tmp_path: Path) -> None:
    lines = tmp_path / "in.txt"
    lines.write_text("alpha one\nbeta one\n")
    record = Record()
    agent, memory, _ = make_agent(tmp_path, lines, record, budget_infer=3)
    asyncio.run(agent.learn_prototypes({"a": ["seed a"], "b": ["seed b"]}))  # 2 of 3 INFER
    asyncio.run(agent.run(until_idle=True))
    assert record.done == [] and agent.budget.spent_wei == 2 * 10**18
    assert "refused: over budget" in memory.decision("alpha one").actions  # type: ignore[union-attr]
    with pytest.raises(BudgetExhausted):
        Budget(10**18, 10**18).reserve(1)
    memory.close()


def test_sigterm_finishes_the_step_and_saves(tmp_path: Path) -> None:
    lines = tmp_path / "in.txt"
    lines.write_text("alpha one\n")
    agent, memory, _ = make_agent(tmp_path, lines, Record())
    agent.poll_interval = 30

    async def go() -> None:
        await agent.learn_prototypes({"a": ["seed a"], "b": ["seed b"]})
        asyncio.get_running_loop().call_later(0.3, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(agent.run(), timeout=10)

    asyncio.run(go())
    assert agent.steps == 1 and memory.get("cursor:file")["line"] == 1
    memory.close()


def test_policy_and_learner() -> None:
    a, b = VerifiedVector(1, "a", vec(1, 0), (), 1, 0.9), VerifiedVector(2, "b", vec(0, 1), (), 1, 0.9)
    policy = Policy.from_examples({"a": [a], "b": [b]}, default_threshold=0.5)
    d = policy.decide(vec(1, 0.2))
    assert d.label == "a" and d.score > 0.9 and d.margin > 0.5
    restored = Policy.from_state(policy.to_state())
    assert restored.decide(vec(1, 0.2)).label == "a"
    learner = Learner(step=0.1)
    learner.learn(policy, vec(1, 0.9), Decision("a", "a", 0.7, 0.5, {}), "b")  # wrong: a's threshold up
    assert policy.threshold("a") == pytest.approx(0.6)
    learner.learn(policy, vec(0, 0, 1), Decision(None, "a", 0.0, 0.6, {}), "c")  # unknown label: new prototype
    assert policy.decide(vec(0, 0, 1)).label == "c"


def test_http_feed_and_post(tmp_path: Path) -> None:
    received: list[dict[str, object]] = []
    state = {"fail": True}

    async def feed(_: web.Request) -> web.Response:
        if state["fail"]:
            state["fail"] = False
            return web.Response(status=503)
        return web.json_response({"items": [{"id": 1, "title": "alpha one"}, {"id": 2, "title": "beta one"}, "junk"]})

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    async def go() -> tuple[list[Perception], list[Perception], ActionResult]:
        app = web.Application()
        app.router.add_get("/feed", feed)
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            perceiver = HttpFeedPerceiver("feed", f"http://127.0.0.1:{port}/feed",
                                          lambda item: Perception("feed", str(item["id"]), str(item["title"]), text=str(item["title"])))
            first, second = await perceiver.perceive(), await perceiver.perceive()
            posted = await HttpPost(f"http://127.0.0.1:{port}/hook", {"label": "a"}, "alert").run()
            return first, second, posted
        finally:
            await runner.cleanup()

    first, second, posted = asyncio.run(go())
    assert first == [] and [p.text for p in second] == ["alpha one", "beta one"]
    assert posted.ok and received == [{"label": "a"}]
