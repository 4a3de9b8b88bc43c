"""Async chain access: one RPC connection, an optional signing key, and our contracts.

Every write is simulated first (so a revert surfaces as the contract error's own class, from
infera.contract_errors, before any gas is spent), signed locally and sent with a nonce this process tracks; `transact` waits for it,
`send` does not (many transactions in flight, checked later with `receipt`). Every public
coroutine raises InferaError subclasses only (infera.boundary translates web3's and aiohttp's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.contract import AsyncContract
from web3.contract.async_contract import AsyncContractFunction
from web3.datastructures import AttributeDict
from web3.exceptions import BlockNotFound, ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import EventData, Nonce, RPCEndpoint, TxParams, TxReceipt

from infera.abi import load_abi
from infera.boundary import public_boundary, revert_data
from infera.contract_errors import JobRegistryNoDrawDue, NodeRegistryDrawsDue, revert_error
from infera.deployment import Deployment
from infera.errors import ConfigError, InferaError, RpcRequestError, RpcUnreachable, TransactionFailed, WrongChain
from infera.rpc import OnError, OnSuccess, make_web3, redact_url
from infera.types import Job, Model, NodeInfo, Seat, SeatOutcome

T = TypeVar("T")
RECEIPT_TIMEOUT_S = 120.0
# Committee draws one assign() transaction makes: about 150k gas each, so 64 stay near 10M gas.
ASSIGN_BATCH = 64
# The seat hint commitBatch/revealBatch take per job when the caller does not know its seat
# index (JobAssigned.seat): out of range, so the registry searches the job's seats instead.
NO_SEAT_HINT = 2**256 - 1


def commitment_of(chain_id: int, registry: str, job_id: int, node: str, vector: bytes, salt: bytes) -> bytes:
    """The commitment JobRegistry.commitmentOf computes, without a round trip."""
    encoded = abi_encode(
        ["uint256", "address", "uint256", "address", "bytes", "bytes32"],
        [chain_id, to_checksum_address(registry), job_id, to_checksum_address(node), vector, salt],
    )
    return keccak(encoded)


def receipt_from_json(raw: dict[str, Any]) -> TxReceipt:
    """A JSON-RPC receipt with the fields our callers read in web3's types (ints, HexBytes,
    checksum addresses), and its logs in the shape web3's event decoding takes."""
    def number(key: str, entry: dict[str, Any]) -> int | None:
        return None if entry.get(key) is None else int(entry[key], 16)

    def address(value: str | None) -> ChecksumAddress | None:
        return None if value is None else to_checksum_address(value)

    logs = [AttributeDict({
        "address": address(entry["address"]), "topics": [HexBytes(t) for t in entry["topics"]],
        "data": HexBytes(entry["data"]), "blockNumber": number("blockNumber", entry),
        "blockHash": HexBytes(entry["blockHash"]), "transactionHash": HexBytes(entry["transactionHash"]),
        "transactionIndex": number("transactionIndex", entry), "logIndex": number("logIndex", entry),
        "removed": bool(entry.get("removed", False)),
    }) for entry in raw.get("logs", [])]
    return cast(TxReceipt, AttributeDict({
        "transactionHash": HexBytes(raw["transactionHash"]), "transactionIndex": number("transactionIndex", raw),
        "blockHash": HexBytes(raw["blockHash"]), "blockNumber": number("blockNumber", raw),
        "from": address(raw.get("from")), "to": address(raw.get("to")),
        "contractAddress": address(raw.get("contractAddress")), "status": number("status", raw),
        "gasUsed": number("gasUsed", raw), "cumulativeGasUsed": number("cumulativeGasUsed", raw),
        "effectiveGasPrice": number("effectiveGasPrice", raw), "type": number("type", raw), "logs": logs,
    }))


def load_account(private_key: str) -> LocalAccount:
    """The account of a private key, or a ConfigError that says the key is not valid."""
    try:
        account: LocalAccount = Account.from_key(private_key)
        return account
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the private key is not a valid secp256k1 key: {exc}") from None


