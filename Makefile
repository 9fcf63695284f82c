# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run serve test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The service on embedded SQLite, driven by the built-in simulated PBX.
run: install
	$(BIN)/ivr-survey demo

# The service alone, for a real Asterisk (configure IVR_SURVEY_* first).
serve: install
	$(BIN)/ivr-survey serve

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Style, types and the layers' import contracts (docs/architecture.md); any finding fails.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
