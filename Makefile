# HubLedger: `make run` starts a local network, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HUBS ?= beijing,shanghai,shenzhen,hangzhou
NETWORK_DIR ?= .localnet

.PHONY: install run test lint unit e2e bench corruption-sweep swarm explore fuzz-cli clean faketime

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
	$(BIN)/mypy ledger storage contracts consensus p2p node hubledger_client hubledger_tools scripts tests
	$(BIN)/lint-imports

# The docker compose tests (tests/e2e) run whenever a Docker engine answers and
# are reported as skipped, with the reason, when none does.
test: lint faketime
	$(BIN)/pytest

# libfaketime, for the integration test of a hub whose clock is 40 s slow (skipped, with
# the reason, where it is missing). Debian's package, installed when apt-get can (as root);
# elsewhere the test says why it skips and everything else runs.
FAKETIME_LIB := /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
faketime:
	@test -e $(FAKETIME_LIB) || { apt-get update -qq && apt-get install -y -qq faketime; } >/dev/null 2>&1 \
		|| echo "libfaketime not installed: the slow-clock test will be skipped"

e2e: install
	$(BIN)/pytest -m e2e

unit: install
	$(BIN)/pytest tests/unit

# Bit flips and truncation of LevelDB files over many seeds; see docs/testers.md.
CORRUPTION_SEEDS ?= 150
corruption-sweep: install
	HUBLEDGER_CORRUPTION_SEEDS=$(CORRUPTION_SEEDS) $(BIN)/pytest -q tests/integration/storage/test_corruption.py

# Every option of every hubledger subcommand with many generated bad values; see docs/api.md.
CLI_FUZZ_EXAMPLES ?= 200
fuzz-cli: install
	CLI_FUZZ_EXAMPLES=$(CLI_FUZZ_EXAMPLES) $(BIN)/pytest -q tests/integration/cli/test_cli_fuzz.py

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
