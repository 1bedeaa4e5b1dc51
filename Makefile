# `make run` sets everything up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sounds messages migrate seed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# `make run PORT=9000` serves on another port (a PORT merely exported by the shell is not taken).
run: $(STAMP)
	$(BIN)/ivr migrate
	$(BIN)/ivr seed-demo
	$(if $(filter command line,$(origin PORT)),IVR_PORT=$(PORT) )$(BIN)/ivr serve

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

# The message ids of code and templates into each language's catalogue (crm/locale/*/messages.po);
# new ids arrive untranslated, and a test fails until they are translated.
messages: $(STAMP)
	@mkdir -p var
	$(BIN)/pybabel --quiet extract -F babel.cfg -k N_ --add-location=file --sort-by-file \
		--project="Partner line CRM" -o var/messages.pot .
	$(BIN)/pybabel --quiet update -i var/messages.pot -d crm/locale -D messages -l ru \
		--no-fuzzy-matching --ignore-obsolete --init-missing

# Needs Debian's espeak-ng and sox: apt-get install -y espeak-ng sox
sounds: $(STAMP)
	$(BIN)/ivr render-sounds

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
