"""Copy the compiled ABIs the SDK binds to into sdk/infera/abi/ (run after `ape compile`), with
the NatSpec text of every custom error (abi/error_notes.json), and write the typed stub of the
error classes made from them (sdk/infera/contract_errors.pyi).

The SDK ships these files so it works without Ape or a build; tests/unit/test_sdk.py fails when
they drift from the contracts, tests/unit/test_contract_errors.py when the stub drifts from the
ABIs. Usage: ``python toolchain/export_abi.py [--check]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from infera._contract_errors import error_specs, render_stub
from infera.abi import ABI_NAMES, ERROR_NOTES

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build" / "__local__.json"
OUT_DIR = ROOT / "sdk" / "infera" / "abi"
STUB = ROOT / "sdk" / "infera" / "contract_errors.pyi"


def _note(userdoc: list[dict[str, Any]] | None, devdoc: list[dict[str, Any]] | None) -> str:
    """An error's @notice (written for users), else its @dev text (OpenZeppelin's errors have only that)."""
    for docs, key in ((userdoc, "notice"), (devdoc, "details")):
        for doc in docs or []:
            if doc.get(key):
                return re.sub(r"\s+", " ", str(doc[key])).strip()
    return ""


def error_notes(types: dict[str, Any]) -> dict[str, str]:
    notes: dict[str, str] = {}
    for name in ABI_NAMES:
        user = types[name].get("userdoc", {}).get("errors", {})
        dev = types[name].get("devdoc", {}).get("errors", {})
        for signature in sorted({*user, *dev}):
            note = _note(user.get(signature), dev.get(signature))
            if note:
                notes.setdefault(signature, note)
    return dict(sorted(notes.items()))


def rendered_files() -> dict[Path, str]:
    """Every file this exports, by path, as it should read."""
    types = json.loads(BUILD.read_text())["contractTypes"]
    abis = {name: types[name]["abi"] for name in ABI_NAMES}
    notes = error_notes(types)
    files = {OUT_DIR / f"{name}.json": json.dumps(abi, indent=1, sort_keys=True) + "\n" for name, abi in abis.items()}
    files[OUT_DIR / ERROR_NOTES] = json.dumps(notes, indent=1, sort_keys=True) + "\n"
    files[STUB] = render_stub(error_specs(abis, notes))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args()
    stale = []
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in rendered_files().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"stale exported files: {', '.join(stale)}; run `make abi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
