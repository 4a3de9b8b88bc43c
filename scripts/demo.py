"""`make demo`: a whole Infera network on this machine, ten real jobs, verified results.

Starts a devnet (1 s blocks), deploys with `ape run deploy`, registers and stakes three nodes,
starts each as its own `oracle-node` process, submits ten text-embedding jobs through the SDK
and prints how each was verified. Everything started here is stopped on exit, Ctrl-C included.
Run it as `python scripts/demo.py` (it starts its own devnet, so it is not an `ape run` script).
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

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


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def run_jobs(net: object) -> int:
    from infera.client import InferaClient
    from infera.localnet import LocalNetwork

    assert isinstance(net, LocalNetwork)
    chain = await net.connect()
    client = InferaClient(chain)
    try:
        started = time.monotonic()
        job_ids = await client.submit_texts(SENTENCES)
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
                print(f"  result hash 0x{result.result_hash.hex()}")
            else:
                print(f"  {result.status.name.lower()}: no quorum; the fee was refunded")
        print(f"\nall jobs final after {time.monotonic() - started:.1f}s")
        print(f"accepted {accepted} of {len(job_ids)} jobs", flush=True)
        return 0 if accepted == len(job_ids) else 1
    finally:
        await chain.close()


def main() -> None:
    from infera.localnet import LocalNetwork

    signal.signal(signal.SIGTERM, _stop_on_signal)
    run_dir = Path(tempfile.mkdtemp(prefix="infera-demo-"))
    code = 1
    try:
        with LocalNetwork(run_dir, block_time=1.0) as net:
            net.start_devnet()
            print(
                f"devnet: anvil --optimism, chain id {net.devnet.chain_id if net.devnet else '?'}, {net.rpc_url}",
                flush=True,
            )
            deployment = net.deploy()
            print(f"deployed: JobRegistry {deployment.contracts.JobRegistry}", flush=True)
            asyncio.run(net.register_nodes(NODE_ACCOUNTS))
            for index in NODE_ACCOUNTS:
                node = net.start_node(index)
                print(f"node {node.address} started (pid {node.process.pid})", flush=True)
            net.wait_nodes_ready()
            code = asyncio.run(run_jobs(net))
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
