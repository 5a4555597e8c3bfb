# HubLedger: `make run` starts a local network, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HUBS ?= beijing,shanghai,shenzhen,hangzhou
NETWORK_DIR ?= .localnet

.PHONY: install run test lint unit e2e bench corruption-sweep swarm explore fuzz-cli clean faketime promtool lock

# Every dependency at the version and with the hashes of the lock files in requirements/
# (setup.cfg keeps the ranges for people who install the library); the project itself is
# installed editable, built with the locked setuptools.
$(STAMP): setup.cfg pyproject.toml requirements/dev.txt requirements/build.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/build.txt -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --editable .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hubledger localnet --hubs $(HUBS) --dir $(NETWORK_DIR) $(if $(OBSERVER),--observer)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy ledger storage contracts consensus p2p node hubledger_client hubledger_tools scripts tests
	$(BIN)/lint-imports

# The docker compose tests (tests/e2e) run whenever a Docker engine answers and
# are reported as skipped, with the reason, when none does.
test: lint faketime promtool
	$(BIN)/pytest

# libfaketime, for the integration test of a hub whose clock is 40 s slow (skipped, with
# the reason, where it is missing). Debian's package, installed when apt-get can (as root);
# elsewhere the test says why it skips and everything else runs.
FAKETIME_LIB := /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
faketime:
	@test -e $(FAKETIME_LIB) || { apt-get update -qq && apt-get install -y -qq faketime; } >/dev/null 2>&1 \
		|| echo "libfaketime not installed: the slow-clock test will be skipped"

# promtool, for the tests of the alert rules in monitoring/ (skipped, with the reason, where it
# is missing): Debian's prometheus package, installed as for libfaketime.
promtool:
	@command -v promtool >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus; } >/dev/null 2>&1 \
		|| echo "promtool not installed: the alert rule tests will be skipped"

# Regenerate the lock files from setup.cfg and pyproject.toml (newest versions in the ranges).
LOCK_VENV := build/lock-venv
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools; }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --no-emit-find-links --no-emit-index-url --generate-hashes --allow-unsafe \
		--strip-extras --extra node -o requirements/node.txt setup.cfg
	# The test extra names hubledger[node]: the project itself is left out of its own lock.
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --no-emit-find-links --no-emit-index-url --generate-hashes \
		--strip-extras --extra node --extra test --unsafe-package hubledger -o requirements/dev.txt setup.cfg
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --no-emit-find-links --no-emit-index-url --generate-hashes --allow-unsafe \
		--strip-extras --all-build-deps --only-build-deps -o requirements/build.txt pyproject.toml

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
