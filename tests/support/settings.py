"""An autouse fixture for tests of settings: no INFERA_* variable or .env file of the machine
leaks in, and the working directory is an empty folder. Import it into a test module to use it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("INFERA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
