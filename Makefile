# Infera: every set-up step is a target here and installs what it needs on first run.
# `make demo` runs a whole network with real jobs; `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
DEVNET_PORT ?= 8545
BLOCK_TIME ?= 1

export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export INFERA_RPC_URL ?= http://127.0.0.1:$(DEVNET_PORT)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

SOL_SOURCES := $(shell find contracts -name '*.sol' -not -path 'contracts/.cache/*')
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
SOLC_STAMP := .solcx/.installed
BUILD_STAMP := .build/.compiled

.PHONY: help setup browser compile abi deploy demo demo-agent bench test test-contracts test-python soak gas-snapshot gas-profile lint typecheck calibrate devnet-up devnet-down clean

help:
	@echo "make setup        install Python and npm dependencies, solc, compile contracts"
	@echo "make demo         devnet + deploy + 3 nodes + relayer + 10 verified jobs, then stop everything"
	@echo "                  (DEMO_ARGS=--hold: keep it up with the dashboard until Ctrl-C)"
	@echo "make demo-agent   devnet + 3 nodes + the news-signal agent: what it perceived, thought and did"
	@echo "make bench        gas, throughput and latency on devnets with real nodes: BENCHMARKS.md (BENCH_ARGS=...)"
	@echo "make test         every test (contracts on a throwaway devnet, unit, end to end, dashboard in chromium)"
	@echo "make browser      install Debian chromium for the dashboard test (as root; make test runs it)"
	@echo "make gas-snapshot refresh the committed gas figures after a change that moves gas on purpose"
	@echo "make gas-profile  trace the batched job's transactions: gas by phase, contract and opcode kind"
	@echo "make soak         long randomized runs (the invariant machine under the soak profile)"
	@echo "make lint         ruff, mypy and slither (also part of make test)"
	@echo "make calibrate    regenerate the cosine-threshold evidence in docs/calibration/"
	@echo "make devnet-up    start anvil --optimism on port $(DEVNET_PORT) (BLOCK_TIME=$(BLOCK_TIME))"
	@echo "make deploy       deploy to the running devnet (writes deployments/infera-devnet.json)"
	@echo "make devnet-down  stop the devnet started by devnet-up"

# ---------------------------------------------------------------------------- installation
# One resolver run for every Python dependency: installing sentence-transformers after ape in a
# second step pulls click>=8.2 and breaks `ape`. Two distributions, both editable: the SDK
# (infera-sdk, sdk/) with every extra, and the node, relayer and test harness (infera, here) with
# the node's torch and the test tools.
$(PY_STAMP): pyproject.toml sdk/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e './sdk[ape,langchain,llamaindex]' -e '.[node,test]'
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(SOLC_STAMP): $(NPM_STAMP) toolchain/install-solc.sh toolchain/solc-shim.js
	@bash toolchain/install-solc.sh 0.8.28
	@touch $@

# Ape may leave a copy of OpenZeppelin (500+ files) in contracts/.cache; its source scan stops at
# 500 files, so a leftover copy can hide our own contracts in subfolders. Remove it after compiling.
# --force: ape recompiles only the files that changed, not the contracts importing them, so an
# edited library would otherwise leave stale bytecode in the contracts that use it.
$(BUILD_STAMP): $(PY_STAMP) $(SOLC_STAMP) $(SOL_SOURCES) ape-config.yaml
	$(BIN)/ape compile --force
	@rm -rf contracts/.cache
	@$(PY) toolchain/export_abi.py
	@touch $@

setup: $(PY_STAMP) $(NPM_STAMP) $(SOLC_STAMP) $(BUILD_STAMP)

compile abi: $(BUILD_STAMP)

# ---------------------------------------------------------------------------------- devnet
devnet-up: setup
	@$(BIN)/infera-devnet up --port $(DEVNET_PORT) --block-time $(BLOCK_TIME)

devnet-down:
	@$(BIN)/infera-devnet down

deploy: setup
	$(BIN)/ape run deploy --network infera:devnet:node

