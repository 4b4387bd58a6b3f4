# The two commands: `make demo` (collector + sweep example + query) and `make test`.
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: install demo test lint bench browser postgres screenshots clean

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

test: lint browser postgres
	$(BIN)/pytest

# The store tests run on SQLite and on a real PostgreSQL; they fail (not skip) without one.
PG_HINT := make test needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth, database test), e.g. docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16 (or set RUNLOG_TEST_POSTGRES=skip to skip those tests on purpose)
PG_DSN := host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3
postgres: $(STAMP)
	@$(BIN)/python -c "import psycopg; psycopg.connect('$(PG_DSN)').close()" 2>/dev/null \
		|| [ "$$RUNLOG_TEST_POSTGRES" = skip ] || { echo "$(PG_HINT)" >&2; exit 1; }

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
	$(BIN)/python bench/submit.py
	$(BIN)/python bench/store_backends.py

clean:
	rm -rf $(VENV) .runlog-demo .pytest_cache .mypy_cache .ruff_cache