@public_boundary
class Chain:
    """Connection to one deployment. Use ``await Chain.connect(...)``."""

    def __init__(self, w3: AsyncWeb3[Any], deployment: Deployment, account: LocalAccount | None) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.account = account
        c = deployment.contracts
        self.token = self._bind("InferToken", c.InferToken)
        self.models = self._bind("ModelRegistry", c.ModelRegistry)
        self.nodes = self._bind("NodeRegistry", c.NodeRegistry)
        self.jobs = self._bind("JobRegistry", c.JobRegistry)
        self.rewards = self._bind("RewardsEmitter", c.RewardsEmitter)
        self.forwarder = self._bind("InferaForwarder", c.InferaForwarder)
        self._nonce: int | None = None
        self._send_lock = asyncio.Lock()
        self._codecs: dict[tuple[str, str], tuple[bytes, list[str], list[str]]] = {}

    @classmethod
    async def connect(
        cls, rpc_url: str | Sequence[str], deployment: Deployment, private_key: str | None = None,
        timeout: float = 10.0, retry_for: float = 30.0, on_error: OnError | None = None,
        on_success: OnSuccess | None = None,
    ) -> Chain:
        """Connect through one endpoint or several (failover, see infera.rpc) and check that
        every endpoint that answers serves the deployment's chain."""
        urls = [rpc_url] if isinstance(rpc_url, str) else list(rpc_url)
        w3 = make_web3(urls, timeout, retry_for, on_error, on_success)
        try:
            await w3.eth.chain_id
            answered = await w3.provider.endpoint_chain_ids()
        except Exception as exc:  # aiohttp raises several types for a dead endpoint
            await w3.provider.disconnect()
            shown = ", ".join(redact_url(u) for u in urls)
            raise RpcUnreachable(f"RPC endpoint {shown} does not answer ({type(exc).__name__}: {exc})") from exc
        for endpoint, chain_id in answered:
            if chain_id is not None and chain_id != deployment.chain_id:
                await w3.provider.disconnect()
                raise WrongChain(
                    f"RPC endpoint {endpoint} serves chain id {chain_id}, but the {deployment.network} "
                    f"deployment is on chain id {deployment.chain_id}: check INFERA_RPC_URL and INFERA_NETWORK"
                )
        return cls(w3, deployment, load_account(private_key) if private_key else None)

    def _bind(self, name: str, address: str) -> AsyncContract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_abi(name))

    @property
    def address(self) -> ChecksumAddress:
        if self.account is None:
            raise ConfigError("this operation needs a signing key (set INFERA_PRIVATE_KEY)")
        return self.account.address

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    # ------------------------------------------------------------------ writes
    async def transact(self, fn: AsyncContractFunction, gas: int | None = None) -> TxReceipt:
        """Simulate, sign, send and wait for ``fn``; raise the contract's error or TransactionFailed."""
        tx_hash = await self.send(fn, gas)
        return await self.wait(tx_hash, fn.fn_name)

    async def simulate(self, fn: AsyncContractFunction) -> int:
        """Estimate ``fn``'s gas as this account, against the pending block; a revert raises the
        contract's error (its class in infera.contract_errors, a ContractRevert), or a
        TransactionFailed (ContractPanic, ContractRequireError, UnknownRevert), and nothing is sent.
        The pending block matters: a call that settles first makes the committee draws due by
        then, which a simulation on the latest block would leave out."""
        try:
            return int(await fn.estimate_gas({"from": self.address}, block_identifier="pending"))
        except ContractLogicError as exc:
            raise revert_error(revert_data(exc), f"{fn.fn_name} (simulated)") from exc

    @staticmethod
    def gas_limit_for(estimated: int) -> int:
        """Committee draws make gas depend on block randomness, so leave a margin over the estimate."""
        return int(estimated * 1.25) + 20_000

    async def send(self, fn: AsyncContractFunction, gas: int | None = None) -> HexBytes:
        """Simulate, sign and send ``fn``, and return its hash without waiting for it to be
        mined, so that a caller can have many transactions in flight. Raises the contract's
        error when the simulation reverts (nothing is sent then). Long-running senders (the oracle
        node) use infera.txmanager.TxManager instead, which persists nonces and re-sends."""
        async with self._send_lock:
            raw, _, _ = await self._sign_next(fn, gas)
            try:
                tx_hash = await self.w3.eth.send_raw_transaction(raw)
            except Exception:
                self._nonce = None  # resynchronise from the node next time
                raise
            self._spend_nonce()
            return tx_hash

    async def sign(self, fn: AsyncContractFunction, gas: int | None = None) -> tuple[HexBytes, HexBytes, int]:
        """Simulate and sign ``fn`` with this account's next nonce without sending it: (raw
        transaction, hash, nonce). A caller that must never pay twice keeps the bytes and sends
        the same ones again (`broadcast`) until a receipt comes, instead of signing anew."""
        async with self._send_lock:
            signed = await self._sign_next(fn, gas)
            self._spend_nonce()
            return signed

    async def _sign_next(self, fn: AsyncContractFunction, gas: int | None) -> tuple[HexBytes, HexBytes, int]:
        """Simulate ``fn`` and sign it with the next nonce, which stays unspent (hold _send_lock)."""
        sender = self.address
        assert self.account is not None
        estimated = await self.simulate(fn)
        if self._nonce is None:
            self._nonce = await self.w3.eth.get_transaction_count(sender, "pending")
        nonce = self._nonce
        params: TxParams = {"from": sender, "nonce": Nonce(nonce), "gas": gas or self.gas_limit_for(estimated)}
        tx = await fn.build_transaction(params)
        signed = self.account.sign_transaction(cast(dict[str, Any], tx))
        return HexBytes(signed.raw_transaction), HexBytes(signed.hash), nonce

    def _spend_nonce(self) -> None:
        assert self._nonce is not None
        self._nonce += 1

    def forget_nonce(self) -> None:
        """Read the next nonce from the node again on the next send (after a send gave up)."""
        self._nonce = None

    async def broadcast(self, raw: bytes) -> None:
        """Send signed bytes; a node that has them already (pooled, or mined: "nonce too low")
        is not an error: the same bytes can only ever be mined once."""
        try:
            await self.w3.eth.send_raw_transaction(raw)
        except Web3RPCError as exc:
            if not any(m in str(exc).lower() for m in ALREADY_SENT):
                raise

    async def wait(self, tx_hash: HexBytes, what: str = "transaction") -> TxReceipt:
        """Wait for a sent transaction; raise TransactionFailed if it is not mined in time or
        reverted on chain."""
        try:
            receipt = await self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=0.1)
        except TimeExhausted as exc:
            raise TransactionFailed(f"{what} tx 0x{bytes(tx_hash).hex()} not mined in {RECEIPT_TIMEOUT_S:.0f}s") from exc
        if receipt["status"] != 1:
            raise TransactionFailed(f"{what} tx 0x{bytes(tx_hash).hex()} reverted on chain")
        return receipt

    async def receipt(self, tx_hash: HexBytes) -> TxReceipt | None:
        """The receipt of a sent transaction, or None while it is not mined (never waits).
        Read raw and converted by `receipt_from_json`: web3's generic formatters cost a node
        tens of milliseconds for an assign receipt of 64 jobs (192 logs), on every one it sees."""
        response = await self.w3.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"),
                                                       ["0x" + bytes(tx_hash).hex()])
        if "error" in response:
            error = response["error"]
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            raise RpcRequestError(f"eth_getTransactionReceipt was refused by the RPC endpoint: {message}",
                                  code if isinstance(code, int) else None, message)
        found = response.get("result")
        return None if found is None else receipt_from_json(found)

    async def assign_due(self, max_jobs: int = ASSIGN_BATCH) -> TxReceipt | None:
        """Draw the committees whose draw block has passed; None when none is due (or another
        sender drew them first: that race is normal and costs nothing, since we simulate)."""
        if not await self._call(self.jobs.functions.drawsDue()):
            return None
        try:
            return await self.transact(self.jobs.functions.assign(max_jobs))
        except JobRegistryNoDrawDue:
            return None

    async def transact_node_op(self, fn: AsyncContractFunction, attempts: int = 5) -> TxReceipt:
        """Send a NodeRegistry call that changes what committee draws read. Those wait while a
        draw's block hash is public, so draw what is due first and retry (bounded)."""
        for attempt in range(1, attempts + 1):
            await self.assign_due()
            try:
                return await self.transact(fn)
            except NodeRegistryDrawsDue:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    # ------------------------------------------------------------------- reads
    async def get_job(self, job_id: int) -> Job:
        return (await self.get_jobs([job_id]))[0]

    async def get_jobs(self, job_ids: list[int]) -> list[Job]:
        """Several jobs in one call, in the order given."""
        if not job_ids:
            return []
        found = await self._decoded_call(self.jobs, "getJobs", job_ids)
        return [Job.from_struct(j, s) for j, s in zip(job_ids, found[0], strict=True)]

    async def get_seats(self, job_id: int) -> list[Seat]:
        """The job's seats in assignment order; none once the job has ended (its seat slots go
        to a later job): read how each seat ended from JobAccepted and SeatSettled instead."""
        (found,) = await self._decoded_call(self.jobs, "getSeats", job_id)
        return [Seat.from_struct(s) for s in found]

    async def get_model(self, model_id: int) -> Model:
        return Model.from_struct(model_id, await self._call(self.models.functions.getModel(model_id)))

    async def get_node(self, address: str) -> NodeInfo:
        checksum = to_checksum_address(address)
        return NodeInfo.from_struct(checksum, await self._call(self.nodes.functions.getNode(checksum)))

    async def balance_of(self, address: str) -> int:
        return int(await self._call(self.token.functions.balanceOf(to_checksum_address(address))))

    async def block_number(self) -> int:
        return int(await self.w3.eth.block_number)

    async def block_hash(self, number: int) -> HexBytes | None:
        """The hash of canonical block `number`, or None when the chain has no such block (yet)."""
        try:
            block = await self.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return HexBytes(block["hash"])

    async def timestamp(self) -> int:
        block = await self.w3.eth.get_block("latest")
        return int(block["timestamp"])

    async def _decoded_call(self, contract: AsyncContract, name: str, *args: Any) -> tuple[Any, ...]:
        """eth_call encoded and decoded with eth_abi alone: web3's result formatters cost about
        13 ms for a few hundred job records, and its encode_abi searches the ABI on every call
        (a node reads each open job's seats once: a tenth of its event loop's CPU)."""
        selector, input_types, output_types = self._codec(contract, name)
        data = HexBytes(selector + abi_encode(input_types, args))
        raw = await self._reverts_decoded(self.w3.eth.call({"to": contract.address, "data": data}))
        return tuple(abi_decode(output_types, bytes(raw)))

    def _codec(self, contract: AsyncContract, name: str) -> tuple[bytes, list[str], list[str]]:
        """A function's selector, input types and output types, looked up once."""
        key = (contract.address, name)
        if key not in self._codecs:
            abi = contract.get_function_by_name(name).abi
            self._codecs[key] = (function_abi_to_4byte_selector(abi), get_abi_input_types(abi),
                                 get_abi_output_types(abi))
        return self._codecs[key]

    async def _call(self, fn: AsyncContractFunction) -> Any:
        return await self._reverts_decoded(fn.call())

    @staticmethod
    async def _reverts_decoded(call: Awaitable[T]) -> T:
        """Await an eth_call, turning a revert into the contract's error (see revert_error)."""
        try:
            return await call
        except ContractLogicError as exc:
            raise revert_error(revert_data(exc)) from exc

    async def job_input(self, job_id: int) -> bytes:
        """The input bytes a job was submitted with (see job_inputs)."""
        found = await self.job_inputs([job_id])
        if job_id not in found:
            raise InferaError(f"job {job_id}: no JobSubmitted event, or its input does not match the event's input hash")
        return found[job_id]

    async def job_inputs(self, job_ids: list[int], from_block: int | None = None,
                         to_block: int | str = "latest") -> dict[int, bytes]:
        """The input bytes of several jobs (see job_submissions), without their blocks."""
        return {job_id: raw for job_id, (raw, _) in (await self.job_submissions(job_ids, from_block, to_block)).items()}

    async def job_submissions(self, job_ids: list[int], from_block: int | None = None,
                              to_block: int | str = "latest") -> dict[int, tuple[bytes, int]]:
        """The input bytes of several jobs and the block each was submitted in, from their
        JobSubmitted events, in one log query over [from_block, to_block] (by default the
        whole deployment: a caller that knows the jobs' age bounds the range, so the cost does
        not grow with the chain's). The bytes are read raw: the contract accepts any bytes, and
        decoding them as a Solidity string would fail on invalid UTF-8. Each is checked against
        the input hash in its own event; `infera.inputs.canonical_text` gives the text nodes
        embed. A job whose event is missing, or whose input does not match the event's hash, is
        left out."""
        if not job_ids:
            return {}
        found: dict[int, tuple[bytes, int]] = {}
        for entry in await self._logs_for_jobs(self.jobs.events.JobSubmitted.topic, job_ids, from_block, to_block):
            job_id = _job_of(entry)
            # Non-indexed fields: (bytes32 inputHash, string input, uint96 fee); a string is
            # encoded exactly as bytes are, so decoding it as bytes never fails.
            input_hash, raw, _ = abi_decode(["bytes32", "bytes", "uint96"], bytes(entry["data"]))
            if keccak(raw) == input_hash:
                found[job_id] = (bytes(raw), int(entry["blockNumber"]))
        return found

    async def submitted_job_ids(self, model_ids: list[int], from_block: int, to_block: int) -> list[tuple[int, int]]:
        """(job id, block) of the jobs submitted for `model_ids` in [from_block, to_block]. Read from the raw
        topics: decoding the event would decode its input as UTF-8, which any caller can break."""
        models = ["0x" + m.to_bytes(32, "big").hex() for m in sorted(set(model_ids))]
        entries = await self.w3.eth.get_logs({
            "address": self.jobs.address, "fromBlock": from_block, "toBlock": to_block,
            "topics": [self.jobs.events.JobSubmitted.topic, None, models],
        })
        return [(_job_of(e), int(e["blockNumber"])) for e in entries]

    async def assignments(self, node: str, from_block: int, to_block: int) -> list[tuple[int, int, int, bytes]]:
        """(job id, seat, block number, block hash) of every JobAssigned to `node` in
        [from_block, to_block], decoded from the raw log (the watcher's read on every tick:
        web3's event decoding cost it more than the query)."""
        entries = await self.w3.eth.get_logs({
            "address": self.jobs.address, "fromBlock": from_block, "toBlock": to_block,
            "topics": [self.jobs.events.JobAssigned.topic, None, _address_topic(node)],
        })
        decoded = [(self.decode_log("JobAssigned", e), e) for e in entries]
        return [(int(a["jobId"]), int(a["seat"]), int(e["blockNumber"]), bytes(e["blockHash"])) for a, e in decoded]

    async def seat_outcomes(self, job_ids: list[int], node: str, from_block: int | None = None
                            ) -> dict[int, tuple[int, int]]:
        """How `node`'s seat on each job was settled: job id -> (SeatOutcome, stake slashed).
        A seat that agreed has no SeatSettled (JobAccepted names the agreeing nodes, one event a
        job), so those come from JobAccepted. Decoded from the raw logs, SeatSettled filtered on
        the node's topic by the RPC (a node asks this for every job it closes; web3's event
        decoding cost more than the query)."""
        if not job_ids:
            return {}
        out: dict[int, tuple[int, int]] = {}
        for entry in await self._logs_for_jobs(self.jobs.events.SeatSettled.topic, job_ids, from_block,
                                               second=_address_topic(node)):
            args = self.decode_log("SeatSettled", entry)
            out[int(args["jobId"])] = (int(args["outcome"]), int(args["slashed"]))
        me = to_checksum_address(node)
        for entry in await self._logs_for_jobs(self.jobs.events.JobAccepted.topic, job_ids, from_block):
            args = self.decode_log("JobAccepted", entry)
            if me in args["agreeing"]:
                out[int(args["jobId"])] = (SeatOutcome.AGREED, 0)
        return out

    async def revealed_vectors(self, job_id: int) -> dict[str, bytes]:
        """Every vector revealed for a job, over all its rounds, by node address."""
        return (await self.revealed_vectors_of([job_id])).get(job_id, {})

    async def revealed_vectors_of(self, job_ids: list[int], from_block: int | None = None) -> dict[int, dict[str, bytes]]:
        """Every vector revealed for several jobs, in one log query from `from_block` (by
        default the deployment block; a node passes the jobs' submission block): job id ->
        node -> vector. Decoded from the raw logs, as seat_outcomes."""
        if not job_ids:
            return {}
        out: dict[int, dict[str, bytes]] = {}
        for entry in await self._logs_for_jobs(self.jobs.events.Revealed.topic, job_ids, from_block):
            args = self.decode_log("Revealed", entry)
            out.setdefault(int(args["jobId"]), {})[str(args["node"])] = bytes(args["vector"])
        return out

    def decode_log(self, event: str, entry: Any) -> dict[str, Any]:
        """A JobRegistry log's arguments by name, decoded with eth_abi from the event's ABI
        (static indexed arguments from the topics, the rest from the data), without web3's
        event machinery, which costs a node more than the log query on every tick. Addresses
        come back checksummed, as web3 gives them."""
        indexed, plain = _event_layout(self.jobs, event)
        decoded = [(name, kind, abi_decode([kind], bytes(topic))[0])
                   for (name, kind), topic in zip(indexed, list(entry["topics"])[1:], strict=True)]
        values = abi_decode([kind for _, kind in plain], bytes(entry["data"]))
        decoded += [(name, kind, value) for (name, kind), value in zip(plain, values, strict=True)]
        return {name: _checksummed(kind, value) for name, kind, value in decoded}

    async def _logs_for_jobs(self, topic: Any, job_ids: list[int], from_block: int | None = None,
                             to_block: int | str = "latest", second: str | None = None) -> list[Any]:
        """JobRegistry logs of one event whose first indexed argument is one of `job_ids` (and
        whose second is `second`, a 32-byte topic, when given)."""
        ids = ["0x" + j.to_bytes(32, "big").hex() for j in sorted(set(job_ids))]
        start = self.deployment.deployment_block if from_block is None else max(from_block, self.deployment.deployment_block)
        topics: list[Any] = [topic, ids] if second is None else [topic, ids, second]
        return list(await self.w3.eth.get_logs(
            {"address": self.jobs.address, "topics": topics, "fromBlock": start, "toBlock": cast(Any, to_block)}
        ))

    def receipt_events(self, receipt: TxReceipt, event: str) -> list[EventData]:
        """One JobRegistry event's entries in a receipt. Only the logs with the event's topic
        are decoded: web3's process_receipt tries every log of a 64-job batch and discards the
        misfits, which costs a node more than the rest of reading the receipt."""
        handler = getattr(self.jobs.events, event)()
        topic, registry = bytes(HexBytes(handler.topic)), self.jobs.address.lower()
        return [handler.process_log(entry) for entry in receipt["logs"]
                if str(entry["address"]).lower() == registry and entry["topics"] and bytes(entry["topics"][0]) == topic]

    async def logs(
        self, contract: AsyncContract, event: str, from_block: int, to_block: int | str = "latest", **filters: Any
    ) -> list[EventData]:
        """Event logs of ``contract.event`` in a block range, filtered on indexed arguments."""
        found = await getattr(contract.events, event).get_logs(
            from_block=from_block, to_block=to_block, argument_filters=filters or None
        )
        return list(found)


