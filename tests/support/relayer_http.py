"""Polling a relayer process from a test: a request's view, and waiting for a condition with the
relayer's log in the failure message."""

from __future__ import annotations

import time
from typing import Any

import requests

from relayer.process import LocalRelayer


def job_view(relayer: LocalRelayer, request_id: str, auth: dict[str, str]) -> dict[str, Any]:
    """GET /v1/jobs/{request_id} as JSON."""
    view: dict[str, Any] = requests.get(f"{relayer.url}/v1/jobs/{request_id}", headers=auth, timeout=10).json()
    return view


def wait_until(what: str, relayer: LocalRelayer, ready: Any, timeout: float = 30) -> Any:
    """Call `ready` every 0.3 s until it returns something truthy (returned); fail after
    `timeout` seconds with `what` and the relayer's log."""
    deadline = time.monotonic() + timeout
    while True:
        value = ready()
        if value:
            return value
        assert time.monotonic() < deadline, f"never {what}\n{relayer.log()}"
        time.sleep(0.3)
