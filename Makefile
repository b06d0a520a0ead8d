# Two entry points: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint typecheck check bench services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,speech]'
	rm -f $(VENV)/.installed-* && touch $@

## Set up and run the server with demo data and a simulated PBX (SQLite, nothing else needed).
demo: $(STAMP)
	$(BIN)/cti demo

## Set up and run the whole test suite against real Redis and PostgreSQL.
test: $(STAMP) services
	$(BIN)/python -m pytest -q

services:
	@bash scripts/services.sh
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check cti ivr screenpop tests benchmarks
	$(BIN)/ruff format --check cti ivr screenpop tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## Run every benchmark and print one table.
bench: $(STAMP) services
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
