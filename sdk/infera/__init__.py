"""Infera Python SDK: chain bindings, job submission and verification, devnet control."""
