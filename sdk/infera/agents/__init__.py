"""Agents on Infera: perceive (chain events, HTTP feeds, files), think over verified embeddings
(nearest prototype by cosine, per-label thresholds), act (contract calls, SDK calls, HTTP),
learn from outcomes, within an INFER budget, with state that survives a restart."""

from infera.agents.actions import Action, ActionResult, ContractCall, HttpPost, SdkSubmit
from infera.agents.budget import Budget, BudgetExhausted
from infera.agents.core import Agent, Behaviour, Reporter
from infera.agents.embedder import VerifiedEmbedder
from infera.agents.learner import Learner
from infera.agents.memory import DecisionRecord, Memory, VerifiedVector
from infera.agents.perceivers import ChainEventPerceiver, FilePerceiver, HttpFeedPerceiver, Perceiver, Perception
from infera.agents.policy import Decision, Policy
from infera.agents.settings import AgentSettings

__all__ = [
    "Action", "ActionResult", "Agent", "AgentSettings", "Behaviour", "Budget", "BudgetExhausted",
    "ChainEventPerceiver", "ContractCall", "Decision", "DecisionRecord", "FilePerceiver", "HttpFeedPerceiver",
    "HttpPost", "Learner", "Memory", "Perceiver", "Perception", "Policy", "Reporter", "SdkSubmit",
    "VerifiedEmbedder", "VerifiedVector",
]
