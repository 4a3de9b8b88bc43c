"""Straight to the chain: the caller's key approves INFER, signs JobRegistry.submit and pays gas.

A submission is never paid twice. Each batch's transaction is signed once, with its nonce fixed,
and its bytes and hash are kept under the call's idempotency key. Until a receipt comes, the same
bytes are sent again (a node answers "already known", or "nonce too low" once mined); when the
confirmation does not come in time the call raises SubmitUnconfirmed, and a later submit with the
same key goes on waiting for those same transactions rather than signing new ones. What was
signed is journaled on disk before it is first sent (transport/journal.py), so that holds across
a crash or a restart of the caller too.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from infera.chain import Chain
from infera.errors import (
    ContractRevert,
    InferaError,
    InsufficientBalance,
    RpcUnreachable,
    SubmitReplaced,
    SubmitUnconfirmed,
    TransactionFailed,
)
from infera.inputs import canonical_text
from infera.results import FeeQuote, JobRef, JobResult, PairCosine
from infera.transport.journal import JournalBatch, SubmitJournal, submission_digest
from infera.types import JobStatus
from infera.vectors import PPM, cosine, unpack

log = structlog.get_logger("infera.client")
MAX_BATCH = 64  # texts per submit transaction (the contract's batch limit)
RECEIPT_POLL_S = 0.25
UNKNOWN_JOB = "JobRegistryUnknownJob"


@dataclass(frozen=True)
class _Signed:
    """One signed submit transaction."""

    raw: HexBytes
    tx_hash: HexBytes
    nonce: int

    @property
    def hash_hex(self) -> str:
        return "0x" + bytes(self.tx_hash).hex()


class ChainTransport:
    name = "chain"

    def __init__(self, chain: Chain, receipt_timeout: float = 60.0, rebroadcast_every: float = 5.0,
                 journal: SubmitJournal | None = None) -> None:
        self.chain = chain
        self.receipt_timeout = receipt_timeout
        self.rebroadcast_every = rebroadcast_every
        # Without a file, retries are safe within this process only.
        self.journal = journal or SubmitJournal(Path(":memory:"))

    async def close(self) -> None:
        self.journal.close()
        await self.chain.close()

    # ------------------------------------------------------------------ quote
    async def quote(self, model: str | int, jobs: int) -> FeeQuote:
        model_id = self.chain.deployment.model_id(model)
        fee = (await self.chain.get_model(model_id)).fee
        return FeeQuote(model=self._model_name(model_id), model_id=model_id, jobs=jobs, fee_per_job_wei=fee,
                        total_wei=fee * jobs)

    def _model_name(self, model_id: int) -> str:
        return next((n for n, i in self.chain.deployment.models.items() if i == model_id), str(model_id))

    # ----------------------------------------------------------------- submit
    async def submit(self, texts: Sequence[str], model: str | int, idempotency_key: str,
                     callback: bool = False) -> list[JobRef]:
        model_id = self.chain.deployment.model_id(model)
        scope, digest = f"{self.chain.deployment.chain_id}:{self.chain.address}", submission_digest(model_id, texts)
        known = self.journal.load(scope, idempotency_key)
        if known is not None and known[0] != digest:
            raise InferaError(f"idempotency key {idempotency_key!r} was used for other texts or another model; "
                              "use a new key for a new submission")
        signed_before = [] if known is None else known[1]
        if known is None:
            self.journal.begin(scope, idempotency_key, digest)
        fee = (await self.chain.get_model(model_id)).fee
        batches = [list(texts[i:i + MAX_BATCH]) for i in range(0, len(texts), MAX_BATCH)]
        if not signed_before:
            await self._ensure_allowance(fee * len(texts))
        refs: list[JobRef] = []
        for index, batch in enumerate(batches):
            if index == len(signed_before):
                raw, tx_hash, nonce = await self.chain.sign(
                    self.chain.jobs.functions.submit(model_id, batch, fee, callback))
                entry = JournalBatch(raw, tx_hash, nonce, None)
                self.journal.signed(scope, idempotency_key, index, entry)  # on disk before it is ever sent
                signed_before.append(entry)
            entry = signed_before[index]
            if entry.job_ids is not None:
                refs.extend(JobRef(job_id=j) for j in entry.job_ids)
                continue
            try:
                created = await self._confirm(_Signed(entry.raw, entry.tx_hash, entry.nonce), idempotency_key)
            except SubmitReplaced:
                self.journal.drop_from(scope, idempotency_key, index)
                raise
            self.journal.confirmed(scope, idempotency_key, index, [r.job_id for r in created if r.job_id is not None])
            refs.extend(created)
        return refs

    async def _ensure_allowance(self, amount: int) -> None:
        owner = self.chain.address
        balance = await self.chain.balance_of(owner)
        if balance < amount:
            raise InsufficientBalance(
                f"{owner} holds {balance / 1e18:g} INFER; these jobs cost {amount / 1e18:g} INFER")
        jobs_address = self.chain.jobs.address
        allowance = int(await self.chain.token.functions.allowance(owner, jobs_address).call())
        if allowance < amount:
            # approve sets the allowance (it does not add), so sending it twice costs gas only.
            await self.chain.transact(self.chain.token.functions.approve(jobs_address, amount))

    async def _confirm(self, signed: _Signed, idempotency_key: str) -> list[JobRef]:
        """Send the same bytes until their receipt comes; the jobs they created."""
        deadline = time.monotonic() + self.receipt_timeout
        next_send = 0.0
        while True:
            now = time.monotonic()
            if now >= next_send:
                if next_send:
                    await self._check_not_replaced(signed)
                await self._send_quietly(signed)
                next_send = now + self.rebroadcast_every
            receipt = await self._receipt_quietly(signed)
            if receipt is not None:
                return self._jobs_of(receipt, signed)
            if time.monotonic() > deadline:
                self.chain.forget_nonce()
                raise SubmitUnconfirmed(
                    f"submit tx {signed.hash_hex} (nonce {signed.nonce}) has no receipt after "
                    f"{self.receipt_timeout:.0f} s; call submit again with idempotency_key={idempotency_key!r} "
                    "to keep waiting for it (it is never signed or paid twice)", idempotency_key, (signed.hash_hex,))
            await asyncio.sleep(RECEIPT_POLL_S)

    async def _send_quietly(self, signed: _Signed) -> None:
        try:
            await self.chain.broadcast(signed.raw)
        except RpcUnreachable as exc:  # a node that does not answer now: the receipt poll decides
            log.warning("submit broadcast failed; retrying the same transaction", tx=signed.hash_hex,
                        error=f"{type(exc).__name__}: {exc}"[:200])

    async def _receipt_quietly(self, signed: _Signed) -> TxReceipt | None:
        try:
            receipt = await self.chain.receipt(signed.tx_hash)
        except RpcUnreachable as exc:  # the node may answer on the next poll
            log.warning("receipt read failed", tx=signed.hash_hex, error=f"{type(exc).__name__}: {exc}"[:200])
            return None
        return receipt

    async def _check_not_replaced(self, signed: _Signed) -> None:
        """A used nonce and a node that does not know our transaction at all: another transaction
        of this key took the nonce. (Known but without a receipt is a node that lags: wait.)"""
        try:
            mined = await self.chain.w3.eth.get_transaction_count(self.chain.address, "latest")
            if mined <= signed.nonce:
                return
            await self.chain.w3.eth.get_transaction(signed.tx_hash)
            return
        except TransactionNotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - an unreachable node tells nothing; ask again later
            log.warning("nonce check failed", tx=signed.hash_hex, error=f"{type(exc).__name__}: {exc}"[:200])
            return
        raise SubmitReplaced(f"submit tx {signed.hash_hex} was replaced: nonce {signed.nonce} was used by "
                             "another transaction of this key; nothing was charged for it, submit again")

    def _jobs_of(self, receipt: TxReceipt, signed: _Signed) -> list[JobRef]:
        if receipt["status"] != 1:
            raise TransactionFailed(f"submit tx {signed.hash_hex} reverted on chain")
        events = self.chain.receipt_events(receipt, "JobSubmitted")
        return [JobRef(job_id=int(e["args"]["jobId"])) for e in events]

    # ------------------------------------------------------------------- poll
    async def poll(self, refs: Sequence[JobRef]) -> dict[JobRef, JobResult]:
        by_id = {r.job_id: r for r in refs if r.job_id is not None}
        if not by_id:
            return {}
        try:
            jobs = await self.chain.get_jobs(sorted(by_id))
        except ContractRevert as exc:
            if exc.name == UNKNOWN_JOB:
                raise InferaError(f"one of jobs {sorted(by_id)} is not on this chain ({exc}); check the network "
                                  "and the references") from None
            raise
        final = [j for j in jobs if j.status.terminal]
        if not final:
            return {}
        ids = [j.job_id for j in final]
        start = self.chain.deployment.deployment_block
        accepted = {int(e["args"]["jobId"]): e for e in await self.chain.logs(self.chain.jobs, "JobAccepted", start,
                                                                               jobId=ids)}
        inputs = await self.chain.job_inputs(ids)
        reveals = await self.chain.revealed_vectors_of(ids)
        out: dict[JobRef, JobResult] = {}
        for job in final:
            if job.status is JobStatus.ACCEPTED and job.job_id not in accepted:
                continue  # a lagging endpoint: its event shows on a later poll
            vectors = {n: unpack(v, job.dimension) for n, v in reveals.get(job.job_id, {}).items()}
            cosines = [PairCosine(a=a, b=b, cosine=cosine(vectors[a], vectors[b]))
                       for a, b in itertools.combinations(sorted(vectors), 2)]
            raw = inputs.get(job.job_id)
            fields: dict[str, object] = {}
            if job.job_id in accepted:
                args = accepted[job.job_id]["args"]
                fields = {"vector": unpack(bytes(args["vector"]), job.dimension).tolist(),
                          "result_hash": "0x" + bytes(args["resultHash"]).hex(),
                          "agreeing": [str(a) for a in args["agreeing"]]}
            ref = by_id[job.job_id]
            out[ref] = JobResult.model_validate({
                "ref": ref, "job_id": job.job_id, "status": job.status,
                "input": None if raw is None else canonical_text(raw), "threshold": job.threshold_ppm / PPM,
                "cosines": cosines, **fields})
        return out

