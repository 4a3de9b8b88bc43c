"""The SDK's public boundary: what web3, aiohttp and the OS raise comes out as InferaError.

A caller of Chain, TxManager, infera.operator or infera.gasless catches InferaError (and its
subclasses) and never web3's ContractLogicError, TimeExhausted or Web3RPCError, aiohttp's
ClientError, a TimeoutError or a ConnectionError (the OSErrors
of a network; a file's OSError is not the RPC's and passes). The original stays as ``__cause__``. Exceptions that
are none of those (a KeyError in our own code, say) are bugs and pass unchanged.
"""

from __future__ import annotations

import functools
import inspect
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import aiohttp
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
    ProviderConnectionError,
    TimeExhausted,
    Web3Exception,
    Web3RPCError,
)

from infera.contract_errors import revert_error
from infera.errors import (
    DeploymentNotFound,
    InferaError,
    RpcRequestError,
    RpcUnreachable,
    TransactionFailed,
    Web3Failure,
)

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

# JSON-RPC refusals people meet, by a phrase of the message, and what to do about them.
_RPC_ADVICE = (
    ("insufficient funds", "the sending account holds too little ETH for gas: send it some ETH"),
    ("nonce too low", "another transaction used this nonce: another process signs with this key; stop it, or retry"),
    ("already known", "the node already has this transaction: wait for its receipt"),
    ("underpriced", "the fee is below what the node accepts: retry (the fee is read again)"),
    ("method not found", "the endpoint does not offer this method: use a full node's RPC URL"),
    ("does not exist", "the endpoint does not offer this method: use a full node's RPC URL"),
)


def revert_data(exc: ContractLogicError) -> str | None:
    """The revert data web3 carries on a ContractLogicError (a string, or a dict holding it)."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) else None


def translated(exc: BaseException, what: str) -> InferaError | None:
    """The InferaError a raw exception stands for, or None when it is not raw (ours, or a bug).
    `what` names the operation in the message."""
    if isinstance(exc, InferaError):
        return None
    if isinstance(exc, ContractLogicError):
        return revert_error(revert_data(exc), what)
    if isinstance(exc, TimeExhausted):
        return TransactionFailed(f"{what}: {exc}")
    if isinstance(exc, BadFunctionCallOutput):
        return DeploymentNotFound(f"{what}: no contract code answers at the deployment's address ({exc}); the chain "
                                  "was reset or the deployment record is another chain's: deploy again "
                                  "(ape run deploy) or check INFERA_NETWORK and INFERA_RPC_URL")
    if isinstance(exc, Web3RPCError):
        return _rpc_refusal(exc, what)
    if isinstance(exc, (ProviderConnectionError, aiohttp.ClientError, ConnectionError, socket.gaierror, TimeoutError)):
        return RpcUnreachable(f"{what}: the RPC endpoint does not answer ({type(exc).__name__}: {exc}); check "
                              "INFERA_RPC_URL and that the node is up")
    if isinstance(exc, Web3Exception):
        return Web3Failure(f"{what}: web3 refused or failed it ({type(exc).__name__}: {exc})")
    return None


def _rpc_refusal(exc: Web3RPCError, what: str) -> RpcRequestError:
    error = exc.rpc_response.get("error") if isinstance(exc.rpc_response, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else str(exc)
    advice = next((a for phrase, a in _RPC_ADVICE if phrase in message.lower()), "")
    text = f"{what}: the RPC endpoint refused it ({message or exc})" + (f": {advice}" if advice else "")
    return RpcRequestError(text, code if isinstance(code, int) else None, message)


def boundary(fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Wrap a public coroutine so that raw exceptions leave it translated (see `translated`)."""
    what = fn.__qualname__

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            error = translated(exc, what)
            if error is None:
                raise
            raise error from exc

    return wrapper


def public_boundary(cls: C) -> C:
    """Apply `boundary` to every public coroutine method the class defines (not inherited ones),
    so that a method added later cannot forget it."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(attr, classmethod) and inspect.iscoroutinefunction(attr.__func__):
            setattr(cls, name, classmethod(boundary(attr.__func__)))
        elif inspect.iscoroutinefunction(attr):
            setattr(cls, name, boundary(attr))
    return cls
