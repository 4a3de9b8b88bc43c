"""Soak fixtures: the same deployed devnet as the end-to-end tests."""

from support.network import network

__all__ = ["network"]
