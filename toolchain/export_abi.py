"""Copy the compiled ABIs the SDK binds to into sdk/infera/abi/ (run after `ape compile`).

The SDK ships these files so it works without Ape or a build; tests/test_abi_sync.py fails when
they drift from the contracts. Usage: ``python toolchain/export_abi.py [--check]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infera.deployment import CONTRACTS

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build" / "__local__.json"
OUT_DIR = ROOT / "sdk" / "infera" / "abi"
EXPORTED = (*CONTRACTS, "IInferaConsumer")


def rendered_abis() -> dict[str, str]:
    manifest = json.loads(BUILD.read_text())
    types = manifest["contractTypes"]
    return {name: json.dumps(types[name]["abi"], indent=1, sort_keys=True) + "\n" for name in EXPORTED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed ABIs differ")
    args = parser.parse_args()
    stale = []
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in rendered_abis().items():
        path = OUT_DIR / f"{name}.json"
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"stale ABIs in {OUT_DIR}: {', '.join(stale)}; run `make abi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
