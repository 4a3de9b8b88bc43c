"""Submitter: claims queued requests, sends them as one `JobRegistry.submit` per block through the
SDK's TxManager, and records the job ids the receipt's JobSubmitted events give.

The relayer's account pays every fee from its own INFER (each key's quota bounds what a caller
may spend of it). Crash safety rests on two writes that each come before the next step: the
claim (a batch row) is committed before the transaction exists, and the TxManager persists the
signed transaction, tagged `submit:<batch id>`, before broadcasting it. After a restart a claimed
batch whose tag the TxManager holds is resumed, one it does not hold was never sent and goes back
to the queue, and a sent one whose receipt exists is recorded from the receipt.

Several instances: each holds a lease (relayer.store, module docstring). Between claiming and
signing, `Store.begin_send` re-checks the lease in the transaction that moves the batch to
"sending"; an instance that stalled past its lease and lost the claim to another sends nothing.

Gasless batches (requests signed by their users, relayer.app) go out as one
`InferaForwarder.executeBatch` with this relayer as refund receiver, so an item that is expired or
whose nonce someone else used first is skipped and never reverts the batch. Each forwarded call's
JobSubmitted events precede its ExecutedForwardRequest(signer, nonce, success) in the receipt,
which is how job ids are told apart per request. A request relayed first by someone else is
found by its ExecutedForwardRequest event in that other transaction, and tracked from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog
from eth_utils.address import to_checksum_address
from web3.logs import DISCARD
from web3.types import TxReceipt

from infera.chain import Chain
from infera.errors import ContractRevert
from infera.gasless import Domains, SignedGaslessRequest, verify_gasless
from infera.txmanager import ManagedTx, TxManager, TxOutcome, TxState
from relayer.metrics import RelayerMetrics
from relayer.settings import RelayerSettings
from relayer.store import Batch, Lease, LeaseLost, Store

log = structlog.get_logger("relayer")
ACTION = "submit:"
APPROVE = "approve"
MAX_ALLOWANCE = 2**256 - 1
STALE_CLAIM_CHECK_S = 10.0
FRONT_RUN_LOOKBACK_BLOCKS = 5_000  # how far back a request relayed by someone else is looked for


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before a batch refused `attempts` times is tried again: doubling, capped."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass
class Submitter:
    chain: Chain
    txm: TxManager
    store: Store
    settings: RelayerSettings
    metrics: RelayerMetrics
    instance: str
    lease: Lease | None = None
    _last_sent_block: int = -1
    _last_stale_check: float = 0.0
    _last_heartbeat: float = 0.0

    async def start(self) -> None:
        await self.txm.start()
        self.lease = await self.store.acquire_lease(self.instance)
        self._last_heartbeat = time.monotonic()
        await self._resume()
        await self._ensure_allowance()

    async def _ensure_allowance(self) -> None:
        """One unlimited approval, so no submit waits for an approve of its own."""
        token, registry = self.chain.token, self.chain.jobs.address
        allowance = int(await token.functions.allowance(self.chain.address, registry).call())
        if allowance < MAX_ALLOWANCE // 2 and not self.txm.pending(APPROVE):
            await self.txm.send(APPROVE, [], token.functions.approve(registry, MAX_ALLOWANCE))
            log.info("approved the job registry to take fees", registry=registry)

    async def _resume(self) -> None:
        """Settle what a dead process left between claiming and recording (module docstring)."""
        for batch in await self.store.open_batches(self.instance):
            tx = self.txm.store.find(ACTION + batch.batch_id)
            if tx is None:
                # Never persisted as a transaction, so nothing reached the chain. (A sent batch
                # always has one: the TxManager stores it before mark_sent can run.)
                await self.store.release(batch.batch_id, "relayer restarted before sending", count_attempt=False)
                log.info("claim released after restart", batch=batch.batch_id, state=batch.state)
                continue
            if batch.state in ("claimed", "sending"):
                await self.store.mark_sent(batch.batch_id, tx.nonce, _hash(tx))
            # A receipt that poll() reported before the crash is not reported again: read it here.
            receipt = await self.txm.receipt_of(tx)
            if receipt is not None:
                await self._mined(batch.batch_id, receipt)
            elif tx.state is TxState.SUPERSEDED:
                await self.store.release(batch.batch_id, "nonce taken by another transaction", count_attempt=False)
            log.info("batch resumed", batch=batch.batch_id, nonce=tx.nonce, tx_state=tx.state.value,
                     mined=receipt is not None)

    # ---------------------------------------------------------------- loop
    async def tick(self) -> int:
        """Follow sent transactions, then send at most one new batch for this block. Returns the
        chain head."""
        for outcome in await self.txm.poll():
            await self._outcome(outcome)
        head = await self.chain.block_number()
        try:
            await self._heartbeat()
            if head > self._last_sent_block:
                batch = await self.store.claim(self.instance, self.settings.max_batch_jobs, self.settings.batch_linger,
                                               lease=self._lease())
                if batch is not None and await self._send(batch):
                    self._last_sent_block = head
        except LeaseLost as exc:
            await self._lost(exc)
        now = time.monotonic()
        if now - self._last_stale_check > STALE_CLAIM_CHECK_S:
            self._last_stale_check = now
            released = await self.store.take_over_claims(self.instance, self.settings.lease_timeout,
                                                         self.settings.claim_timeout)
            if released:
                log.warning("took over the claims of an instance whose lease expired", requests=released)
            pruned = await self.store.prune_leases(self.instance, self.settings.lease_prune_after)
            if pruned:
                log.info("pruned the lease rows of instances gone long ago", instances=pruned)
        return head

    def _lease(self) -> Lease:
        if self.lease is None:
            raise RuntimeError("Submitter.start() takes the lease; call it first")
        return self.lease

    async def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= self.settings.lease_timeout / 4:
            await self.store.renew_lease(self._lease())
            self._last_heartbeat = now

    async def _lost(self, exc: LeaseLost) -> None:
        """Stalled past the lease: the unsent claims are someone else's now. Work on under a new
        generation; batches already sending or sent stay ours (our TxManager holds them)."""
        self.lease = await self.store.acquire_lease(self.instance)
        self._last_heartbeat = time.monotonic()
        log.warning("lease lost; unsent claims were taken over, new lease taken", error=str(exc),
                    generation=self.lease.generation)

    async def _send(self, batch: Batch) -> bool:
        if not await self.store.begin_send(batch.batch_id, self._lease()):
            log.warning("claim taken over by another instance; not sending", batch=batch.batch_id)
            return False
        try:
            if batch.kind == "gasless":
                fn = self._forward_batch(batch)
            else:
                fee = (await self.chain.get_model(batch.model_id)).fee
                fn = self.chain.jobs.functions.submit(batch.model_id, batch.texts, fee, False)
            tx = await self.txm.send(ACTION + batch.batch_id, [], fn)
        except ContractRevert as exc:
            await self._refused(batch.batch_id, exc.name, str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - RPC faults: the batch waits, nothing is lost
            await self._refused(batch.batch_id, type(exc).__name__, f"{type(exc).__name__}: {exc}")
            return False
        await self.store.mark_sent(batch.batch_id, tx.nonce, _hash(tx))
        self.metrics.batches.inc()
        self.metrics.batch_jobs.observe(len(batch.texts))
        log.info("batch sent", batch=batch.batch_id, jobs=len(batch.texts), requests=len(batch.requests),
                 nonce=tx.nonce, tx=_hash(tx))
        return True

    def domains(self) -> Domains:
        c = self.chain.deployment.contracts
        return Domains(self.chain.deployment.chain_id, c.InferaForwarder, c.JobRegistry, c.InferToken)

    def _forward_batch(self, batch: Batch) -> Any:
        """executeBatch of the batch's signed requests (verified at intake; rebuilt from the
        stored bodies), refunds to this relayer: an invalid item is skipped, not fatal."""
        items = []
        for claimed in batch.requests:
            signed = SignedGaslessRequest.model_validate(claimed.signed)
            items.append(verify_gasless(signed, self.domains(), now=0, min_ttl=0)
                         .forward_request_data(self.chain.jobs.address))
        return self.chain.forwarder.functions.executeBatch(items, self.chain.address)

    async def _refused(self, batch_id: str, reason: str, error: str) -> None:
        """The chain (or the RPC) refused: back to the queue, later. A request is never dropped."""
        attempts = await self.store.batch_attempts(batch_id) + 1
        delay = backoff(attempts, self.settings.retry_base, self.settings.retry_max)
        released = await self.store.release(batch_id, error, delay)
        self.metrics.refusals.labels(reason=reason[:48]).inc()
        log.warning("batch refused; retrying later", batch=batch_id, reason=error, retry_in=delay, requests=released)

    async def _outcome(self, outcome: TxOutcome) -> None:
        action = outcome.tx.action
        if not action.startswith(ACTION):
            return
        batch_id = action[len(ACTION):]
        if outcome.receipt is None:
            # Our nonce was used by another transaction of this key: this one never ran.
            await self.store.release(batch_id, "nonce taken by another transaction", count_attempt=False)
            return
        await self._mined(batch_id, outcome.receipt)

    async def _mined(self, batch_id: str, receipt: TxReceipt) -> None:
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if receipt["status"] != 1:
            await self._refused(batch_id, "reverted", f"submit transaction {tx_hash} reverted on chain")
            return
        gasless = await self.store.gasless_of_batch(batch_id)
        if gasless:
            await self._mined_gasless(batch_id, receipt, gasless)
            return
        events = self.chain.jobs.events.JobSubmitted().process_receipt(receipt, errors=DISCARD)
        job_ids = [int(e["args"]["jobId"]) for e in sorted(events, key=lambda e: int(e["logIndex"]))]
        await self.store.mark_mined(batch_id, tx_hash, int(receipt["blockNumber"]), job_ids)
        log.info("batch mined", batch=batch_id, tx=tx_hash, first_job=job_ids[0], jobs=len(job_ids))


    async def _mined_gasless(self, batch_id: str, receipt: TxReceipt, gasless: list[tuple[str, dict[str, Any]]]) -> None:
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        block = int(receipt["blockNumber"])
        ran = self._forwarded(receipt)
        outcomes: dict[str, tuple[str, list[int]] | str] = {}
        for request_id, body in gasless:
            signed = SignedGaslessRequest.model_validate(body)
            key = (to_checksum_address(signed.from_), signed.nonce)
            found = ran.get(key)
            where = tx_hash
            if found is None:
                where, found = await self._relayed_elsewhere(key, block)
            if found is None:
                outcomes[request_id] = ("not run: the request expired, or its forwarder nonce was used by "
                                        "another request of its signer")
            elif not found[0]:
                outcomes[request_id] = (f"the signed call reverted in {where} (the signer's INFER balance or "
                                        "permit no longer covered the fee, or the model changed)")
            elif len(found[1]) != len(signed.texts):
                outcomes[request_id] = f"{len(found[1])} jobs for {len(signed.texts)} texts in {where}"
            else:
                outcomes[request_id] = (where, found[1])
        await self.store.mark_mined_gasless(batch_id, block, outcomes)
        log.info("gasless batch mined", batch=batch_id, tx=tx_hash, requests=len(gasless),
                 failed=sum(isinstance(o, str) for o in outcomes.values()))

    def _forwarded(self, receipt: TxReceipt) -> dict[tuple[str, int], tuple[bool, list[int]]]:
        """(signer, nonce) -> (success, job ids) of every forwarded call in a receipt."""
        submitted = self.chain.jobs.events.JobSubmitted().process_receipt(receipt, errors=DISCARD)
        executed = self.chain.forwarder.events.ExecutedForwardRequest().process_receipt(receipt, errors=DISCARD)
        out: dict[tuple[str, int], tuple[bool, list[int]]] = {}
        pending: list[int] = []
        for e in sorted([*submitted, *executed], key=lambda e: int(e["logIndex"])):
            if e["event"] == "JobSubmitted":
                pending.append(int(e["args"]["jobId"]))
            else:
                key = (to_checksum_address(e["args"]["signer"]), int(e["args"]["nonce"]))
                out[key] = (bool(e["args"]["success"]), pending)
                pending = []
        return out

    async def _relayed_elsewhere(self, key: tuple[str, int], block: int
                                 ) -> tuple[str, tuple[bool, list[int]] | None]:
        """A signed request skipped in our batch may have been relayed first by someone else
        (a front-run): find its ExecutedForwardRequest and read its jobs from that transaction."""
        start = max(self.chain.deployment.deployment_block, block - FRONT_RUN_LOOKBACK_BLOCKS)
        for e in await self.chain.logs(self.chain.forwarder, "ExecutedForwardRequest", start, block, signer=key[0]):
            if int(e["args"]["nonce"]) != key[1]:
                continue
            other = await self.chain.receipt(e["transactionHash"])
            if other is None:
                continue
            return "0x" + bytes(e["transactionHash"]).hex(), self._forwarded(other).get(key)
        return "", None


def _hash(tx: ManagedTx) -> str:
    return "0x" + bytes(tx.latest.tx_hash).hex()
