# povguard: the set-up contract is `make demo` and `make test` on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck twin bench-synth clean

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
	$(BIN)/pytest -q

## Generate a small twin (one county, 20,000 households, 18 months) under ./twin
twin: $(STAMP)
	$(BIN)/povguard synth --out twin --households 20000 --months 18 --counties 1

## Synthetic-twin benchmark (100k / 300k / 1M households x 12 months); writes bench/results/
bench-synth: $(STAMP)
	$(BIN)/python bench/bench_synth.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache twin
