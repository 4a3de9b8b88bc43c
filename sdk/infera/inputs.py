"""What a job's input is: the bytes the requester submitted, and the one text every node embeds.

The contract accepts any bytes as a job's input (a `string` in the ABI is not checked to be
UTF-8 on-chain). Every node must embed the same text for the same bytes, or honest nodes would
disagree and be slashed, so the rule is part of the protocol (docs/verification.md):
**the text is the input bytes decoded as UTF-8, each invalid sequence replaced by U+FFFD**
(Python's ``bytes.decode("utf-8", errors="replace")``, the WHATWG decoder's rule).
"""

from __future__ import annotations

from infera.errors import InferaError

MAX_INPUT_BYTES = 2048  # JobRegistry.MAX_INPUT_BYTES


class InvalidInput(InferaError, ValueError):
    """An input cannot be submitted (empty, too long, not text)."""


def canonical_text(raw: bytes) -> str:
    """The text every node embeds for a job submitted with input bytes ``raw``."""
    return raw.decode("utf-8", errors="replace")


def encode_input(text: str, index: int = 0) -> bytes:
    """The UTF-8 bytes of an input the contract will accept, or InvalidInput saying why not."""
    if not isinstance(text, str):
        raise InvalidInput(f"input {index} is {type(text).__name__}, not str")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: not representable in UTF-8
        raise InvalidInput(f"input {index} is not valid Unicode text ({exc.reason} at {exc.start})") from None
    if not raw:
        raise InvalidInput(f"input {index} is empty")
    if len(raw) > MAX_INPUT_BYTES:
        raise InvalidInput(f"input {index} is {len(raw)} bytes of UTF-8; the limit is {MAX_INPUT_BYTES}")
    return raw
