#!/usr/bin/env node
// Stand-in for a native `solc` binary, backed by the official WebAssembly build from npm.
// py-solc-x (used by ape-solidity) calls it as `solc --version` and as
// `solc --standard-json [--base-path P] [--allow-paths A,B]` with the JSON input on stdin.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);
const optionValue = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : null;
};

if (args.includes('--version')) {
  // py-solc-x parses "Version: X.Y.Z+commit.HASH..." from this line.
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}

if (!args.includes('--standard-json')) {
  process.stderr.write('solc-shim supports only --version and --standard-json\n');
  process.exit(2);
}

const roots = [process.cwd()];
const basePath = optionValue('--base-path');
if (basePath) roots.unshift(path.resolve(basePath));
const allowed = optionValue('--allow-paths');
if (allowed) for (const p of allowed.split(',')) if (p) roots.push(path.resolve(p));

// Resolve an import the way native solc does: relative to the base path, then the allowed paths.
function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.join(r, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
}

const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
