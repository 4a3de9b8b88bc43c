"""INFER amounts and chain times as people read them (operator output and error messages)."""

from __future__ import annotations

from datetime import UTC, datetime

ONE = 10**18  # wei per INFER (and per ETH)


def format_infer(wei: int) -> str:
    """Wei as exact decimal text in INFER (or ETH): 150500000000000000000 -> "150.5"."""
    sign = "-" if wei < 0 else ""
    whole, frac = divmod(abs(wei), ONE)
    return f"{sign}{whole}" + (f".{frac:018d}".rstrip("0") if frac else "")


def utc_iso(timestamp: int) -> str:
    """A Unix time as UTC ISO 8601, e.g. 2025-06-01T12:00:00Z."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
