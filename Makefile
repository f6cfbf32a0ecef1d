# Two commands do all the set-up: `make run` and `make test` (see README.md); `make web` opens
# the web chat.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run web test lint format bench check catalogs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps make a second `make run` start at once; editing pyproject.toml reinstalls.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(VENV)/.run-installed

catalogs: $(VENV)/.run-installed
	$(BIN)/vollsmose-bot catalog compile

run: $(VENV)/.run-installed catalogs
	$(BIN)/vollsmose-bot run

# The web chat alone, no Telegram token needed: open http://127.0.0.1:8080/ in a browser.
web: $(VENV)/.run-installed catalogs
	$(BIN)/vollsmose-bot web

check: $(VENV)/.run-installed catalogs
	$(BIN)/vollsmose-bot check

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Two workers: tests share no port (each asks the system for a free one) and no file (tmp_path).
test: $(VENV)/.test-installed catalogs lint
	$(BIN)/python -m pytest -n 2

bench: $(VENV)/.test-installed catalogs
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) locales/*/LC_MESSAGES/*.mo .pytest_cache .ruff_cache
