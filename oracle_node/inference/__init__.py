"""Model loading and embedding for the oracle node."""
