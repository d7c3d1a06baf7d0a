# `make run` and `make test` each do all of their own set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The web dashboard's front-end libraries (package.json), installed by npm into an ignored folder.
ASSETS := node_modules/.installed

.PHONY: run test lint format bench system-deps venv assets clean

# When `make run` began (read once, before the set-up): `tapewatch up` reports the time from
# here to the first classified headline.
STARTED_AT := $(shell date +%s.%N)

run: system-deps venv assets
	TAPEWATCH_STARTED_AT=$(STARTED_AT) $(BIN)/tapewatch up

test: system-deps venv assets
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

system-deps:
	@scripts/system-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	# compat mode: the repo root goes on sys.path, so every package at the root is importable.
	$(BIN)/pip install -q -e '.[train,dev]' --config-settings editable_mode=compat
	touch $(STAMP)

assets: $(ASSETS)

$(ASSETS): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(ASSETS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
