"""Structured logging now lives in the SDK (infera.logs), shared with the relayer."""

from infera.logs import configure

__all__ = ["configure"]
