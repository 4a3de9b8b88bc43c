"""A reorg that lands inside one `TxManager.poll`, against a real anvil behind a proxy that runs
the reorg at the worst moment: right after the manager read how many nonces the chain has used
(ours among them), before it looks at our transaction's block and receipt. The transaction is then gone from the chain, and
the stale count says its nonce was used: read as a stranger's transaction (superseded), its
caller would send what it carried a second time. It must instead be open and sent again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from eth_account import Account

from infera.chain import Chain
from infera.devnet import DEVNET_KEYS, rpc_call
from infera.txmanager import TxManager, TxState, TxStore
from infera_testing.localnet import LocalNetwork
from support.rpc_proxy import FlakyProxy

KEY = DEVNET_KEYS[7]  # public anvil test key, devnet only
SPENDER = Account.from_key(DEVNET_KEYS[8]).address


class ReorgingProxy(FlakyProxy):
    """Forwards JSON-RPC; once armed, the next nonce count is followed by `anvil_reorg 1`, run
    after anvil answered the count and before the answer goes back."""

    armed = False
    reorged = False

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with aiohttp.ClientSession() as session:
            async with session.post(self.upstream, data=body, headers={"Content-Type": "application/json"}) as upstream:
                answer, status = await upstream.read(), upstream.status
            if self.armed and b"eth_getTransactionCount" in body:
                self.armed = False
                reorg = {"jsonrpc": "2.0", "id": 1, "method": "anvil_reorg", "params": [1, []]}
                async with session.post(self.upstream, json=reorg) as r:
                    self.reorged = "error" not in await r.json()
        return web.Response(body=answer, status=status, content_type="application/json")


def _rpc(net: LocalNetwork, method: str, *params: object) -> Any:
    return rpc_call(net.rpc_url, method, list(params))


async def _race(net: LocalNetwork, proxy: ReorgingProxy, db: Path) -> None:
    assert net.deployment is not None
    chain = await Chain.connect(proxy.url, net.deployment, KEY)
    txm = TxManager(chain, TxStore(db), confirmations=10)
    await txm.start()
    try:
        _rpc(net, "evm_setAutomine", False)
        _rpc(net, "evm_setIntervalMining", 0)
        sent = await txm.send("approve", [], chain.token.functions.approve(SPENDER, 31))
        _rpc(net, "evm_mine")
        assert [o.tx.nonce for o in await txm.poll()] == [sent.nonce]
        proxy.armed = True
        assert await txm.poll() == []  # the reorg lands right after the nonce count
        assert proxy.reorged and txm.counters.reorged == 1
        assert txm.counters.superseded == 0 and sent.state is TxState.PENDING, sent.state
        for _ in range(20):  # sent again, mined again, reported again
            _rpc(net, "evm_mine")
            if [o for o in await txm.poll() if o.receipt is not None]:
                break
            await asyncio.sleep(0.05)
        assert int(await chain.token.functions.allowance(chain.address, SPENDER).call()) == 31
        assert sent.state is TxState.MINED
    finally:
        txm.store.close()
        await chain.close()


def test_a_reorg_inside_one_poll_is_not_taken_for_a_stranger_s_transaction(network: LocalNetwork,
                                                                          tmp_path: Path) -> None:
    with ReorgingProxy(network.rpc_url) as proxy:
        asyncio.run(_race(network, proxy, tmp_path / "tx.sqlite3"))
