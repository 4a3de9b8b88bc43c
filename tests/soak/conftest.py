"""Soak fixtures: the same deployed devnet as the end-to-end tests."""

from support.network import deployed_state, network

__all__ = ["deployed_state", "network"]
