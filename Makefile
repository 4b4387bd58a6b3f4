# The two commands: `make demo` (collector + sweep example + query) and `make test`.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check runlog collectors tests bench examples
	$(BIN)/ruff format --check runlog collectors tests bench examples
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/core.py
	$(BIN)/python bench/logging_cost.py
	$(BIN)/python bench/autolog_sklearn.py
	$(BIN)/python bench/autolog_torch.py
	$(BIN)/python bench/mlflow_compare.py

clean:
	rm -rf $(VENV) .runlog-demo .pytest_cache .mypy_cache .ruff_cache
