"""Soak fixtures: the same deployed devnet as the end-to-end tests (tests/e2e/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infera.localnet import LocalNetwork


@pytest.fixture
def network(tmp_path: Path) -> Iterator[LocalNetwork]:
    """A deployed devnet on a free port; every process it starts is stopped afterwards."""
    with LocalNetwork(tmp_path / "net") as net:
        net.start_devnet()
        net.deploy()
        yield net