# ------------------------------------------------------------------------------------ demo
# DEMO_ARGS=--hold keeps the network and the dashboard up after the jobs, until Ctrl-C.
DEMO_ARGS ?=
demo: setup
	@$(PY) scripts/demo.py $(DEMO_ARGS)

# The news-signal agent end to end (infera.agents.examples.news); the loan-risk monitor is
# `$(PY) -m infera.agents.examples.loans --demo`. Both stop everything they start, Ctrl-C included.
demo-agent: setup
	@PYTHONPATH=$(CURDIR)/sdk:$(CURDIR) $(PY) -m infera.agents.examples.news --demo

# ------------------------------------------------------------------------------- benchmarks
# Every figure against a baseline from the same run; writes benchmarks/results/ and BENCHMARKS.md.
# PYTHONPATH: measure this checkout's SDK and node even where the venv's editable install is another's.
BENCH_ARGS ?=
bench: setup
	PYTHONPATH=$(CURDIR)/sdk:$(CURDIR) $(PY) -m benchmarks.run $(BENCH_ARGS)

# ----------------------------------------------------------------------------------- tests
# Contract tests run through ape's pytest plugin against a throwaway devnet on a free port;
# the unit and end-to-end tests start their own processes.
# The three parts run side by side (-O prints each one's output whole, when it ends): the
# contract suite keeps about one core busy while the end-to-end tests mostly wait on their own
# devnets and nodes (load average about 1 on two cores), so in turn they took 26 minutes.
test: setup browser
	@$(MAKE) --no-print-directory -j3 -O lint test-contracts test-python

test-contracts: setup
	$(BIN)/infera-devnet run -- $(BIN)/ape test tests/contracts --network infera:devnet:node --disable-isolation -q --tb=short -p no:cacheprovider

test-python: setup
	$(BIN)/pytest tests -q --tb=short -p no:ape_test -p no:cacheprovider --ignore=tests/contracts --ignore=tests/soak

# The dashboard test drives Debian's chromium through PyPI playwright (never `playwright install`,
# which downloads a browser). A system package: installed here when missing and we are root (CI);
# otherwise the test skips and names this target.
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "chromium missing: run 'sudo apt-get install -y chromium' (the dashboard test skips until then)"; fi; \
	fi

# Long randomized runs, not part of `make test`: the same contract-test command under the Hypothesis
# "soak" profile (tests/contracts/hypothesis_profiles.py), then the node soak (tests/soak: 500 jobs
# over 3 nodes with random kills and RPC faults; INFERA_SOAK_JOBS, _SEED, _TIMEOUT; writes
# benchmarks/results/soak.json). Add further long runs as more lines here.
SOAK_ENV := INFERA_HYPOTHESIS_PROFILE=soak
soak: setup
	$(SOAK_ENV) $(BIN)/infera-devnet run -- $(BIN)/ape test tests/contracts/test_invariants.py --network infera:devnet:node --disable-isolation -q --tb=short -p no:cacheprovider
	$(BIN)/pytest tests/soak -q --tb=short -p no:ape_test -p no:cacheprovider

# Refresh tests/contracts/gas_snapshot.json after a change that moves gas on purpose; commit it
# with the change (make test fails when a tracked figure rises more than 2% above it).
# Where each phase's gas goes (opcode-level trace of the batched three-node scenario).
gas-profile: setup
	$(PY) -m benchmarks.gas_profile

gas-snapshot: setup
	INFERA_UPDATE_GAS_SNAPSHOT=1 $(BIN)/infera-devnet run -- $(BIN)/ape test tests/contracts/test_gas_snapshot.py --network infera:devnet:node --disable-isolation -q --tb=short -p no:cacheprovider

# ruff and mypy on our Python; slither on our contracts (fails on any High or Medium finding).
lint: setup
	$(BIN)/ruff check oracle_node sdk relayer infera_testing scripts tests toolchain benchmarks
	$(BIN)/mypy
	@bash toolchain/slither.sh

calibrate: setup
	$(PY) -m oracle_node.calibration --out docs/calibration

clean:
	rm -rf .build contracts/.cache .run $(BUILD_STAMP)
