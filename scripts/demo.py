"""`make demo`: a whole Infera network on this machine, ten real jobs, verified results.

Starts a devnet (1 s blocks), deploys with `ape run deploy`, registers and stakes three nodes,
starts each as its own `oracle-node` process and the relayer (`infera-relayer run`, its own
SQLite queue in the run directory, an API key made with its CLI), prints the dashboard's URL,
submits ten text-embedding jobs through the relayer's HTTP API and prints how the chain verified
each (read back through the SDK). Everything started here is stopped on exit, Ctrl-C included.
`--hold` keeps the network and the dashboard up after the jobs, until Ctrl-C.
Run it as `python scripts/demo.py` (it starts its own devnet, so it is not an `ape run` script).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time inside the functions, after the venv is known good
    from infera_testing.localnet import LocalNetwork
    from relayer.process import LocalRelayer

SENTENCES = [
    "A smart contract can request an embedding and verify it on-chain.",
    "The quick brown fox jumps over the lazy dog.",
    "Oracle nodes stake INFER and are slashed for dishonest answers.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "La tour Eiffel a été construite pour l'Exposition universelle de 1889.",
    "def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "Interest rates rose for the third consecutive quarter.",
    "She played a haunting melody on the old cello.",
    "Rollups post compressed transaction data to a settlement layer.",
    "🚀 Launch day!",
]
NODE_ACCOUNTS = [1, 2, 3]
MODEL = "all-MiniLM-L6-v2"


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def submit_through_relayer(url: str, api_key: str) -> list[int]:
    """POST the sentences to the relayer; the job ids once it has submitted them on-chain."""
    import aiohttp

    auth = {"Authorization": f"Bearer {api_key}"}
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post("/v1/jobs", json={"model": MODEL, "texts": SENTENCES}, headers=auth) as posted:
            body = await posted.json()
            if posted.status != 202:
                raise RuntimeError(f"the relayer refused the jobs: {posted.status} {body}")
        request_id = str(body["request_id"])
        print(f"relayer took request {request_id} ({body['jobs']} jobs)", flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            async with http.get(f"/v1/jobs/{request_id}", headers=auth) as got:
                view = await got.json()
            if all(j["job_id"] is not None for j in view["jobs"]):
                return [int(j["job_id"]) for j in view["jobs"]]
            await asyncio.sleep(0.3)
    raise RuntimeError(f"the relayer did not submit request {request_id} within 120 s")


async def run_jobs(net: LocalNetwork, relayer_url: str, api_key: str) -> int:
    from infera.client import InferaClient

    chain = await net.connect()  # reads only: the relayer alone sends transactions from its key
    client = InferaClient(chain)
    try:
        started = time.monotonic()
        job_ids = await submit_through_relayer(relayer_url, api_key)
        print(f"submitted {len(job_ids)} jobs in one transaction: ids {job_ids[0]}..{job_ids[-1]}", flush=True)
        accepted = 0
        for job_id in job_ids:
            result = await client.wait_for_result(job_id, timeout=300)
            detail = await client.verification(job_id)
            print(f"\njob {job_id}: {result.input!r}")
            if result.accepted and result.result_hash is not None:
                accepted += 1
                print(f"  accepted by {len(result.agreeing)} nodes: {', '.join(result.agreeing)}")
                print(f"  lowest pairwise cosine {detail.min_agreeing_cosine:.6f} (threshold {detail.threshold:.6f})")
                print(f"  result hash {result.result_hash}")
            else:
                print(f"  {result.status.name.lower()}: no quorum; the fee was refunded")
        print(f"\nall jobs final after {time.monotonic() - started:.1f}s")
        print(f"accepted {accepted} of {len(job_ids)} jobs", flush=True)
        return 0 if accepted == len(job_ids) else 1
    finally:
        await chain.close()


def start_relayer(net: LocalNetwork, run_dir: Path) -> tuple[LocalRelayer, str]:
    """The relayer as its own process, and an API key for the demo; stop() it when done."""
    from relayer.process import LocalRelayer

    relayer = LocalRelayer(net, run_dir)
    api_key = relayer.cli("keys", "create", "--name", "demo")
    relayer.start()
    assert relayer.process is not None
    print(f"relayer {relayer.url} started (pid {relayer.process.pid})", flush=True)
    print(f"dashboard: {relayer.url}/dashboard", flush=True)
    return relayer, api_key


def endpoints_file() -> Path:
    """Where a held demo writes its endpoints for other terminals (the quick starts in docs/
    `source` it): INFERA_RUN_DIR, else the checkout's .run/."""
    return Path(os.environ.get("INFERA_RUN_DIR", Path(__file__).resolve().parent.parent / ".run")) / "localnet.env"


def write_endpoints(net: LocalNetwork, relayer_url: str, api_key: str) -> Path:
    """The held network's settings as shell exports: everything the SDK, the node, `ape run` and
    the relayer's clients read from INFERA_* variables, so they find this network by name."""
    path = endpoints_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    exports = {
        "INFERA_NETWORK": "infera:devnet",
        "INFERA_RPC_URL": net.rpc_url,
        "INFERA_DEPLOYMENTS_DIR": str(net.deployments_dir),
        "INFERA_RELAYER_URL": relayer_url,
        "INFERA_API_KEY": api_key,
    }
    lines = ["# Written by `make demo DEMO_ARGS=--hold` for the network it holds; removed when it stops."]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def hold(net: LocalNetwork, url: str, api_key: str) -> None:
    path = write_endpoints(net, url, api_key)
    print(f"holding: the network and {url}/dashboard stay up until Ctrl-C", flush=True)
    print(f"in another terminal: source {path}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass  # the jobs' outcome stands: stopping a held demo is not a failure
    finally:
        path.unlink(missing_ok=True)


def main() -> None:
    from infera_testing.localnet import LocalNetwork

    signal.signal(signal.SIGTERM, _stop_on_signal)
    # Ctrl-C stops it even when started from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    held = "--hold" in sys.argv[1:]
    run_dir = Path(tempfile.mkdtemp(prefix="infera-demo-"))
    code = 1
    try:
        with LocalNetwork(run_dir, block_time=1.0) as net:
            net.bring_up(NODE_ACCOUNTS, lambda line: print(line, flush=True))
            relayer, api_key = start_relayer(net, run_dir)
            try:
                code = asyncio.run(run_jobs(net, relayer.url, api_key))
                if held:
                    hold(net, relayer.url, api_key)
            finally:
                relayer.stop()  # before the devnet it talks to
    except KeyboardInterrupt:
        print("\ninterrupted: everything started by the demo has been stopped", file=sys.stderr)
        code = 130
    finally:
        if code == 0:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"logs kept in {run_dir}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