def _checksummed(kind: str, value: Any) -> Any:
    """Addresses as web3 gives them: checksummed, alone or in an array."""
    if kind == "address":
        return to_checksum_address(value)
    if kind == "address[]":
        return [to_checksum_address(v) for v in value]
    return value


# How nodes say they have a transaction already (geth, anvil, erigon/nethermind, and any node once
# the nonce is used).
ALREADY_SENT = ("already known", "already imported", "known transaction", "nonce too low")

_LAYOUTS: dict[tuple[str, str], tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {}


def _event_layout(contract: AsyncContract, event: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(indexed, not indexed) (name, ABI type) pairs of one event, read from the ABI once."""
    key = (str(contract.address), event)
    if key not in _LAYOUTS:
        abi = cast(dict[str, Any], next(e for e in contract.abi if e.get("type") == "event" and e.get("name") == event))
        inputs = [(str(i["name"]), str(i["type"]), bool(i.get("indexed"))) for i in abi["inputs"]]
        # Tuple-typed arguments are not used by these events; a dynamic indexed one is only a hash.
        _LAYOUTS[key] = ([(n, t if not t.endswith("[]") and t not in ("bytes", "string") else "bytes32")
                          for n, t, ix in inputs if ix], [(n, t) for n, t, ix in inputs if not ix])
    return _LAYOUTS[key]


def _address_topic(address: str) -> str:
    """An address as the 32-byte topic of an indexed argument."""
    return "0x" + bytes(HexBytes(address)).rjust(32, b"\0").hex()


def _job_of(entry: Any) -> int:
    """The job id of a JobRegistry log: its first indexed argument."""
    return int.from_bytes(bytes(entry["topics"][1]), "big")
