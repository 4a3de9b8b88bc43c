"""End-to-end fixtures: a real devnet, a real deployment, real `oracle-node` processes."""

from support.network import network

__all__ = ["network"]
