"""Where the project's files are: the build, the exported ABIs and the deployments."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
ABI_DIR = _PACKAGE_DIR / "abi"


def project_root() -> Path:
    """The checkout holding ape-config.yaml: INFERA_PROJECT_ROOT, else the folder above sdk/."""
    configured = os.environ.get("INFERA_PROJECT_ROOT")
    if configured:
        return Path(configured).resolve()
    return _PACKAGE_DIR.parent.parent


def deployments_dir() -> Path:
    """Where ``<network>.json`` deployment records live (INFERA_DEPLOYMENTS_DIR overrides)."""
    configured = os.environ.get("INFERA_DEPLOYMENTS_DIR")
    if configured:
        return Path(configured).resolve()
    return project_root() / "deployments"
