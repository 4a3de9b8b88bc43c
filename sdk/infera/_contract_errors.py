"""The machinery behind infera.contract_errors: read every custom error from the ABIs, make one
exception class per error (as Ape makes ``contract.MyError``), and turn revert data into them.

Kept apart from infera.contract_errors so that mypy checks it: that module's classes exist only
at run time, and its checked-in stub (contract_errors.pyi, written by toolchain/export_abi.py
from `render_stub`) is what type checkers read.
"""

from __future__ import annotations

import keyword
import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from infera.abi import abi_type_string
from infera.errors import ContractPanic, ContractRequireError, ContractRevert, InferaError, UnknownRevert
from infera.revert_hints import DOMAIN_BASES, HINTS, Args, readable

MODULE = "infera.contract_errors"
PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]
ERROR_STRING_SELECTOR = keccak(text="Error(string)")[:4]
# Solidity's panic codes (docs.soliditylang.org, "Panic via assert and Error via require").
PANIC_CODES = {
    0x00: "a generic compiler panic", 0x01: "an assert failed", 0x11: "an arithmetic overflow or underflow",
    0x12: "a division or modulo by zero", 0x21: "a conversion to an enum out of range",
    0x22: "a corrupt storage byte array", 0x31: "pop() on an empty array", 0x32: "an array index out of bounds",
    0x41: "too much memory allocated", 0x51: "a call to an uninitialised internal function",
}
# What a field's attribute may not be called: Python keywords, the exception's own attributes,
# and the builtin types the stub's annotations name.
_TAKEN = frozenset({*keyword.kwlist, *dir(ContractRevert), "raw", "name", "args_by_name", "fields", "notice",
                    "contracts", "hint", "int", "str", "bytes", "bool", "tuple", "Any"})
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ErrorField:
    """One argument of a custom error: its ABI name, the attribute it is read by, its ABI type."""

    abi_name: str
    attr: str
    abi_type: str

    @property
    def python_type(self) -> str:
        return python_type(self.abi_type)


@dataclass(frozen=True)
class ErrorSpec:
    """One custom error as the ABIs declare it (once, however many contracts declare it)."""

    name: str
    fields: tuple[ErrorField, ...]
    contracts: tuple[str, ...]
    notice: str

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(f.abi_type for f in self.fields)})"

    @property
    def selector(self) -> bytes:
        return keccak(text=self.signature)[:4]


def python_type(abi_type: str) -> str:
    """The Python type eth_abi decodes an ABI type to (as the stub annotates it)."""
    if abi_type.endswith("]"):
        return f"tuple[{python_type(abi_type[:abi_type.rindex('[')])}, ...]"
    if abi_type.startswith("("):
        return "tuple[Any, ...]"
    if abi_type in ("address", "string"):
        return "str"
    if abi_type == "bool":
        return "bool"
    if abi_type.startswith("bytes"):
        return "bytes"
    return "int"  # (u)intN


def _attr_name(abi_name: str) -> str:
    return abi_name + "_" if abi_name in _TAKEN else abi_name


