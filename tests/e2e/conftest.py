"""End-to-end fixtures: a real devnet, a real deployment, real `oracle-node` processes."""

from support.network import deployed_state, network

__all__ = ["deployed_state", "network"]
