# doudi — two commands: `make demo` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
export DOUDI_VAR_DIR ?= $(CURDIR)/var

.PHONY: demo test install lint test-sqlite test-pg bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)
	$(BIN)/doudi rules compile

demo: install
	$(BIN)/doudi demo --port $(PORT)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

test-sqlite: install
	env -u DATABASE_URL $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# PostgreSQL: mandatory in CI (CI=true); elsewhere skipped with a notice when no server answers.
test-pg: install
	@if DATABASE_URL=$(PG_URL) $(BIN)/python -c "import dj_database_url, psycopg, sys; c = dj_database_url.parse('$(PG_URL)'); psycopg.connect(host=c['HOST'], port=c['PORT'] or 5432, user=c['USER'], dbname=c['NAME'], connect_timeout=3).close()" 2>/dev/null; then \
		echo "== PostgreSQL run: $(PG_URL)"; \
		DOUDI_DB_TESTS_ONLY=1 DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "ERROR: PostgreSQL at $(PG_URL) is not reachable and CI=true requires it" >&2; exit 1; \
	else \
		echo "NOTICE: PostgreSQL at $(PG_URL) not reachable: the PostgreSQL test run was SKIPPED"; \
	fi

test: lint
	@echo "== SQLite run"
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-pg

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
