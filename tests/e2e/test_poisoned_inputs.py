"""Poisoned inputs never stop a node: raw submissions of bytes the SDK would refuse, then a
normal job, all on three real node processes.

Before the fix one input of four bytes of invalid UTF-8 made every node exit with a
UnicodeDecodeError while reading the job's event, and the next, normal job was never served.
Now every node reads the raw bytes, checks them against the stored hash, and embeds their
canonical text (UTF-8 with U+FFFD replacement), so honest nodes still agree on every job."""

from __future__ import annotations

import asyncio

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from infera.chain import Chain
from infera.client import InferaClient
from infera.devnet import DEVNET_KEYS
from infera.types import JobStatus
from infera_testing.localnet import LocalNetwork

POISON = [
    b"\xff\xfe\xfd\xfc",  # not UTF-8 at all
    b"nul\x00in\x00the\x00middle",
    "\U0001d538".encode() * 512,  # 2,048 bytes of 4-byte characters, the longest input allowed
    ("token " * 400).encode()[:2048],  # far past MiniLM's 512-token window
]
SUBMIT = keccak(text="submit(uint32,string[],uint96,bool)")[:4]


async def _poison_then_normal(net: LocalNetwork) -> list[JobStatus]:
    attacker = await net.connect(DEVNET_KEYS[8])  # public anvil test key, devnet only
    try:
        poisoned = await _raw_submit(attacker)
    finally:
        await attacker.close()
    chain = await net.connect()
    client = InferaClient(chain)
    try:
        [normal] = await client.submit_texts(["An honest question after the poison."])
        return [(await client.wait_for_result(job_id, timeout=240)).status for job_id in [*poisoned, normal]]
    finally:
        await chain.close()


async def _raw_submit(chain: Chain) -> list[int]:
    """Submit POISON in one raw transaction; returns the job ids."""
    model_id = next(iter(chain.deployment.models.values()))
    fee = (await chain.get_model(model_id)).fee
    await chain.transact(chain.token.functions.approve(chain.jobs.address, fee * len(POISON)))
    # A `string[]` is ABI-encoded exactly as `bytes[]`, which takes any bytes: what a raw
    # transaction can send although no well-behaved client would.
    data = SUBMIT + abi_encode(["uint32", "bytes[]", "uint96", "bool"], [model_id, POISON, fee, False])
    tx_hash = await chain.w3.eth.send_transaction({"from": chain.address, "to": chain.jobs.address, "data": data})
    receipt = await chain.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    first = int(await chain.jobs.functions.jobCount().call()) - len(POISON) + 1
    return list(range(first, first + len(POISON)))


def test_poisoned_inputs_are_served_and_never_stop_a_node(network: LocalNetwork) -> None:
    asyncio.run(network.register_nodes([1, 2, 3]))
    nodes = [network.start_node(i) for i in (1, 2, 3)]
    network.wait_nodes_ready()
    statuses = asyncio.run(_poison_then_normal(network))
    assert statuses == [JobStatus.ACCEPTED] * (len(POISON) + 1), statuses
    for node in nodes:
        assert node.process.poll() is None, f"node {node.index} exited:\n{node.log_text()[-3000:]}"
        assert '"job given up"' not in node.log_text()
