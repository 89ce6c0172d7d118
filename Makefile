# Two commands: `make run` (set up and run the demo) and `make test` (set up and run every check).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: run test lint types pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# setup.py builds the compiled netfilter scanner: a changed C file is built again.
$(VENV)/.installed: pyproject.toml setup.py src/reconwatch/ingest/_nffields.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@$(BIN)/python -c "import reconwatch.ingest._nffields" 2>/dev/null || echo "note: built \
	without the compiled netfilter scanner (no C compiler?): parsing is slower; after \
	installing gcc, run 'make clean' and make again"
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/reconwatch demo --out $(OUT)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed
	$(BIN)/pytest

test: lint types pytest

bench: $(VENV)/.installed
	$(BIN)/python bench/netfilter_throughput.py --lines 1000000

clean:
	rm -rf $(VENV) out .mypy_cache .pytest_cache .ruff_cache
