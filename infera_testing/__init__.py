"""Infera's test harness: a whole network on this machine (devnet, deployment, node processes).

Part of the project's own distribution (`pip install -e .`), not of the SDK: an app that only
submits jobs needs none of it, and it starts `ape run deploy` and `oracle-node` from the checkout.
"""
