# Kalan: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-faults bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/kalan dev

test: install
	$(BIN)/python -m pytest -m "not faults" $(PYTEST_ARGS)

# Outages, killed workers, duplicated callbacks and fuzzing: longer, run apart.
test-faults: install
	$(BIN)/python -m pytest -m faults tests/faults $(PYTEST_ARGS)

# Figures, not tests: throughput against a bare Flask app, cost per hop, a 100,000 campaign.
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var .pytest_cache .hypothesis
