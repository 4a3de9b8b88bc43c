"""Where the project's files are: the checkout (when there is one), the ABIs and the deployments.

The SDK runs from a checkout (an editable install of sdk/) or from a wheel in site-packages. Only a
checkout has ape-config.yaml, a build and the `deployments/` folder `ape run deploy` writes to; a
wheel carries its ABIs and its known deployment records as package data.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
ABI_DIR = _PACKAGE_DIR / "abi"
CHECKOUT_MARKER = "ape-config.yaml"


def checkout_root() -> Path | None:
    """The checkout this SDK runs from: INFERA_PROJECT_ROOT, else the folder above sdk/ when it
    holds ape-config.yaml; None for an installed SDK outside any checkout."""
    configured = os.environ.get("INFERA_PROJECT_ROOT")
    if configured:
        return Path(configured).resolve()
    source_tree = _PACKAGE_DIR.parent.parent
    return source_tree if (source_tree / CHECKOUT_MARKER).is_file() else None


def project_root() -> Path:
    """The checkout, or the current directory for an installed SDK (where `infera-devnet up`
    keeps its state)."""
    return checkout_root() or Path.cwd()


def deployments_dir() -> Path:
    """Where `ape run deploy` writes ``<network>.json`` records on this machine: INFERA_DEPLOYMENTS_DIR,
    else the checkout's `deployments/`."""
    configured = os.environ.get("INFERA_DEPLOYMENTS_DIR")
    if configured:
        return Path(configured).resolve()
    return project_root() / "deployments"


def user_data_dir(*parts: str) -> Path:
    """A folder in the per-user data directory of the XDG base-directory spec:
    ``$XDG_DATA_HOME/infera/<parts>``, else ``~/.local/share/infera/<parts>`` (the spec says to
    ignore an XDG_DATA_HOME that is not absolute)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base.joinpath("infera", *parts)
