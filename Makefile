# HubLedger: `make run` starts a local network, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HUBS ?= beijing,shanghai,shenzhen,hangzhou
NETWORK_DIR ?= .localnet

.PHONY: install run test lint unit e2e bench swarm explore clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hubledger localnet --hubs $(HUBS) --dir $(NETWORK_DIR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy ledger storage contracts consensus p2p node scripts
	$(BIN)/lint-imports

# The docker compose tests (tests/e2e) run whenever a Docker engine answers and
# are reported as skipped, with the reason, when none does.
test: lint
	$(BIN)/pytest

e2e: install
	$(BIN)/pytest -m e2e

unit: install
	$(BIN)/pytest tests/unit

# Throughput and latency of a local four-hub network under load; see docs/benchmarks.md.
BENCH_ARGS ?= --rate 2000 --duration 60
bench: install
	$(BIN)/hubledger bench $(BENCH_ARGS) --out bench-result.json

# The long simulator runs, before a release; see docs/testers.md.
SWARM_SEEDS ?= 10000
JOBS ?= 2
swarm: install
	$(BIN)/hubledger simulate --swarm --seed 0 --seeds $(SWARM_SEEDS) --jobs $(JOBS)

explore: install
	$(BIN)/hubledger simulate --explore --scope default --jobs $(JOBS)

clean:
	rm -rf $(VENV) $(NETWORK_DIR) .pytest_cache .mypy_cache .ruff_cache *.egg-info
