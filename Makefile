# Two entry points that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PEOPLE ?= 20000
SEED   ?= 42
# Tests run in parallel; two workers match the CI machine's two cores.
PYTEST_WORKERS ?= 2

.PHONY: demo test lint typecheck unit bench-toy clean install docs system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/simpul demo --people $(PEOPLE) --seed $(SEED)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

bench-toy: $(STAMP)
	SIMPUL_BENCH_TOY=1 $(BIN)/python bench/run_all.py

# Debian packages the tests and benchmarks need (Chromium, Pango, wrk, curl, Java).
system-deps:
	bash .ci/system-deps

test: system-deps lint typecheck unit bench-toy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache simpul-data

# The CLI reference is generated from --help; tests/test_docs.py fails when it is stale.
# The error-code catalogue is read from the source; tests/test_error_codes.py checks it.
docs: $(STAMP)
	$(BIN)/python -m typer simpul.cli utils docs --name simpul --output docs/cli.md
	$(BIN)/python -m simpul.kit.errorcodes > docs/errors.md
