# povguard: the set-up contract is `make demo` and `make test` on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck demo twin bench-synth bench-cycle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src

test: lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadfile --ignore=tests/web/test_fuzz_openapi.py
	# schemathesis expands one test per API operation only in a single process
	$(BIN)/pytest -q tests/web/test_fuzz_openapi.py

## Generate a one-county twin, run every monthly cycle, evaluate, serve http://127.0.0.1:8000
demo: $(STAMP)
	$(BIN)/povguard demo --out demo

## Generate a small twin (one county, 20,000 households, 18 months) under ./twin
twin: $(STAMP)
	$(BIN)/povguard synth --out twin --households 20000 --months 18 --counties 1

## Synthetic-twin benchmark (100k / 300k / 1M households x 12 months); writes bench/results/
bench-synth: $(STAMP)
	$(BIN)/python bench/bench_synth.py --repeat 3

## Monthly-cycle benchmark (DuckDB, and Spark for the same month); writes bench/results/
bench-cycle: $(STAMP)
	$(BIN)/python bench/bench_cycle.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache twin demo povguard-data
