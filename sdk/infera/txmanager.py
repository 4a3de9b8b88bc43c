"""One writer per key: nonces and every signed attempt kept in SQLite, stuck transactions
re-priced, dropped and reorged-out ones re-sent, all of it resumed after a restart.

The shape follows Chainlink's transaction manager: a transaction is persisted, with its nonce and
its signed bytes, *before* it is broadcast, so a crash at any point leaves either nothing or a
record that the next `poll` broadcasts again. Nonces are handed out from the store, never from
the RPC's view alone, so two in-flight transactions never share one and none is skipped.

`poll` walks every open transaction in nonce order:
- a receipt for any of its attempts: mined (reported once), then confirmed once
  `confirmations` blocks deep, after which it is forgotten;
- a receipt in another block than before (a reorg whose new branch holds it too, maybe at
  another position, so whatever it created may have other ids): reported again;
- no receipt although it had one: reorged out, so it is open again and re-sent;
- its nonce already used on chain by a transaction that is not ours: superseded (reported,
  so the caller re-reads what it meant to change);
- not known to the RPC any more (dropped, or evicted when the base fee rose): re-sent, and
  re-priced if the RPC refuses its fee;
- known but still pending after `stuck_blocks` blocks: replaced with the same nonce and
  calldata at fees at least `bump_percent` higher (nodes refuse a replacement below +10%).
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import structlog
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract.async_contract import AsyncContractFunction
from web3.exceptions import TransactionNotFound
from web3.types import TxParams, TxReceipt

from infera.boundary import public_boundary
from infera.chain import ALREADY_SENT, Chain
from infera.storage import open_db, transaction

log = structlog.get_logger("infera")

# Errors an RPC gives for a raw transaction it already has, or that another of our attempts
# (same nonce) already replaced or got mined: sending again did no harm.
_ALREADY_SENT = (*ALREADY_SENT, "replacement transaction underpriced", "transaction already")
# Errors that mean the fee is below what the next block needs: re-price, then send again.
_FEE_TOO_LOW = ("max fee per gas less than block base fee", "fee cap less than block base fee",
                "underpriced", "feecap")


class TxState(StrEnum):
    PENDING = "pending"  # persisted; broadcast or about to be; no receipt seen
    MINED = "mined"  # a receipt seen, fewer than `confirmations` blocks deep
    CONFIRMED = "confirmed"  # deep enough to be reported final; forgotten soon after
    SUPERSEDED = "superseded"  # the nonce was used on chain by a transaction that is not ours


@dataclass(frozen=True)
class TxAttempt:
    """One signed version of a managed transaction (the first, or a fee-bumped replacement)."""

    tx_hash: HexBytes
    raw: bytes
    max_fee: int
    priority_fee: int
    sent_block: int


@dataclass
class ManagedTx:
    nonce: int
    action: str
    job_ids: list[int]
    to: str
    data: bytes
    gas: int
    state: TxState
    created: float
    attempts: list[TxAttempt] = field(default_factory=list)
    mined_block: int | None = None
    # Hash of the block it was seen mined in (persisted: after a restart a receipt found in
    # another block is reported again). While that block is canonical the receipt is unchanged.
    mined_hash: bytes | None = None

    @property
    def latest(self) -> TxAttempt:
        return self.attempts[-1]


@dataclass(frozen=True)
class TxOutcome:
    """A managed transaction seen mined (receipt) or superseded (receipt None)."""

    tx: ManagedTx
    receipt: TxReceipt | None


@dataclass
class TxCounters:
    """What the manager did, for metrics (read and reset by whoever exports them)."""

    sent: int = 0
    bumped: int = 0
    resent: int = 0
    reorged: int = 0
    superseded: int = 0


class TxStore:
    """SQLite tables `managed_tx` and `tx_attempt`, in the caller's database file (a node keeps
    them beside its work). Every write is one transaction, fsynced before the broadcast."""

    def __init__(self, path: Path) -> None:
        self._db = open_db(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS managed_tx (nonce INTEGER PRIMARY KEY, action TEXT NOT NULL,"
            " job_ids TEXT NOT NULL, to_addr TEXT NOT NULL, data BLOB NOT NULL, gas INTEGER NOT NULL,"
            " state TEXT NOT NULL, created REAL NOT NULL, mined_block INTEGER)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tx_attempt (tx_hash BLOB PRIMARY KEY, nonce INTEGER NOT NULL,"
            " raw BLOB NOT NULL, max_fee INTEGER NOT NULL, priority_fee INTEGER NOT NULL,"
            " sent_block INTEGER NOT NULL, seq INTEGER NOT NULL)"
        )
        columns = {str(r[1]) for r in self._db.execute("PRAGMA table_info(managed_tx)").fetchall()}
        if "mined_hash" not in columns:  # a store written before the column existed
            self._db.execute("ALTER TABLE managed_tx ADD COLUMN mined_hash BLOB")

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db)

    def insert(self, tx: ManagedTx) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO managed_tx (nonce, action, job_ids, to_addr, data, gas, state, created, mined_block,"
                " mined_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (tx.nonce, tx.action, json.dumps(tx.job_ids), tx.to, tx.data, tx.gas, tx.state.value, tx.created,
                 tx.mined_block, tx.mined_hash),
            )
            for seq, attempt in enumerate(tx.attempts):
                self._insert_attempt(tx.nonce, attempt, seq)

    def add_attempt(self, tx: ManagedTx, attempt: TxAttempt) -> None:
        with self._transaction():
            self._insert_attempt(tx.nonce, attempt, len(tx.attempts))
        tx.attempts.append(attempt)

    def _insert_attempt(self, nonce: int, a: TxAttempt, seq: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO tx_attempt VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (bytes(a.tx_hash), nonce, a.raw, a.max_fee, a.priority_fee, a.sent_block, seq))

    def update(self, tx: ManagedTx) -> None:
        self._db.execute("UPDATE managed_tx SET state=?, mined_block=?, mined_hash=? WHERE nonce=?",
                         (tx.state.value, tx.mined_block, tx.mined_hash, tx.nonce))

    def forget_settled(self, keep: int) -> None:
        """Drop confirmed and superseded records beyond the newest `keep` (they are history)."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM tx_attempt WHERE nonce IN (SELECT nonce FROM managed_tx WHERE state IN (?, ?)"
                " ORDER BY nonce DESC LIMIT -1 OFFSET ?)", (TxState.CONFIRMED.value, TxState.SUPERSEDED.value, keep))
            self._db.execute(
                "DELETE FROM managed_tx WHERE nonce IN (SELECT nonce FROM managed_tx WHERE state IN (?, ?)"
                " ORDER BY nonce DESC LIMIT -1 OFFSET ?)", (TxState.CONFIRMED.value, TxState.SUPERSEDED.value, keep))

    def open(self) -> list[ManagedTx]:
        """Pending and mined-but-unconfirmed transactions, in nonce order, with their attempts."""
        return self._load("state IN (?, ?)", (TxState.PENDING.value, TxState.MINED.value))

    def find(self, action: str) -> ManagedTx | None:
        """The newest transaction of `action`, in any state (settled ones until forget_settled
        drops them): a caller that tags each transaction with its own id (the relayer's
        `submit:<batch>`) finds out after a crash whether, and how, it was sent."""
        found = self._load("action = ?", (action,))
        return found[-1] if found else None

    def _load(self, where: str, params: tuple[str, ...]) -> list[ManagedTx]:
        rows = self._db.execute(
            "SELECT nonce, action, job_ids, to_addr, data, gas, state, created, mined_block, mined_hash FROM managed_tx"
            f" WHERE {where} ORDER BY nonce", params).fetchall()
        out = []
        for r in rows:
            tx = ManagedTx(int(r[0]), str(r[1]), [int(j) for j in json.loads(r[2])], str(r[3]), bytes(r[4]), int(r[5]),
                           TxState(r[6]), float(r[7]), mined_block=None if r[8] is None else int(r[8]),
                           mined_hash=None if r[9] is None else bytes(r[9]))
            tx.attempts = [
                TxAttempt(HexBytes(a[0]), bytes(a[1]), int(a[2]), int(a[3]), int(a[4]))
                for a in self._db.execute("SELECT tx_hash, raw, max_fee, priority_fee, sent_block FROM tx_attempt"
                                          " WHERE nonce=? ORDER BY seq", (tx.nonce,)).fetchall()
            ]
            out.append(tx)
        return out

    def next_nonce(self) -> int | None:
        row = self._db.execute("SELECT MAX(nonce) FROM managed_tx").fetchone()
        return None if row[0] is None else int(row[0]) + 1


