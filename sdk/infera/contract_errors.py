"""One exception class per custom error of our contracts, made from the shipped ABIs at import,
the way Ape makes ``contract.MyError``: ``from infera.contract_errors import
NodeRegistryStakeBelowMinimum`` and ``except NodeRegistryStakeBelowMinimum as e: e.need``.

Each class is named exactly like its Solidity error, is a ContractRevert (so `.name` and
`.args_by_name` keep working) and an InferaError, carries `selector`, `signature` and one
attribute per argument, and says in its message what to do (infera.revert_hints). Some are
also the SDK error the same refusal raises before a transaction (NodeRegistryStakeBelowMinimum
is an InsufficientStake). An error two contracts declare (AccessControl's, say) is one class.

Type checkers read contract_errors.pyi, which toolchain/export_abi.py writes from the same
ABIs (a test keeps it current).
"""

from __future__ import annotations

from infera._contract_errors import ContractCustomError, ErrorClasses, error_specs
from infera.abi import ABI_NAMES, load_abi, load_error_notes
from infera.errors import InferaError

_CLASSES = ErrorClasses.build(error_specs({name: load_abi(name) for name in ABI_NAMES}, load_error_notes()))
globals().update(_CLASSES.by_name)

__all__ = ["ContractCustomError", "decode_custom_error", "error_class", "error_classes", "revert_error",
           *_CLASSES.by_name]


def decode_custom_error(data: str | bytes | None) -> ContractCustomError | None:
    """Revert data as the class of the custom error it encodes, or None when it is none of ours."""
    return _CLASSES.decode(data)


def revert_error(data: str | bytes | None, what: str = "the call") -> InferaError:
    """Any revert data as an SDK error: a custom error's class, ContractPanic for Panic(uint256),
    ContractRequireError for Error(string), else UnknownRevert. `what` names the call in the
    message of the last three."""
    return _CLASSES.revert_error(data, what)


def error_class(name: str) -> type[ContractCustomError]:
    """The class of the custom error `name` (KeyError when no ABI declares it)."""
    return _CLASSES.by_name[name]


def error_classes() -> dict[str, type[ContractCustomError]]:
    """Every custom error's class, by name."""
    return dict(_CLASSES.by_name)
