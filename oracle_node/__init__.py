"""Infera oracle node: watches for assigned jobs, runs the model, commits and reveals."""
