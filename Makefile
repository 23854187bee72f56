# The same targets locally and in CI. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEED_COUNT ?= 100000

.PHONY: install run test lint format bench loadtest clean

install: $(STAMP)

$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./client
	# arq caps redis-py < 6 out of caution; we run redis-py 8 (the worker tests exercise it)
	$(BIN)/python -m pip install --quiet --no-deps 'arq==0.28.0'
	touch $(STAMP)

run: install
	@set -e; eval "$$($(BIN)/verify dev up --quiet)"; \
	$(BIN)/verify migrate; \
	$(BIN)/verify seed --count $(SEED_COUNT) --seed 1 --if-empty; \
	key=$$($(BIN)/verify keys create --agency demo --scopes verify,lookup:basic,lookup:residence,lookup:cards,citizen:history | tail -n 1); \
	$(BIN)/verify demo-curl --key "$$key"; \
	$(BIN)/verify worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(BIN)/verify serve

test: install
	$(BIN)/ruff check verify cache client tests loadtest
	$(BIN)/ruff format --check verify cache client tests loadtest
	$(BIN)/mypy
	$(BIN)/pytest --cov --cov-report=term:skip-covered

lint: install
	$(BIN)/ruff check verify cache client tests loadtest
	$(BIN)/ruff format --check verify cache client tests loadtest
	$(BIN)/mypy

format: install
	$(BIN)/ruff format verify cache client tests loadtest
	$(BIN)/ruff check --fix verify cache client tests loadtest

# Locust scenarios (loadtest/) against the dev stack on 127.0.0.1: report, plot and gates in
# loadtest/results/; fails when a scenario misses its p99 or failure-ratio gate.
LOADTEST_DURATION ?= 40
LOADTEST_STAMP := $(VENV)/.loadtest-installed

$(LOADTEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,loadtest]'
	touch $(LOADTEST_STAMP)

loadtest: install $(LOADTEST_STAMP)
	@set -e; eval "$$($(BIN)/verify dev up --quiet)"; \
	$(BIN)/verify migrate; \
	$(BIN)/verify seed --count $(SEED_COUNT) --seed 1 --if-empty; \
	$(BIN)/python -m loadtest.run --duration $(LOADTEST_DURATION)

# The throughput ceiling (loadtest/bench/): hello world, a naive SELECT server, /v1/verify with
# cache hits and with caches off on a 10M register (seeded once into the verify_bench database),
# batches; wrk on loopback, py-spy profiles. Writes loadtest/results/bench.{json,png}, profile-*.txt.
BENCH_ARGS ?=

bench: install $(LOADTEST_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@test -x $(BIN)/py-spy || $(BIN)/python -m pip install --quiet py-spy
	$(BIN)/python -m loadtest.bench.run $(BENCH_ARGS)

clean:
	-$(BIN)/verify dev down
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
