# Two commands matter: `make run` (install, start the server on SQLite) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck unit clean console web-check

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/flowyard server

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck web-check
	$(BIN)/pytest -n 2 --dist loadgroup

# The web console (web/): lint, types, Vitest and the reproducible-bundle check, wherever Node.js is
# installed (FLOWYARD_REQUIRE_NODE=1, as .ci/run sets, makes a missing Node.js an error).
web-check:
	@if command -v node >/dev/null 2>&1; then web/check-bundle.sh; \
	elif [ -n "$$FLOWYARD_REQUIRE_NODE" ]; then echo "node is required for the console check" >&2; exit 1; \
	else echo "node not found: console checks skipped"; fi

# Rebuild the console bundle committed in src/flowyard/console_dist.
console:
	cd web && npm ci --no-audit --no-fund && npm run build

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
