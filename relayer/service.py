"""`infera-relayer run`: the queue, the chain connection, the submitter and tracker loops and the
HTTP server in one process, stopped cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from infera.chain import Chain
from infera.deployment import load_deployment
from infera.keylock import KeyLock
from infera.txmanager import TxManager, TxStore
from relayer.app import Liveness, Services, make_app
from relayer.keeper import RelayerKeeper
from relayer.metrics import RelayerMetrics
from relayer.migrate import upgrade
from relayer.settings import RelayerChainSettings, RelayerSettings
from relayer.store import Store
from relayer.submitter import Submitter
from relayer.tracker import Tracker

log = structlog.get_logger("relayer")


def instance_name(settings: RelayerSettings) -> str:
    return settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"


async def _loop(name: str, tick: Callable[[], Awaitable[object]], interval: float, mark: Callable[[], None],
                stop: asyncio.Event) -> None:
    """Tick until stopped; a failed tick is logged and the next one tries again (an RPC or
    database hiccup must not end the relayer)."""
    while not stop.is_set():
        try:
            await tick()
            mark()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged; the loop goes on
            log.warning("tick failed", loop=name, error=f"{type(exc).__name__}: {exc}")
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass


async def run(settings: RelayerSettings, chain_settings: RelayerChainSettings) -> None:
    if chain_settings.private_key is None:
        raise SystemExit("infera-relayer: set INFERA_PRIVATE_KEY: the relayer signs and pays for submissions")
    await asyncio.to_thread(upgrade, settings.database_url)
    deployment = load_deployment(chain_settings.network, chain_settings.deployments_dir)
    chain = await Chain.connect(chain_settings.endpoints(), deployment, chain_settings.private_key.get_secret_value(),
                                retry_for=chain_settings.rpc_retry_for)
    store = Store.open(settings.database_url)
    lock = KeyLock(settings.state_dir, chain.address, "run", program="infera-relayer")
    lock.acquire()  # one process per key: two would reuse nonces
    instance = instance_name(settings)
    metrics = RelayerMetrics()
    liveness = Liveness()
    txm = TxManager(chain, TxStore(settings.state_dir / f"relayer-tx-{chain.address.lower()}.db"),
                    confirmations=settings.confirmations, stuck_blocks=settings.stuck_blocks,
                    bump_percent=settings.fee_bump_percent)
    submitter = Submitter(chain, txm, store, settings, metrics, instance)
    tracker = Tracker(chain, store, metrics)
    # One TxManager per key: the keeper signs with the submitter's (whose tick polls it).
    keeper = RelayerKeeper.build(chain, store, txm, settings.keeper_grace, metrics) if settings.keeper_enabled else None
    runner: web.AppRunner | None = None
    try:
        await submitter.start()
        runner = web.AppRunner(make_app(Services(settings, store, deployment, chain, metrics, liveness=liveness)),
                               access_log=None)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        port = int(runner.addresses[0][1])
        log.info("relayer listening", host=settings.host, port=port, instance=instance, address=chain.address)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def submit_tick() -> None:
            liveness.head = await submitter.tick()

        def mark_submitter() -> None:
            liveness.submitter = time.time()

        def mark_tracker() -> None:
            liveness.tracker = time.time()

        loops = [
            _loop("submitter", submit_tick, settings.poll_interval, mark_submitter, stop),
            _loop("tracker", tracker.tick, settings.poll_interval, mark_tracker, stop),
        ]
        if keeper is not None:
            loops.append(_loop("keeper", keeper.tick, settings.keeper_interval, lambda: None, stop))
        await asyncio.gather(*loops)
        log.info("relayer stopping")
    finally:
        if runner is not None:
            await runner.cleanup()
        txm.store.close()
        await store.close()
        await chain.close()
        lock.release()
