# The same targets locally and in CI. `make run` and `make test` work on a fresh clone.
# `make run`: the admin steps (migrate, maintenance, seed, keys) run as the database owner
# (VERIFY_ADMIN_DATABASE_URL), `verify serve` as the serving role (VERIFY_DATABASE_URL).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEED_COUNT ?= 100000

.PHONY: install lock run test test-compiled lint format bench seedbench loadtest counter-results clean

# Dependencies come from hashed lock files (pip --require-hashes: a changed or substituted
# file on the index fails the install), then the project itself without dependencies.
# requirements.lock: the runtime (the Docker image); requirements-dev.lock: runtime + dev.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
ARQ_LOCK := requirements-arq.lock
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

# verify/domain compiled with mypyc (verify/native_build.py) into the venv, keyed by the hash of
# its sources: it compiles only when that hash has no build yet (once per change of a domain
# source, ~20 s; otherwise it only hashes, ~0.2 s, so a deleted build or an edit within make's
# timestamp resolution is never missed). No C compiler: one line says the domain runs as pure
# Python, and the install goes on.
install: $(STAMP)
	@$(BIN)/python -m verify.native_build

$(STAMP): pyproject.toml client/pyproject.toml $(DEV_LOCK) $(ARQ_LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(ARQ_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e . -e ./client
	@$(BIN)/python -m pip check | grep -v -e '^arq 0.28.0 has requirement redis' \
	  -e '^No broken requirements' | { ! grep -q .; } || { $(BIN)/python -m pip check; \
	  echo "pyproject.toml needs a package $(DEV_LOCK) does not pin: run 'make lock'" >&2; exit 1; }
	touch $(STAMP)

# Regenerate both lock files from pyproject.toml (pip-tools; keeps existing pins unless
# LOCK_ARGS='--upgrade' or '--upgrade-package NAME'). A few minutes: it fetches every hash.
lock:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet pip-tools
	$(PIP_COMPILE) -o $(LOCK) pyproject.toml
	$(PIP_COMPILE) --extra dev -o $(DEV_LOCK) pyproject.toml client/pyproject.toml

run: install
	@set -e; eval "$$($(BIN)/verify dev up --quiet)"; \
	$(BIN)/verify migrate; \
	$(BIN)/verify maintenance; \
	$(BIN)/verify seed --count $(SEED_COUNT) --seed 1 --if-empty; \
	key=$$($(BIN)/verify keys create --agency demo --scopes verify,lookup:basic,lookup:residence,lookup:cards,citizen:history --purposes demo,kyc,citizen_request | tail -n 1); \
	$(BIN)/verify demo-curl --key "$$key"; \
	$(BIN)/verify worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(BIN)/verify serve

test: install
	$(BIN)/ruff check verify cache client tests loadtest
	$(BIN)/ruff format --check verify cache client tests loadtest
	$(BIN)/mypy
	VERIFY_PURE_PYTHON=1 $(BIN)/pytest --cov --cov-report=term:skip-covered
	$(MAKE) --no-print-directory test-compiled

# The run above measures coverage on the domain's .py files; this one runs the unit suite
# and the end-to-end tests of verify answers, limits and the API again on the domain
# `make install` compiled. --check fails when a build was possible but none runs, and
# says why when nothing can be compiled here (then these tests run the .py files again)
COMPILED_TESTS = tests/unit tests/e2e/test_verify_cases.py tests/e2e/test_probing_limit.py \
	tests/e2e/test_rate_limits.py tests/e2e/test_api.py
test-compiled: install
	VERIFY_PURE_PYTHON=0 $(BIN)/python -m verify.native_build --check
	VERIFY_PURE_PYTHON=0 $(BIN)/pytest $(COMPILED_TESTS)

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
	$(BIN)/python -m loadtest.run --duration $(LOADTEST_DURATION); \
	$(BIN)/python -m loadtest.flood

# The throughput ceiling (loadtest/bench/): hello world, a naive SELECT server, /v1/verify with
# cache hits and with caches off on a 10M register (seeded once into the verify_bench database),
# batches; wrk on loopback, py-spy profiles. Writes loadtest/results/bench.{json,png}, profile-*.txt.
# BENCH_ARGS="--register 100M": only verify with caches off on a 100M register (its own database,
# seeded once, ~30 GB), with p99 and the database size: loadtest/results/register-100m.json.
BENCH_ARGS ?=

bench: install $(LOADTEST_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@test -x $(BIN)/py-spy || $(BIN)/python -m pip install --quiet py-spy
	$(BIN)/python -m loadtest.bench.run $(BENCH_ARGS)

# `verify seed` rows/s at each count as a ratio to `pgbench -i -s 30` in the same run:
# loadtest/results/seed.json.
SEEDBENCH_COUNTS ?= 1000000,10000000
seedbench: install
	$(BIN)/python -m loadtest.seedbench --counts $(SEEDBENCH_COUNTS)

# The counter page's latency report and screenshots, refreshed into loadtest/results (the test
# suite writes them to its temporary directory). Run it on a quiet machine.
counter-results: install
	VERIFY_COUNTER_RESULTS=loadtest/results $(BIN)/pytest tests/e2e/test_counter_page.py -k scans -p no:cacheprovider --no-cov

clean:
	-$(BIN)/verify dev down
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
