"""One relayer process per key, refused in the relayer's own words (the lock is the SDK's, shared
with the node, and the relayer imports nothing of the node)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from infera.keylock import KeyInUse, KeyLock

ADDRESS = "0x" + "ab" * 20


def test_a_second_relayer_on_one_key_is_refused_naming_the_relayer(tmp_path: Path) -> None:
    with KeyLock(tmp_path, ADDRESS, "run", program="infera-relayer"):
        with pytest.raises(KeyInUse) as refused:
            KeyLock(tmp_path, ADDRESS, "run", program="infera-relayer").acquire()
    message = str(refused.value)
    assert "another infera-relayer process is already running" in message and "oracle-node" not in message
    assert "infera-relayer run" in message  # who holds it


def test_the_relayer_imports_nothing_of_the_node() -> None:
    root = Path(__file__).resolve().parents[2] / "relayer"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.split(".")[0] == "oracle_node"], f"{path} imports {names}"