def error_specs(abis: Mapping[str, Sequence[Mapping[str, Any]]], notes: Mapping[str, str]) -> list[ErrorSpec]:
    """Every custom error of `abis` (contract name -> ABI), one per selector, sorted by name.
    Two different errors with one name would need two classes of one name: refused."""
    found: dict[bytes, ErrorSpec] = {}
    for contract, abi in abis.items():
        for entry in abi:
            if entry.get("type") != "error":
                continue
            fields = tuple(ErrorField(str(p.get("name") or f"arg{i}"), _attr_name(str(p.get("name") or f"arg{i}")),
                                      abi_type_string(dict(p))) for i, p in enumerate(entry["inputs"]))
            spec = ErrorSpec(str(entry["name"]), fields, (contract,), "")
            known = found.get(spec.selector)
            contracts = (*known.contracts, contract) if known is not None else (contract,)
            found[spec.selector] = ErrorSpec(spec.name, fields, contracts, _SPACES.sub(" ", notes.get(spec.signature, "")).strip())
    specs = sorted(found.values(), key=lambda s: s.name)
    names = [s.name for s in specs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise RuntimeError(f"custom errors {clashes} are each declared with two signatures; rename one in the "
                           "contracts, since each error is one Python class named after it")
    return specs


class ContractCustomError(ContractRevert):
    """A custom error of our contracts; infera.contract_errors has one subclass per error, named
    like it, whose attributes are its arguments by their ABI names (``from`` reads ``from_``).
    Its message is the error with its arguments as a person reads them, then what to do."""

    spec: ClassVar[ErrorSpec]

    def __init__(self, *, raw: str | None = None, **values: Any) -> None:
        spec = type(self).spec
        given = set(values)
        wanted = {f.attr for f in spec.fields}
        if given != wanted:
            raise TypeError(f"{spec.name} takes {sorted(wanted)}; got {sorted(given)}")
        by_abi = {f.abi_name: _normalised(f.abi_type, values[f.attr]) for f in spec.fields}
        if raw is None:
            raw = "0x" + (spec.selector + abi_encode([f.abi_type for f in spec.fields],
                                                     [by_abi[f.abi_name] for f in spec.fields])).hex()
        self._init(by_abi, raw)

    def _init(self, by_abi: dict[str, Any], raw: str) -> None:
        for f in type(self).spec.fields:
            if f.abi_name in by_abi:
                setattr(self, f.attr, by_abi[f.abi_name])
        ContractRevert.__init__(self, type(self).spec.name, by_abi, raw)

    @classmethod
    def _decoded(cls, by_abi: dict[str, Any], raw: str) -> ContractCustomError:
        """An instance from decoded revert data; `by_abi` is empty when the data was malformed."""
        error = cls.__new__(cls)
        error._init(by_abi, raw)
        return error

    @property
    def selector_hex(self) -> str:
        return "0x" + type(self).spec.selector.hex()

    @property
    def hint(self) -> str:
        """What to do about it: the error's own hint, else its NatSpec notice."""
        spec = type(self).spec
        complete = len(self.args_by_name) == len(spec.fields)
        hint = HINTS.get(spec.name)
        if hint is not None and complete:
            return hint(Args(spec.name, self.args_by_name))
        notice = spec.notice or f"the {'/'.join(spec.contracts)} contract refused the call"
        if not complete:
            return f"{notice} (its arguments could not be decoded from {self.raw})"
        return notice

    def _message(self) -> str:
        spec = type(self).spec
        rendered = ", ".join(f"{k}={readable(spec.name, k, v)}" for k, v in self.args_by_name.items())
        return f"{spec.name}({rendered}): {self.hint}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self).spec.name, dict(self.args_by_name), self.raw))


def _normalised(abi_type: str, value: Any) -> Any:
    """Addresses checksummed (eth_abi decodes them lower case), all else as decoded."""
    if abi_type == "address" and isinstance(value, str):
        return to_checksum_address(value)
    if abi_type.startswith("address[") and isinstance(value, (list, tuple)):
        return tuple(to_checksum_address(v) for v in value)
    return value


def make_error_class(spec: ErrorSpec) -> type[ContractCustomError]:
    """The exception class of one custom error (ape's ``_create_custom_error_type``), with the
    SDK error it also is, if any (revert_hints.DOMAIN_BASES)."""
    def body(namespace: dict[str, Any]) -> None:
        namespace.update(spec=spec, selector=spec.selector, signature=spec.signature, __module__=MODULE,
                         __qualname__=spec.name, __doc__=spec.notice or f"{spec.signature}, declared by "
                                                                    f"{', '.join(spec.contracts)}.")

    made: type[ContractCustomError] = types.new_class(
        spec.name, (ContractCustomError, *DOMAIN_BASES.get(spec.name, ())), {}, body)
    return made


@dataclass(frozen=True)
class ErrorClasses:
    """The classes of every custom error in the ABIs, by name and by selector."""

    by_name: dict[str, type[ContractCustomError]]
    by_selector: dict[bytes, type[ContractCustomError]]

    @classmethod
    def build(cls, specs: Sequence[ErrorSpec]) -> ErrorClasses:
        made = [make_error_class(s) for s in specs]
        return cls({c.spec.name: c for c in made}, {c.spec.selector: c for c in made})

    def decode(self, data: str | bytes | None) -> ContractCustomError | None:
        """Revert data as its custom error, or None when it is not one of ours."""
        raw = _as_bytes(data)
        if raw is None or len(raw) < 4 or raw[:4] not in self.by_selector:
            return None
        error_class = self.by_selector[raw[:4]]
        fields = error_class.spec.fields
        try:
            values = abi_decode([f.abi_type for f in fields], raw[4:])
        except Exception:  # noqa: BLE001 - malformed data: the error by name, without arguments
            return error_class._decoded({}, "0x" + raw.hex())
        by_abi = {f.abi_name: _normalised(f.abi_type, v) for f, v in zip(fields, values, strict=True)}
        return error_class._decoded(by_abi, "0x" + raw.hex())

    def revert_error(self, data: str | bytes | None, what: str = "the call") -> InferaError:
        """The SDK error of any revert: a custom error's class, ContractPanic, ContractRequireError,
        or UnknownRevert for data no ABI explains (or none)."""
        custom = self.decode(data)
        if custom is not None:
            return custom
        raw = _as_bytes(data)
        if raw is None or not raw:
            return UnknownRevert(f"{what} reverted without a reason (no revert data: an out-of-gas, a bare "
                                 "revert(), or a call to an address without code)", None)
        shown = "0x" + raw.hex()
        if raw[:4] == PANIC_SELECTOR:
            try:
                (code,) = abi_decode(["uint256"], raw[4:])
            except Exception:  # noqa: BLE001 - malformed: report it as unknown
                return UnknownRevert(f"{what} reverted with malformed Panic data {shown}", shown)
            meaning = PANIC_CODES.get(int(code), "an unknown panic code")
            return ContractPanic(f"Panic({int(code):#04x}): {what} hit {meaning} in a contract; this is a bug in the "
                                 "contract or its caller, please report it with the transaction", int(code), shown)
        if raw[:4] == ERROR_STRING_SELECTOR:
            try:
                (reason,) = abi_decode(["string"], raw[4:])
            except Exception:  # noqa: BLE001 - malformed (or not UTF-8): report it as unknown
                return UnknownRevert(f"{what} reverted with malformed Error(string) data {shown}", shown)
            return ContractRequireError(f"Error({str(reason)!r}): {what} was refused with this reason", str(reason),
                                        shown)
        return UnknownRevert(f"{what} reverted with data {shown[:10]}… that no Infera contract's error matches "
                             "(another contract's error, or an ABI from another version)", shown)


def _as_bytes(data: str | bytes | None) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    text = data[2:] if data.startswith("0x") else data
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _rebuild(name: str, by_abi: dict[str, Any], raw: str) -> ContractCustomError:
    from infera.contract_errors import error_class  # the module whose classes these are

    return error_class(name)._decoded(by_abi, raw)


# ------------------------------------------------------------------ the stub
def render_stub(specs: Sequence[ErrorSpec]) -> str:
    """infera/contract_errors.pyi: every class with its typed attributes, for mypy and editors."""
    names = ["ContractCustomError", "decode_custom_error", "error_class", "error_classes", "revert_error",
             *(s.name for s in specs)]
    uses_any = any("Any" in f.python_type for s in specs for f in s.fields)
    lines = [
        '"""Generated by toolchain/export_abi.py from sdk/infera/abi; do not edit. See _contract_errors."""',
        "",
        "from typing import Any, ClassVar" if uses_any else "from typing import ClassVar",
        "",
        "from infera import errors as _errors  # its names may be error names too (InsufficientBalance)",
        "from infera._contract_errors import ContractCustomError as ContractCustomError",
        "from infera._contract_errors import ErrorSpec",
        "",
        "def decode_custom_error(data: str | bytes | None) -> ContractCustomError | None: ...",
        'def revert_error(data: str | bytes | None, what: str = "the call") -> _errors.InferaError: ...',
        "def error_class(name: str) -> type[ContractCustomError]: ...",
        "def error_classes() -> dict[str, type[ContractCustomError]]: ...",
        "",
        "__all__ = [",
        *(f'    "{n}",' for n in names),
        "]",
    ]
    for spec in specs:
        bases = ", ".join(["ContractCustomError", *(f"_errors.{b.__name__}" for b in DOMAIN_BASES.get(spec.name, ()))])
        params = "".join(f", {f.attr}: {f.python_type}" for f in spec.fields)
        lines += ["", "", f"class {spec.name}({bases}):"]
        if spec.notice:
            lines.append(f"    {_docstring(spec.notice)}")
        lines.append("    spec: ClassVar[ErrorSpec]")
        lines += [f"    {f.attr}: {f.python_type}" for f in spec.fields]
        lines.append(f"    def __init__(self, *, raw: str | None = None{params}) -> None: ...")
    return "\n".join(lines) + "\n"


def _docstring(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{escaped}"""'
