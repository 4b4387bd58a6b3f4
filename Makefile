# The two commands: `make demo` (collector + sweep example + query) and `make test`.
# Both create .venv and install the project into it on first use: `make demo` only what the
# demo uses (the `demo` extra), `make test` the whole dev extra. `make test-fast`: the quick
# in-process subset for the edit-test loop (FAST_TESTS below).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install demo test test-fast lint bench browser postgres screenshots clean

# The studio's browser tests and `make screenshots` drive Debian's chromium (Playwright's own
# browser download cannot work here); install it when it is missing.
CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Quiet, one line per step; pip's own output only when it fails.
$(DEMO_STAMP): pyproject.toml
	@echo "demo: creating $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "demo: installing runlog-ml[demo] (collector, scikit-learn, PyTorch CPU, TensorBoard, MLflow client)"
	@$(BIN)/python -m pip install -qq --upgrade pip >$(VENV)/demo-install.log 2>&1 \
		&& $(BIN)/python -m pip install -qq -e '.[demo]' >>$(VENV)/demo-install.log 2>&1 \
		|| { tail -n 20 $(VENV)/demo-install.log; echo "demo: install failed (log: $(VENV)/demo-install.log)"; exit 1; }
	@touch $@

demo: $(DEMO_STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

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

# The in-process unit tests (no collector process, browser, Ray or fresh venv): about 760
# tests, about a minute of CPU on a shared 2-core machine. `make test` stays the full suite.
FAST_TESTS := tests/collectors/convert tests/collectors/store tests/test_values.py \
	tests/test_conventions.py tests/test_extras.py tests/test_packer.py tests/test_spool.py \
	tests/collectors/test_writer.py tests/collectors/test_cli_args.py tests/test_demo_ports.py \
	tests/test_recorder.py tests/test_imports.py
# The store's tests that start collector processes (moto's S3 server, several collectors on
# one PostgreSQL, the store chosen at start) are not in-process: the full suite runs them.
FAST_IGNORE := --ignore=tests/collectors/store/test_object_files.py \
	--ignore=tests/collectors/store/test_shared_store.py \
	--ignore=tests/collectors/store/test_store_choice.py

test-fast: $(STAMP) postgres
	$(BIN)/pytest -q -x -m "not slow and not install and not ray" $(FAST_IGNORE) $(FAST_TESTS)

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
	$(BIN)/python bench/store_backends.py

clean:
	rm -rf $(VENV) .runlog-demo .pytest_cache .mypy_cache .ruff_cache
