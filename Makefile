# The two commands: `make demo` (collector + sweep example + query) and `make test`.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: install demo test lint bench browser screenshots clean

# The studio's browser tests and `make screenshots` drive Debian's chromium (Playwright's own
# browser download cannot work here); install it when it is missing.
CHROMIUM := /usr/bin/chromium

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

test: lint browser
	$(BIN)/pytest

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium (apt) for the studio's browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# A PNG of each studio page at 1280x800, light and dark, in docs/screenshots/.
screenshots: $(STAMP) browser
	$(BIN)/python scripts/screenshots.py

bench: $(STAMP)
	$(BIN)/python bench/core.py
	$(BIN)/python bench/logging_cost.py
	$(BIN)/python bench/autolog_sklearn.py
	$(BIN)/python bench/autolog_torch.py
	$(BIN)/python bench/mlflow_compare.py
	$(BIN)/python bench/studio.py
	$(BIN)/python bench/studio_compute.py
	$(BIN)/python bench/submit.py

clean:
	rm -rf $(VENV) .runlog-demo .pytest_cache .mypy_cache .ruff_cache
