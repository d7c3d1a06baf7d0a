# `make run` and `make test` each do all of their own set-up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench system-deps venv clean

# When `make run` began (read once, before the set-up): `tapewatch up` reports the time from
# here to the first classified headline.
STARTED_AT := $(shell date +%s.%N)

run: system-deps venv
	TAPEWATCH_STARTED_AT=$(STARTED_AT) $(BIN)/tapewatch up

test: system-deps venv
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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
