# Kalan: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every version, with its hashes: requirements.lock for production,
# requirements-dev.lock (the same pins plus the dev extra) for make.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
# The tools that install and write the locks are pinned as well.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
LOCK_TOOLS := $(VENV)/lock-tools
# One lock for every Python >= 3.11 and every platform: markers decide at install
# time (e.g. async-timeout below 3.11.3). The build backend is pinned too.
BUILD_REQUIRES := $(PYTHON) -c 'import tomllib; \
	print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'
COMPILE := UV_CUSTOM_COMPILE_COMMAND="make lock" UV_PYTHON_DOWNLOADS=never \
	$(LOCK_TOOLS)/bin/uv pip compile --quiet --universal --python-version 3.11 \
	--generate-hashes $(if $(UPGRADE),--upgrade)

.PHONY: audio browser install lock run test test-faults bench lint format clean

# Installs exactly what the lock pins (hashes checked), then Kalan itself,
# editable, from what is installed: --no-index so nothing else can come in, and
# setuptools from the lock builds it. A lock behind pyproject.toml fails here.
$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'pip==$(PIP_VERSION)'
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-index --no-build-isolation -e '.[dev]' \
	  || { echo "$(DEV_LOCK) lacks what pyproject.toml asks for: run make lock"; exit 1; }
	$(BIN)/python -m pip check
	@touch $(STAMP)

install: $(STAMP)

# Rewrites both locks from pyproject.toml, keeping the pins that still fit;
# `make lock UPGRADE=1` moves everything to the newest allowed versions.
lock:
	@test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
	  $(LOCK_TOOLS)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'; }
	$(BUILD_REQUIRES) | $(COMPILE) --output-file $(LOCK) pyproject.toml -
	$(BUILD_REQUIRES) | $(COMPILE) --extra dev --constraint $(LOCK) \
	  --output-file $(DEV_LOCK) pyproject.toml -

# French placeholder prompts for calls first, when espeak-ng and sox are here (quick once
# built); without them calls show their text, as `make audio` would fix.
run: install
	@if command -v espeak-ng >/dev/null && command -v sox >/dev/null; then \
	  $(BIN)/kalan audio build --lang fr \
	    || echo "audio: the placeholder build failed (above); calls will lack some audio"; \
	else \
	  echo "audio: no espeak-ng or sox, so calls have no placeholder audio (make audio installs them)"; \
	fi
	$(BIN)/kalan dev

# On every core (pytest-xdist): each worker has its own database and its tests their own
# Redis prefix. PYTEST_ARGS="-n 0" runs them in this one process, as a debugger wants.
test: install
	$(BIN)/python -m pytest -m "not faults" -n auto $(PYTEST_ARGS)

# Outages, killed workers, duplicated callbacks and fuzzing: longer, run apart.
test-faults: install
	$(BIN)/python -m pytest -m faults tests/faults $(PYTEST_ARGS)

# Figures, not tests: throughput against bare Flask and two I/O floors, a profile per hop,
# a 100,000 campaign against the HTTP client's ceiling. Ends with the four figures that count.
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

# espeak-ng and sox (apt, as root; idempotent), then the French placeholder prompts.
audio: install
	bash deploy/audio-setup.sh
	$(BIN)/kalan audio build --lang fr

# Chromium and its driver for tests/test_console_browser.py (apt, as root); idempotent.
browser:
	bash tests/browser-setup.sh