@public_boundary
@dataclass
class TxManager:
    """The only sender for one key while it runs (see the module docstring). Its public
    coroutines raise InferaError subclasses only (infera.boundary)."""

    chain: Chain
    store: TxStore
    confirmations: int = 3
    stuck_blocks: int = 4
    bump_percent: int = 25
    max_fee_cap: int | None = None  # wei per gas; None: no cap
    counters: TxCounters = field(default_factory=TxCounters)
    _nonce: int | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _open: list[ManagedTx] = field(default_factory=list)

    async def start(self) -> None:
        """Resume: the next nonce is past both the chain's pending count and every nonce stored
        (a persisted transaction the crash kept from being broadcast still owns its nonce)."""
        w3 = self.chain.w3
        on_chain = int(await w3.eth.get_transaction_count(self.chain.address, "pending"))
        self._nonce = max(on_chain, self.store.next_nonce() or 0)
        self._open = self.store.open()
        if self._open:
            log.info("resuming transactions", pending=[t.nonce for t in self._open], next_nonce=self._nonce)

    # ------------------------------------------------------------------ sending
    async def send(self, action: str, job_ids: list[int], fn: AsyncContractFunction, gas: int | None = None) -> ManagedTx:
        """Simulate `fn` (a revert raises the contract's error and sends nothing), then sign, persist
        and broadcast it with the next nonce. Returns at once; `poll` follows it up."""
        estimated = await self.chain.simulate(fn)
        async with self._lock:
            if self._nonce is None:
                raise RuntimeError("TxManager.start() has not run")
            max_fee, priority, head = await self._fees()
            params: TxParams = {"from": self.chain.address, "nonce": cast(Any, self._nonce), "gas": gas or self.chain.gas_limit_for(estimated),
                                "maxFeePerGas": cast(Any, max_fee), "maxPriorityFeePerGas": cast(Any, priority)}
            built = await fn.build_transaction(params)
            tx = ManagedTx(self._nonce, action, list(job_ids), to_checksum_address(str(built["to"])),
                           bytes(HexBytes(built["data"])), int(built["gas"]), TxState.PENDING, time.time())
            attempt = self._sign(tx, max_fee, priority, head)
            tx.attempts.append(attempt)
            self.store.insert(tx)  # before the broadcast: a crash now leaves a record to re-send
            self._nonce += 1
            self._open.append(tx)
        self.counters.sent += 1
        await self._broadcast(tx, attempt)
        return tx

    async def _fees(self, floor: tuple[int, int] | None = None) -> tuple[int, int, int]:
        """EIP-1559 fees for the next block: twice its base fee plus the tip, so that the
        transaction survives a few blocks of rising base fee; at least `floor` raised by
        bump_percent when replacing. Also the current head (the pending block's parent)."""
        w3 = self.chain.w3
        block = await w3.eth.get_block("pending")
        # Some clients leave a pending block's number out; then ask for the head itself.
        number = block.get("number")
        head = int(number) - 1 if number is not None else int(await w3.eth.block_number)
        base = int(block.get("baseFeePerGas", 0) or 0)
        priority = int(await w3.eth.max_priority_fee)
        max_fee = 2 * base + priority
        if floor is not None:
            bump = 100 + self.bump_percent
            priority = max(priority, floor[1] * bump // 100 + 1)
            max_fee = max(max_fee, floor[0] * bump // 100 + 1, base + priority)
        if self.max_fee_cap is not None and max_fee > self.max_fee_cap:
            log.warning("fee capped", wanted=max_fee, cap=self.max_fee_cap)
            max_fee = self.max_fee_cap
            priority = min(priority, max_fee)
        return max_fee, priority, head

    def _sign(self, tx: ManagedTx, max_fee: int, priority: int, head: int) -> TxAttempt:
        account = self.chain.account
        assert account is not None
        fields: dict[str, Any] = {"to": tx.to, "data": tx.data, "gas": tx.gas, "nonce": tx.nonce, "value": 0, "type": 2,
                  "chainId": self.chain.deployment.chain_id, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority}
        signed = account.sign_transaction(fields)
        return TxAttempt(HexBytes(signed.hash), bytes(signed.raw_transaction), max_fee, priority, head)

    async def _broadcast(self, tx: ManagedTx, attempt: TxAttempt) -> bool:
        """Send signed bytes; True when the RPC has them (or had them). A refused fee re-prices
        at once; any other refusal is left to the next poll."""
        try:
            await self.chain.w3.eth.send_raw_transaction(attempt.raw)
            return True
        except Exception as exc:  # noqa: BLE001 - every refusal is judged by its message
            message = str(exc).lower()
            if any(s in message for s in _ALREADY_SENT):
                return True
            if any(s in message for s in _FEE_TOO_LOW):
                log.info("fee refused; re-pricing", nonce=tx.nonce, action=tx.action, error=str(exc))
                await self._replace(tx)
                return True
            log.warning("broadcast failed; will retry", nonce=tx.nonce, action=tx.action, error=str(exc),
                        kind=type(exc).__name__)
            return False

    async def _replace(self, tx: ManagedTx) -> None:
        """A new attempt at the same nonce and calldata with fees above the last attempt's."""
        last = tx.latest
        max_fee, priority, head = await self._fees(floor=(last.max_fee, last.priority_fee))
        attempt = self._sign(tx, max_fee, priority, head)
        self.store.add_attempt(tx, attempt)
        self.counters.bumped += 1
        log.info("transaction replaced", nonce=tx.nonce, action=tx.action, tx="0x" + bytes(attempt.tx_hash).hex(),
                 max_fee=max_fee, priority_fee=priority)
        try:
            await self.chain.w3.eth.send_raw_transaction(attempt.raw)
        except Exception as exc:  # noqa: BLE001 - the next poll tries again
            log.warning("replacement not accepted; will retry", nonce=tx.nonce, error=str(exc))

    # ----------------------------------------------------------------- follow-up
    def busy_jobs(self) -> set[int]:
        """Jobs with a transaction not yet mined: a second one for them would only race."""
        return {j for t in self._open if t.state is TxState.PENDING for j in t.job_ids}

    def pending(self, action: str | None = None) -> list[ManagedTx]:
        """Transactions not yet mined (of one action, if given)."""
        return [t for t in self._open if t.state is TxState.PENDING and action in (None, t.action)]

    def pending_count(self) -> int:
        return len(self.pending())

    async def poll(self) -> list[TxOutcome]:
        """Follow every open transaction one step (see the module docstring); returns those
        seen mined for the first time (or again, after a reorg) and those superseded."""
        async with self._lock:
            if not self._open:
                return []
            w3 = self.chain.w3
            head = int(await w3.eth.block_number)
            used = int(await w3.eth.get_transaction_count(self.chain.address, "latest"))
            outcomes: list[TxOutcome] = []
            canonical: dict[int, bytes | None] = {}
            settled = False
            for tx in list(self._open):
                before = (tx.state, tx.mined_block, tx.mined_hash)
                outcome = await self._follow(tx, head, used, canonical)
                if outcome is not None:
                    outcomes.append(outcome)
                if tx.state in (TxState.CONFIRMED, TxState.SUPERSEDED):
                    self._open.remove(tx)
                    settled = True
                if (tx.state, tx.mined_block, tx.mined_hash) != before:
                    self.store.update(tx)
            if settled:
                self.store.forget_settled(keep=256)
            return outcomes

    async def _follow(self, tx: ManagedTx, head: int, used: int, canonical: dict[int, bytes | None]) -> TxOutcome | None:
        if tx.state is TxState.MINED and tx.mined_block is not None and tx.mined_hash is not None:
            # Waiting for depth: one block-hash read (shared by every transaction of that block)
            # instead of the whole receipt again on every poll.
            if tx.mined_block not in canonical:
                found = await self.chain.block_hash(tx.mined_block)
                canonical[tx.mined_block] = None if found is None else bytes(found)
            if canonical[tx.mined_block] == tx.mined_hash:
                self._settle_depth(tx, head)
                return None
        receipt = await self.receipt_of(tx)
        if receipt is not None:
            block_hash = bytes(receipt["blockHash"])
            # Mined before, now in another block: a reorg whose new branch holds it too. What it
            # did may have come out differently there (other job ids), so report it again.
            moved = tx.state is TxState.MINED and tx.mined_hash is not None and tx.mined_hash != block_hash
            if moved:
                self.counters.reorged += 1
                log.warning("transaction re-mined in another block after a reorg", nonce=tx.nonce, action=tx.action,
                            block=tx.mined_block, new_block=int(receipt["blockNumber"]))
            first_sight = tx.state is TxState.PENDING or moved
            tx.mined_block, tx.mined_hash = int(receipt["blockNumber"]), block_hash
            self._settle_depth(tx, head)
            return TxOutcome(tx, receipt) if first_sight else None
        if tx.state is TxState.MINED:
            self.counters.reorged += 1
            log.warning("transaction reorged out; re-sending", nonce=tx.nonce, action=tx.action, block=tx.mined_block)
            tx.state, tx.mined_block, tx.mined_hash = TxState.PENDING, None, None
        if tx.nonce < used and await self._superseded(tx):
            # Our nonce was consumed, and by none of our attempts: something else signed with
            # this key. The caller re-reads what this transaction was meant to change.
            tx.state = TxState.SUPERSEDED
            self.counters.superseded += 1
            log.warning("nonce used by another transaction", nonce=tx.nonce, action=tx.action)
            return TxOutcome(tx, None)
        if not await self._known(tx.latest):
            self.counters.resent += 1
            log.info("transaction not in the pool; re-sending", nonce=tx.nonce, action=tx.action,
                     tx="0x" + bytes(tx.latest.tx_hash).hex())
            await self._broadcast(tx, tx.latest)
        elif head - tx.latest.sent_block >= self.stuck_blocks:
            await self._replace(tx)
        return None

    def _settle_depth(self, tx: ManagedTx, head: int) -> None:
        assert tx.mined_block is not None
        tx.state = TxState.CONFIRMED if head - tx.mined_block + 1 >= self.confirmations else TxState.MINED

    async def _superseded(self, tx: ManagedTx) -> bool:
        """Whether the nonce is used by a transaction that is not ours, asked again now: `used`
        was read before this transaction's receipt was looked up, so a reorg in between (ours
        mined then, gone now) would otherwise read as a stranger's transaction, and the caller
        would send what this one carries a second time once it is re-mined. The count first,
        then the receipt: ours mined meanwhile shows up in the second read."""
        used = int(await self.chain.w3.eth.get_transaction_count(self.chain.address, "latest"))
        return tx.nonce < used and await self.receipt_of(tx) is None

    async def receipt_of(self, tx: ManagedTx) -> TxReceipt | None:
        """The receipt of whichever of the transaction's attempts was mined (newest first), or
        None while none is."""
        for attempt in reversed(tx.attempts):
            receipt = await self.chain.receipt(attempt.tx_hash)
            if receipt is not None:
                return receipt
        return None

    async def _known(self, attempt: TxAttempt) -> bool:
        try:
            await self.chain.w3.eth.get_transaction(attempt.tx_hash)
            return True
        except TransactionNotFound:
            return False
