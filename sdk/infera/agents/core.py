"""The agent loop: perceive, think, act, learn; persist after every subject; stop cleanly.

Shaped after what fits from three frameworks: uAgents' lifecycle (startup, interval steps,
shutdown, a per-agent store), ElizaOS's providers (here perceivers), actions and evaluators (here
the learner), and open-autonomy's discipline that each step is a durable transition, so a
restarted agent resumes from its last persisted state instead of redoing or losing work.

One step: every perceiver is polled; what the agent has already handled is dropped; the texts
to think about are embedded through the network in one submission (verified vectors only, paid
from the budget); then each perception, in order, is either an outcome (the learner updates the
policy from the decision it made on that subject) or an input (the policy decides, the behaviour
plans actions, the actions run). The decision, the seen key, the policy and the budget are
written in one transaction per perception, the perceivers' cursors at the end of the step.
Actions run at least once: an agent killed between an action and its record repeats the
action on restart, so actions should be idempotent (the example contracts' are).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import structlog

from infera.agents.actions import Action, ActionResult
from infera.agents.budget import Budget, BudgetExhausted
from infera.agents.learner import Learner
from infera.agents.memory import DecisionRecord, Memory, VerifiedVector
from infera.agents.perceivers import Perceiver, Perception
from infera.agents.policy import Decision, Policy

log = structlog.get_logger("infera.agents")

Reporter = Callable[[str, str], None]
"""(phase, message), phase one of perceived, thought, did, learned, refused, state."""


class Embedder(Protocol):
    """Texts to verified vectors within a budget (VerifiedEmbedder; a test may pass its own)."""

    budget: Budget

    async def embed(self, texts: list[str]) -> dict[str, VerifiedVector | None]: ...


class Behaviour(Protocol):
    """The agent-specific part: the actions a decision calls for."""

    def plan(self, perception: Perception, decision: Decision, vector: VerifiedVector) -> Sequence[Action]: ...


class Agent:
    def __init__(self, name: str, memory: Memory, perceivers: Sequence[Perceiver], embedder: Embedder,
                 behaviour: Behaviour, policy: Policy | None = None, learner: Learner | None = None,
                 report: Reporter | None = None, poll_interval: float = 1.0) -> None:
        self.name = name
        self.memory = memory
        self.perceivers = list(perceivers)
        self.embedder = embedder
        self.behaviour = behaviour
        self.learner = learner or Learner()
        self.poll_interval = poll_interval
        self._report = report
        self._stop = asyncio.Event()
        self.steps = 0
        self.policy = policy or Policy()
        self._restore()

    # ------------------------------------------------------------------ state
    @property
    def budget(self) -> Budget:
        return self.embedder.budget

    def _restore(self) -> None:
        """Resume: the persisted policy, spend and cursors win over what was passed in."""
        stored_policy = self.memory.get("policy")
        if stored_policy is not None:
            self.policy = Policy.from_state(stored_policy)
        stored_budget = self.memory.get("budget")
        if stored_budget is not None:
            self.embedder.budget.spent_wei = int(stored_budget["spent_wei"])
        for perceiver in self.perceivers:
            cursor = self.memory.get(f"cursor:{perceiver.name}")
            if cursor is not None:
                perceiver.restore(cursor)
        if stored_policy is not None:
            self.report("state", f"resumed: {len(self.policy.prototypes)} prototypes, "
                                 f"{self.memory.vector_count()} verified vectors, spent {self.budget.spent_wei / 1e18:g} INFER")

    def _persist_core(self) -> None:
        self.memory.put("policy", self.policy.to_state())
        self.memory.put("budget", self.budget.to_state())

    def _persist_cursors(self) -> None:
        with self.memory.step():
            for perceiver in self.perceivers:
                self.memory.put(f"cursor:{perceiver.name}", perceiver.cursor())

    def report(self, phase: str, message: str) -> None:
        log.info("agent " + phase, agent=self.name, detail=message)
        if self._report is not None:
            self._report(phase, message)

    # -------------------------------------------------------------- prototypes
    async def learn_prototypes(self, examples: Mapping[str, Sequence[str]],
                               thresholds: Mapping[str, float] | None = None) -> None:
        """Build the policy's prototypes from example texts, embedded and verified by the
        network; skipped when a policy was restored (it has learned since)."""
        if self.policy.prototypes:
            return
        texts = [t for group in examples.values() for t in group]
        vectors = await self.embedder.embed(texts)
        verified = {label: [v for t in group if (v := vectors.get(t)) is not None] for label, group in examples.items()}
        self.policy = Policy.from_examples(verified, thresholds, self.policy.default_threshold)
        with self.memory.step():
            self._persist_core()
        for label, vs in verified.items():
            self.report("learned", f"prototype {label!r} from {len(vs)} verified vectors "
                                   f"(jobs {', '.join(str(v.job_id) for v in vs)}), threshold {self.policy.threshold(label):.3f}")

    # -------------------------------------------------------------------- loop
    async def step(self) -> int:
        """One perceive-think-act pass; returns how many new perceptions it handled."""
        fresh: list[Perception] = []
        for perceiver in self.perceivers:
            try:
                found = await perceiver.perceive()
            except Exception as exc:  # one failing source never stops the agent; retried next step
                log.warning("perceiver failed", agent=self.name, perceiver=perceiver.name, error=repr(exc))
                continue
            fresh.extend(p for p in found if not self.memory.seen(p.source, p.key))
        for p in fresh:
            if p.truth is not None:
                what = f"[{p.source}] outcome for {p.subject!r}: it was {p.truth!r}"
            else:
                what = f"[{p.source}] {p.text!r}" + (f" ({p.subject})" if p.subject != p.text else "")
            self.report("perceived", what)
        texts = [p.text for p in fresh if p.text and p.truth is None]
        vectors: dict[str, VerifiedVector | None] = {}
        refused: str | None = None
        if texts:
            try:
                vectors = await self.embedder.embed(texts)
            except BudgetExhausted as exc:
                refused = str(exc)
                self.report("refused", refused)
        for p in fresh:
            if p.truth is not None:
                self._learn(p)
            elif p.text is not None:
                await self._think_and_act(p, vectors.get(p.text), refused)
            with self.memory.step():
                self.memory.mark_seen(p.source, p.key)
                self._persist_core()
        self._persist_cursors()
        self.steps += 1
        return len(fresh)

    async def _think_and_act(self, p: Perception, vector: VerifiedVector | None, refused: str | None) -> None:
        if vector is None:
            reason = "refused: over budget" if refused else "no verified vector (the job was refunded)"
            self.report("thought", f"{p.subject}: {reason}; nothing done")
            self.memory.record_decision(DecisionRecord(p.subject, None, None, None, 0.0, [reason]))
            return
        decision = self.policy.decide(vector.vector)
        verdict = (f"{decision.label!r}" if decision.label else f"unsure (nearest {decision.nearest!r} below its threshold)")
        self.report("thought", f"{p.subject}: {verdict}, cosine {decision.score:.3f} vs threshold {decision.threshold:.3f}, "
                               f"margin {decision.margin:.3f}; vector from job {vector.job_id} agreed by "
                               f"{len(vector.agreeing)} nodes (min pairwise {vector.min_cosine:.4f})")
        done: list[str] = []
        for action in self.behaviour.plan(p, decision, vector):
            try:
                result = await action.run()
            except Exception as exc:  # a refused call is an outcome to record, not a crash
                result = ActionResult(False, f"{type(exc).__name__}: {exc}")
            done.append(f"{action.description}: {'ok' if result.ok else 'FAILED'} {result.detail}")
            self.report("did", done[-1])
        if not done:
            self.report("did", f"{p.subject}: nothing")
        self.memory.record_decision(DecisionRecord(p.subject, vector.job_id, decision.label, decision.nearest,
                                                   decision.score, done))

    def _learn(self, p: Perception) -> None:
        assert p.truth is not None
        record = self.memory.decision(p.subject)
        vector = self.memory.vector(record.job_id) if record is not None and record.job_id is not None else None
        if record is None or vector is None:
            self.report("learned", f"{p.subject}: outcome {p.truth!r} for nothing the agent decided; ignored")
            return
        decision = self.policy.decide(vector.vector)
        past = Decision(record.label, record.nearest, record.score, decision.threshold, decision.scores)
        changes = self.learner.learn(self.policy, vector.vector, past, p.truth)
        verdict = "right" if record.label == p.truth else ("abstained" if record.label is None else f"wrong (said {record.label!r})")
        self.report("learned", f"{p.subject}: was {p.truth!r}, agent was {verdict}; " + "; ".join(changes))
        self.memory.record_outcome(p.subject, p.truth, changes)

    def stop(self) -> None:
        """Ask the loop to stop after the current step (what SIGINT and SIGTERM do)."""
        self._stop.set()

    async def run(self, max_steps: int | None = None, until_idle: bool = False) -> None:
        """Step until stopped (SIGINT/SIGTERM finish the current step, then the state is
        persisted), `max_steps` steps, or, with `until_idle`, the first step that perceives
        nothing new."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        try:
            while not self._stop.is_set():
                handled = await self.step()
                if (max_steps is not None and self.steps >= max_steps) or (until_idle and handled == 0):
                    break
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.poll_interval)
                except TimeoutError:
                    pass
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            with self.memory.step():
                self._persist_core()
            self._persist_cursors()
            self.report("state", f"stopped after {self.steps} steps; state saved; spent "
                                 f"{self.budget.spent_wei / 1e18:g} of {self.budget.limit_wei / 1e18:g} INFER")
