# Cauri — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-console install install-dev migrate demo serve lint format typecheck bench bench-ledger bench-bulk bench-api bench-api-cpu bench-tontines bench-notifications bench-restaurant chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

## make run: install, migrate, seed the demo organisation, serve http://$(HOST):$(PORT) (make run PORT=8100)
run: install
	mkdir -p var
	$(BIN)/cauri db upgrade
	$(BIN)/cauri demo
	CAURI_LOKAHOME_ORGANIZATION=$${CAURI_LOKAHOME_ORGANIZATION:-lokahome} \
	CAURI_KOBIRI_ORGANIZATION=$${CAURI_KOBIRI_ORGANIZATION:-kobiri-demo} \
	$(BIN)/cauri serve --host $(HOST) --port $(PORT)

## make test: install the dev dependencies and run the whole suite, in parallel (TEST_WORKERS=0 runs it serially)
# Most tests wait on I/O (HTTP into the app, simulators, PostgreSQL, jobs), so more workers than cores pays; each
# worker gets databases of its own (tests/conftest.py), so nothing is shared but the servers.
TEST_WORKERS ?= 4
# Python's bytecode cache stays on for the tests even where the environment turns it off (PYTHONDONTWRITEBYTECODE,
# as on CI's machine): the suite starts a few hundred processes (servers, workers, the CLI, the chaos pass's
# restarts) and each would otherwise compile our sources again, about 1.7 s of CPU apiece.
test: install-dev
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=25 $(PYTEST_ARGS)

## make test-console: the console's HTTP tests and its browser tests (Debian chromium: apt-get install -y chromium)
test-console: install-dev
	$(BIN)/python -m pytest tests/web tests/e2e $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: install-dev
	$(BIN)/ruff format src tests bench migrations
	$(BIN)/ruff check --fix src tests bench migrations

typecheck: install-dev
	$(BIN)/mypy

bench: bench-ledger bench-bulk bench-api

bench-ledger: install-dev
	$(BIN)/python bench/ledger.py

## make bench-bulk: bulk disbursements on PostgreSQL (end to end, 1M-line ingestion vs COPY, HTTP vs its bound)
bench-bulk: install-dev
	$(BIN)/python bench/bulk.py $(BENCH_ARGS)

## make bench-api: API requests/s (wrk) on PostgreSQL and SQLite against a FastAPI hello-world yardstick
bench-api: install-dev
	$(BIN)/python bench/api.py $(BENCH_ARGS)

## make chaos: 5 minutes of mixed load on 2 API processes + 2 workers (PostgreSQL, Redis) with >= 100 kill -9s, then
## the books checked against the provider simulator's (CHAOS_ARGS="--duration 3600" for a long run; --broker amqp)
chaos: install-dev
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

## make bench-tontines: a year of weekly contributions (cash and mobile money) and a 10,000-member close, vs the ledger
bench-tontines: install-dev
	$(BIN)/python bench/tontines.py $(BENCH_ARGS)

## make bench-api-cpu: CPU per request of /health, /auth/me and the payouts list, in process (BACKEND=pg|sqlite)
bench-api-cpu: install-dev
	$(BIN)/python bench/api_cpu.py $(or $(BACKEND),pg) $(BENCH_ARGS)

## make bench-notifications: fan-out to 100,000 recipients × 3 channels, SMTP and SMS delivery, each against a bare yardstick (PostgreSQL)
bench-notifications: install-dev
	$(BIN)/python bench/notifications.py $(BENCH_ARGS)

## make bench-restaurant: Square sync, 200,000 orders and 10,000 items at 50 ms latency vs pages x latency (SQLite)
bench-restaurant: install-dev
	$(BIN)/python bench/restaurant.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## make bench-rentals: rentals search (nearby, full text) over HTTP vs bare SQL, and the booking race, PG + SQLite
.PHONY: bench-rentals
bench-rentals: install-dev
	$(BIN)/python bench/rentals.py $(BENCH_ARGS)
