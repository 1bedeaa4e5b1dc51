# `make run` sets everything up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sounds migrate seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/ivr migrate
	$(BIN)/ivr seed-demo
	$(BIN)/ivr serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# Speed against a bare aiohttp ceiling, one table (bench/); PostgreSQL too when
# IVR_TEST_DATABASE_URL is set. The load generator is wrk from Debian's packages.
bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

migrate: $(STAMP)
	$(BIN)/ivr migrate

seed: migrate
	$(BIN)/ivr seed-demo

# Needs Debian's espeak-ng and sox: apt-get install -y espeak-ng sox
sounds: $(STAMP)
	$(BIN)/ivr render-sounds

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
