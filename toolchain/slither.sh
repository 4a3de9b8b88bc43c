#!/usr/bin/env bash
# Static analysis of Infera's contracts with slither.
#
# Analyses contracts/*.sol, contracts/libraries, interfaces, consumers and examples (not contracts/test,
# which holds test-only contracts, nor contracts/.cache). Slither cannot read Ape's build, so the
# sources are copied into a temporary folder next to a node_modules link and compiled there with
# solc's standard JSON interface (the solc from toolchain/install-solc.sh, native or the
# WebAssembly shim). OpenZeppelin's own findings are filtered out.
#
# Exit status: 0 when no High or Medium impact finding remains; non-zero when there is one (they
# are printed) or when compilation/analysis fails. Low findings are listed, Informational and
# Optimization ones summarised. Silence a reviewed false positive in the source with
#   // slither-disable-next-line <detector>
# Extra arguments are passed to slither (e.g. `--exclude naming-convention`).
# Environment: SLITHER (slither executable), SOLC_VERSION (default 0.8.28),
# SOLCX_BINARY_PATH (folder of solc-v<version>, default <root>/.solcx), SLITHER_FULL=1 to also
# print slither's own text report.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${SOLC_VERSION:-0.8.28}"
slither="${SLITHER:-$root/.venv/bin/slither}"
python="$root/.venv/bin/python"
solc="${SOLCX_BINARY_PATH:-$root/.solcx}/solc-v$version"

[[ -x "$slither" ]] || { echo "slither.sh: $slither not found (make setup installs it)" >&2; exit 2; }
[[ -d "$root/node_modules/@openzeppelin/contracts" ]] || {
  echo "slither.sh: $root/node_modules/@openzeppelin/contracts missing (run npm ci / make setup)" >&2; exit 2; }
if [[ ! -x "$solc" ]]; then
  SOLCX_BINARY_PATH="$(dirname "$solc")" bash "$root/toolchain/install-solc.sh" "$version"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/infera-slither.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Same layout as the project, so relative imports resolve and reported paths read contracts/...
mkdir -p "$work/contracts"
shopt -s nullglob
top=("$root"/contracts/*.sol)
(( ${#top[@]} )) || { echo "slither.sh: no contracts/*.sol found" >&2; exit 2; }
cp "${top[@]}" "$work/contracts/"
for sub in libraries interfaces consumers examples; do
  if [[ -d "$root/contracts/$sub" ]]; then cp -R "$root/contracts/$sub" "$work/contracts/$sub"; fi
done
ln -s "$root/node_modules" "$work/node_modules"

# Slither compiles only the *.sol files directly inside the target folder; an entry file that
# imports every library and interface makes sure the ones no contract imports are analysed too.
# Namespaced imports ("as") avoid name clashes; results located in it are filtered out.
entry="$work/contracts/__SlitherEntry.sol"
{
  echo "// SPDX-License-Identifier: UNLICENSED"
  echo "pragma solidity ^$version;"
  n=0
  while IFS= read -r f; do
    echo "import \"./${f#"$work/contracts/"}\" as SlitherEntry$((n++));"
  done < <(find "$work/contracts/libraries" "$work/contracts/interfaces" "$work/contracts/consumers" "$work/contracts/examples" -name '*.sol' 2>/dev/null | sort)
} > "$entry"

cd "$work"
status=0
"$slither" contracts \
  --compile-force-framework solc \
  --solc "$solc" \
  --solc-standard-json \
  --solc-remaps "@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/" \
  --filter-paths "node_modules|__SlitherEntry" \
  --fail-medium \
  --disable-color \
  --json "$work/slither.json" \
  "$@" > "$work/slither.log" 2>&1 || status=$?

if [[ "${SLITHER_FULL:-0}" == 1 ]]; then cat "$work/slither.log"; fi

"$python" - "$work/slither.json" "$work/slither.log" "$status" <<'PY' || status=$?
import json
import sys
from collections import Counter, defaultdict

json_path, log_path, slither_status = sys.argv[1], sys.argv[2], int(sys.argv[3])

def dump_log():
    with open(log_path, encoding="utf8", errors="replace") as fh:
        sys.stderr.write(fh.read())

try:
    with open(json_path, encoding="utf8") as fh:
        data = json.load(fh)
except (OSError, ValueError):
    dump_log()
    print("slither.sh: slither produced no JSON report (see its output above)", file=sys.stderr)
    sys.exit(2)
if not data.get("success", False) or data.get("error"):
    dump_log()
    print(f"slither.sh: slither failed: {data.get('error')}", file=sys.stderr)
    sys.exit(2)

results = (data.get("results") or {}).get("detectors", [])
by_impact = defaultdict(list)
for r in results:
    by_impact[r["impact"]].append(r)

def show(r):
    desc = r["description"].strip().splitlines()
    print(f"  [{r['impact']}/{r['confidence']}] {r['check']}: {desc[0]}")
    for line in desc[1:]:
        print(f"      {line}")

severe = by_impact["High"] + by_impact["Medium"]
for impact in ("High", "Medium", "Low"):
    if by_impact[impact]:
        print(f"== {impact} impact ({len(by_impact[impact])}) ==")
        for r in by_impact[impact]:
            show(r)
for impact in ("Informational", "Optimization"):
    if by_impact[impact]:
        counts = Counter(r["check"] for r in by_impact[impact])
        listed = ", ".join(f"{check} x{n}" for check, n in sorted(counts.items()))
        print(f"== {impact} ({len(by_impact[impact])}): {listed} (SLITHER_FULL=1 for details)")

summary = ", ".join(f"{k}: {len(by_impact[k])}" for k in
                    ("High", "Medium", "Low", "Informational", "Optimization"))
print(f"slither: {len(results)} finding(s) on our contracts ({summary})")
if severe:
    print(f"slither: FAILED, {len(severe)} High/Medium finding(s); fix them or, for a reviewed "
          "false positive, add `// slither-disable-next-line <detector>` before the line.")
    sys.exit(1)
if slither_status != 0:
    dump_log()
    print(f"slither.sh: slither exited with status {slither_status}", file=sys.stderr)
    sys.exit(2)
print("slither: OK, no High/Medium findings")
PY
exit "$status"
