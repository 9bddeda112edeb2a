# The README's two commands are `make run` and `make test`; everything else here serves them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := data/demo.gpkg
PORT   ?= 8501

.PHONY: run test test-fast bench demo lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml changes.
$(VENV)/.run-stamp: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dashboard]"
	touch $@

$(VENV)/.dev-stamp: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dashboard,api,dev,postgis,scale]"
	touch $@ $(VENV)/.run-stamp

$(DEMO): | $(VENV)/.run-stamp
	$(BIN)/zoning demo --out $(DEMO) --seed 7

demo: $(DEMO)

run: $(VENV)/.run-stamp $(DEMO)
	$(BIN)/streamlit run dashboard.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# one pytest worker per core, up to 4 (each builds the small demo and starts its own PostGIS; the
# tests of the full demo share one worker, which builds it once)
test: $(VENV)/.dev-stamp
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadgroup

test-fast: $(VENV)/.dev-stamp
	$(BIN)/python -m pytest -m "not slow"

$(VENV)/.bench-stamp: pyproject.toml | $(VENV)/.dev-stamp
	$(BIN)/python -m pip install --quiet -e ".[dashboard,api,dev,scale,bench]"
	touch $@

bench: $(VENV)/.bench-stamp $(DEMO)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: $(VENV)/.dev-stamp
	$(BIN)/ruff check zoning tests benchmarks dashboard.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
