"""The quick starts in docs/quickstart/ run as written.

Each quick start begins with `make demo DEMO_ARGS=--hold` in a terminal of its own, which keeps a
whole network up (devnet, deployment, three nodes, the relayer) and writes its endpoints to
`.run/localnet.env`. This test runs that command itself, once, exactly as the documents say, and
then every other fenced `bash` and `python` block of each document in order, in one bash
session per document from the checkout's root (`python` blocks through `.venv/bin/python -`, as
the documents tell the reader to run them). A block preceded by `<!-- doc-test: skip ... -->` is
not run; the only one allowed is the command that holds the network.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICKSTARTS = sorted((ROOT / "docs" / "quickstart").glob("*.md"))
HOLD_COMMAND = "make demo DEMO_ARGS=--hold"
ENDPOINTS = ROOT / ".run" / "localnet.env"
BLOCK = re.compile(r"(?P<marker><!-- doc-test: skip[^>]*-->\s*\n)?```(?P<lang>[a-z]*)\n(?P<code>.*?)\n```", re.S)
# What each document's run must print, beyond exiting 0: the outcome its reader is promised.
EXPECT: dict[str, list[str]] = {
    "app-builder.md": ["quote: 2 jobs cost", "verified 2 vectors of 384 dimensions",
                       "nearest to 'How do nodes earn?': 'Nodes stake INFER", "accepted: 384 dims",
                       "gasless job", "langchain: Bread rises"],
    "dapp-developer.md": ["verdict: allowed", "verdict: blocked", "author blocked: True"],
    "agent-builder.md": ["perceived: [tickets]", "this morning: 'outage'", "did: page the on-call engineer",
                         "VAT number?: 'billing'"],
    "node-operator.md": ['"registered": true', "ready", "unbonding"],
}


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    skipped: bool


def blocks(path: Path) -> list[Block]:
    return [Block(m["lang"], m["code"], m["marker"] is not None) for m in BLOCK.finditer(path.read_text())]


def as_script(doc: list[Block]) -> str:
    """One bash session: bash blocks verbatim, python blocks fed to the project's interpreter."""
    parts = ["set -euo pipefail"]
    for block in doc:
        if block.skipped:
            continue
        if block.lang == "python":
            parts.append(f".venv/bin/python - <<'INFERA_DOC_PYTHON'\n{block.code}\nINFERA_DOC_PYTHON")
        elif block.lang == "bash":
            parts.append(block.code)
    return "\n".join(parts) + "\n"


def clean_env() -> dict[str, str]:
    """The reader's shell: none of this test run's INFERA_* settings or make's jobserver."""
    drop = ("INFERA_", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


# ------------------------------------------------------------------------------ fast checks
def test_every_quickstart_holds_the_network_first_and_runs_the_rest() -> None:
    names = {p.name for p in QUICKSTARTS}
    assert names == set(EXPECT), f"docs/quickstart holds {sorted(names)}; EXPECT names {sorted(EXPECT)}"
    for path in QUICKSTARTS:
        doc = blocks(path)
        assert doc and doc[0].skipped and doc[0].code.strip() == HOLD_COMMAND, (
            f"{path.name}: the first block must be `{HOLD_COMMAND}` marked <!-- doc-test: skip -->")
        assert all(not b.skipped for b in doc[1:]), f"{path.name}: only the hold command may be skipped"
        runnable = [b for b in doc[1:] if b.lang in ("bash", "python")]
        assert runnable, f"{path.name} has nothing for the reader to run"
        for b in runnable:
            if b.lang == "python":
                compile(b.code, f"{path.name} python block", "exec")


# ----------------------------------------------------------------------------- the real run
@pytest.fixture(scope="module")
def held_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if ENDPOINTS.exists():
        pytest.fail(f"{ENDPOINTS} exists: a held demo is running here (stop it) or a killed one left "
                    "it behind (delete the file)")
    log_path = tmp_path_factory.mktemp("docs") / "demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(["bash", "-c", HOLD_COMMAND], cwd=ROOT, env=clean_env(), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 420
        while not ENDPOINTS.exists():
            if demo.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the held demo did not come up:\n{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(1)
        yield log_path
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C, as its reader stops it
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
        ENDPOINTS.unlink(missing_ok=True)


@pytest.mark.parametrize("path", QUICKSTARTS, ids=[p.stem for p in QUICKSTARTS])
def test_quickstart_runs_as_written(path: Path, held_network: Path) -> None:
    script = as_script(blocks(path))
    ran = subprocess.run(["bash", "-c", script], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                         timeout=420)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, f"{path.name} failed (exit {ran.returncode}):\n{output[-6000:]}"
    missing = [text for text in EXPECT[path.name] if text not in output]
    assert not missing, f"{path.name} did not print {missing}:\n{output[-6000:]}"
