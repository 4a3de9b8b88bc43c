"""One exception root for the SDK, with a subclass per area (Ape's convention)."""

from __future__ import annotations

from typing import Any


class InferaError(Exception):
    """Root of every error the SDK raises on purpose."""


class ConfigError(InferaError):
    """A setting is missing or invalid."""


class DeploymentNotFound(InferaError):
    """No deployment record exists for the requested network."""


class RpcError(InferaError):
    """An RPC request failed: the endpoint could not be reached, or it answered with an error."""


class RpcUnreachable(RpcError):
    """The RPC endpoint does not answer, or refuses the connection itself (an HTTP 4xx, a TLS
    or URL problem): check INFERA_RPC_URL."""


class RpcTransientError(RpcUnreachable):
    """Every RPC endpoint failed with transient errors for the whole retry budget; retry later."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class RpcRequestError(RpcError):
    """The endpoint answered a request with a JSON-RPC error that is not a revert (a nonce too
    low, funds too low for gas, an unsupported method...): `code` and `rpc_message` are its own."""

    def __init__(self, message: str, code: int | None = None, rpc_message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.rpc_message = rpc_message


class Web3Failure(InferaError):
    """web3 refused or failed a request in a way no narrower error describes (an argument the ABI
    encoder cannot take, an answer it cannot parse); the message names web3's error."""


class WrongChain(InferaError):
    """The RPC endpoint serves another chain than the deployment was made on."""


class UnknownModel(InferaError):
    """The deployment or registry has no such model."""


class InsufficientStake(InferaError):
    """A node's stake is below the registry's minimum."""


class InsufficientBalance(InferaError):
    """An account holds too little INFER for what it asked to do."""


class InvalidAmount(InferaError, ValueError):
    """An INFER amount is not a positive number with at most 18 decimals."""


class NodeNotRegistered(InferaError):
    """The address is not a registered node, so node operations other than register refuse."""


class InvalidService(InferaError):
    """A capacity or model list the NodeRegistry would refuse."""


class NothingToWithdraw(InferaError):
    """No stake is unbonding, so there is nothing to withdraw."""


class UnbondingNotOver(NothingToWithdraw):
    """Stake is unbonding but its unbonding period has not ended yet."""


class NotEjected(InferaError):
    """reinstate() was asked for a node that is not ejected."""


class EjectionCooldown(InferaError):
    """An ejected node asked to come back before its cooldown (one unbonding period) ended."""


class TransactionFailed(InferaError):
    """A transaction was mined but reverted, or was never mined."""


class UnknownRevert(TransactionFailed):
    """A call or transaction reverted with data that no Infera ABI explains, or with none at all
    (a consumer contract's own error, an out-of-gas, another ABI version)."""

    def __init__(self, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.data = data


class ContractPanic(TransactionFailed):
    """A contract hit Solidity's Panic(uint256): an assert, an overflow, a division by zero, an
    index out of bounds. Our contracts are written never to panic, so this is a bug to report."""

    name = "Panic"

    def __init__(self, message: str, code: int, raw: str) -> None:
        super().__init__(message)
        self.code = code
        self.raw = raw


class ContractRequireError(TransactionFailed):
    """A contract reverted with Error(string) (a `require` with a message), not a custom error."""

    name = "Error"

    def __init__(self, message: str, reason: str, raw: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.raw = raw


class JobTimeout(InferaError):
    """A job did not reach a terminal state in time."""


class ContractRevert(InferaError):
    """A call reverted with a custom error of our contracts, decoded by name and arguments.

    Every custom error in the ABIs has its own subclass, named like the Solidity error, in
    `infera.contract_errors` (catch `NodeRegistryStakeBelowMinimum` rather than comparing
    `.name`); constructing ContractRevert itself still works, for code written before them."""

    selector: bytes = b""
    signature: str = ""

    def __init__(self, name: str, args: dict[str, Any], raw: str) -> None:
        self.name = name
        self.args_by_name = args
        self.raw = raw
        super().__init__(self._message())

    def _message(self) -> str:
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in self.args_by_name.items())
        return f"{self.name}({rendered})"


def _render(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value)


# ---------------------------------------------------------------- client (infera.client)
class RelayerUnreachable(InferaError):
    """The relayer's HTTP endpoint does not answer (or answers 5xx) for the whole retry budget."""


class RelayerRejected(InferaError):
    """The relayer refused a request (4xx); `code` is its error code, `status` the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"relayer refused ({status} {code}): {message}")
        self.status = status
        self.code = code


class SubmitUnconfirmed(TransactionFailed):
    """A submission was sent but its confirmation did not come in time. It may still land, and it
    is never paid twice: call submit again with the same `idempotency_key` (the same signed
    transaction or request is sent again, not a new one)."""

    def __init__(self, message: str, idempotency_key: str, tx_hashes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key
        self.tx_hashes = tx_hashes


class SubmitReplaced(TransactionFailed):
    """A signed submission can never be mined: another transaction of the same key took its
    nonce. Nothing was charged for it; submit again (with the same key: it is signed afresh)."""


class ResultsTimeout(JobTimeout):
    """Some jobs were not final in time; `pending` are their references (strings), to reattach to
    later with InferaClient.reattach, which pays nothing again."""

    def __init__(self, message: str, pending: tuple[str, ...]) -> None:
        super().__init__(message)
        self.pending = pending


class JobRefunded(InferaError):
    """A job was refunded (the network could not verify it): there is no vector to return. Pass
    allow_partial=True to get None in its place instead; `refs` names the refunded jobs."""

    def __init__(self, message: str, refs: tuple[str, ...]) -> None:
        super().__init__(message)
        self.refs = refs


class RequestFailed(InferaError):
    """The relayer gave up on a request before any job of it was on chain (nothing was charged);
    its last error says why."""
