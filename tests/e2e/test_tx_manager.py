"""The transaction manager against a real anvil: dropped, stuck, reorged-out and superseded
transactions, and a crash between persisting a transaction and broadcasting it.

Each test drives anvil's mining by hand (automine off) so that a transaction can be caught in
the pool, dropped from it, priced out of it, or mined and then reorged away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from infera.devnet import DEVNET_KEYS, rpc_call
from infera.txmanager import TxManager, TxState, TxStore
from infera_testing.localnet import LocalNetwork

KEY = DEVNET_KEYS[7]  # public anvil test key, devnet only
SPENDER = Account.from_key(DEVNET_KEYS[8]).address


def _rpc(net: LocalNetwork, method: str, *params: object) -> Any:
    return rpc_call(net.rpc_url, method, list(params))


def _pause_mining(net: LocalNetwork) -> None:
    _rpc(net, "evm_setAutomine", False)
    _rpc(net, "evm_setIntervalMining", 0)


@asynccontextmanager
async def _manager(net: LocalNetwork, db: Path, **kwargs: Any) -> AsyncIterator[TxManager]:
    chain = await net.connect(KEY)
    txm = TxManager(chain, TxStore(db), **kwargs)
    await txm.start()
    try:
        yield txm
    finally:
        txm.store.close()
        await chain.close()


def _approve(txm: TxManager, amount: int) -> Any:
    return txm.chain.token.functions.approve(SPENDER, amount)


async def _allowance(txm: TxManager) -> int:
    return int(await txm.chain.token.functions.allowance(txm.chain.address, SPENDER).call())


async def _poll_until(txm: TxManager, done: Callable[[], Coroutine[Any, Any, bool]], mine: Callable[[], None],
                      rounds: int = 20) -> None:
    for _ in range(rounds):
        await txm.poll()
        if await done():
            return
        mine()
        await asyncio.sleep(0.05)
    raise AssertionError("the manager never got the transaction mined")


def _run(net: LocalNetwork, body: Callable[[LocalNetwork], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body(net))


def test_a_dropped_transaction_is_sent_again(network: LocalNetwork, tmp_path: Path) -> None:
    async def body(net: LocalNetwork) -> None:
        async with _manager(net, tmp_path / "tx.sqlite3") as txm:
            _pause_mining(net)
            sent = await txm.send("approve", [], _approve(txm, 11))
            _rpc(net, "anvil_dropTransaction", "0x" + bytes(sent.latest.tx_hash).hex())
            assert _rpc(net, "eth_getTransactionByHash", "0x" + bytes(sent.latest.tx_hash).hex()) is None
            await txm.poll()
            assert txm.counters.resent == 1
            await _poll_until(txm, lambda: _has_allowance(txm, 11), lambda: _rpc(net, "evm_mine"))

    _run(network, body)


async def _has_allowance(txm: TxManager, amount: int) -> bool:
    return await _allowance(txm) == amount


def test_a_stuck_transaction_is_replaced_at_a_higher_fee(network: LocalNetwork, tmp_path: Path) -> None:
    async def body(net: LocalNetwork) -> None:
        async with _manager(net, tmp_path / "tx.sqlite3", stuck_blocks=2) as txm:
            _pause_mining(net)
            sent = await txm.send("approve", [], _approve(txm, 12))
            first_fee = sent.latest.max_fee
            # The base fee jumps far above what the transaction offers: it cannot be included.
            _rpc(net, "anvil_setNextBlockBaseFeePerGas", hex(first_fee * 50))
            await _poll_until(txm, lambda: _has_allowance(txm, 12), lambda: _rpc(net, "evm_mine"))
            assert txm.counters.bumped >= 1
            assert sent.latest.max_fee > first_fee and len(sent.attempts) >= 2  # same nonce, new attempts

    _run(network, body)


def test_reorged_out_transactions_are_sent_again_in_nonce_order(network: LocalNetwork, tmp_path: Path) -> None:
    async def body(net: LocalNetwork) -> None:
        async with _manager(net, tmp_path / "tx.sqlite3", confirmations=10) as txm:
            # One transaction per block, mined by hand: no heartbeat block may slip between them,
            # so the last three blocks hold exactly these three.
            _pause_mining(net)
            sent = []
            for amount in (21, 22, 23):
                sent.append(await txm.send("approve", [], _approve(txm, amount)))
                _rpc(net, "evm_mine")
            outcomes = await txm.poll()
            assert [o.tx.nonce for o in outcomes] == [t.nonce for t in sent]
            assert await _allowance(txm) == 23
            before = int(_rpc(net, "eth_getTransactionCount", txm.chain.address, "latest"), 16)
            _rpc(net, "anvil_reorg", 3, [])  # the three blocks holding them are replaced
            assert int(_rpc(net, "eth_getTransactionCount", txm.chain.address, "latest"), 16) == before - 3
            await txm.poll()
            assert txm.counters.reorged == 3 and all(t.state is TxState.PENDING for t in sent)
            await _poll_until(txm, lambda: _all_mined_again(txm, before), lambda: _rpc(net, "evm_mine"))
            assert await _allowance(txm) == 23  # the last of them, so they landed in order

    _run(network, body)


async def _all_mined_again(txm: TxManager, nonce: int) -> bool:
    return int(await txm.chain.w3.eth.get_transaction_count(txm.chain.address, "latest")) == nonce


def test_a_crash_before_the_broadcast_leaves_a_record_that_is_sent_after_restart(
    network: LocalNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "tx.sqlite3"

    async def crash(self: TxManager, tx: object, attempt: object) -> bool:
        raise KeyboardInterrupt("killed between the store and the broadcast")

    async def body(net: LocalNetwork) -> None:
        async with _manager(net, db) as txm:
            first = int(await txm.chain.w3.eth.get_transaction_count(txm.chain.address, "pending"))
            with monkeypatch.context() as patch:
                patch.setattr(TxManager, "_broadcast", crash)
                with pytest.raises(KeyboardInterrupt):
                    await txm.send("approve", [], _approve(txm, 31))
            assert await _allowance(txm) == 0
        async with _manager(net, db) as restarted:
            assert [t.nonce for t in restarted.pending()] == [first]  # resumed from the store
            await _poll_until(restarted, lambda: _has_allowance(restarted, 31), lambda: None)
            # The next transaction takes the next nonce: no gap, no reuse.
            following = await restarted.send("approve", [], _approve(restarted, 32))
            assert following.nonce == first + 1
            await _poll_until(restarted, lambda: _has_allowance(restarted, 32), lambda: None)

    _run(network, body)


def test_a_nonce_taken_by_another_sender_is_reported_superseded(network: LocalNetwork, tmp_path: Path) -> None:
    async def body(net: LocalNetwork) -> None:
        async with _manager(net, tmp_path / "tx.sqlite3") as txm:
            _pause_mining(net)
            sent = await txm.send("approve", [7], _approve(txm, 41))
            _rpc(net, "anvil_dropTransaction", "0x" + bytes(sent.latest.tx_hash).hex())
            # Someone else signs with the same key and the same nonce (an operator script).
            other = await net.connect(KEY)
            try:
                await other.send(other.token.functions.approve(SPENDER, 42))
            finally:
                await other.close()
            _rpc(net, "evm_mine")
            outcomes = await txm.poll()
            assert [(o.tx.nonce, o.receipt) for o in outcomes] == [(sent.nonce, None)]
            assert sent.state is TxState.SUPERSEDED and txm.pending() == []
            assert await _allowance(txm) == 42

    _run(network, body)


def test_the_raw_receipt_reads_as_web3s_own(network: LocalNetwork, tmp_path: Path) -> None:
    """Chain.receipt converts the JSON receipt by hand (web3's formatters are slow on big
    batches): every field it gives, and the events decoded from it, must equal web3's."""
    async def body(net: LocalNetwork) -> None:
        async with _manager(net, tmp_path / "tx.sqlite3") as txm:
            sent = await txm.send("approve", [], _approve(txm, 31))
            ours = await txm.chain.receipt(sent.latest.tx_hash)
            theirs = await txm.chain.w3.eth.get_transaction_receipt(sent.latest.tx_hash)
            assert ours is not None and ours["logs"]
            for key, value in ours.items():
                if key == "logs":
                    for mine, web3s in zip(value, theirs["logs"], strict=True):
                        assert {k: web3s[k] for k in mine} == dict(mine)
                else:
                    assert value == theirs[key], key  # type: ignore[literal-required]
            event = txm.chain.token.events.Approval()
            assert [dict(e) for e in event.process_receipt(ours)] == [dict(e) for e in event.process_receipt(theirs)]

    _run(network, body)
