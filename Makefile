# RevPlan: `make run` starts the app on the demo workspace, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
WORKSPACE ?= demo
DEMO_SIZE ?= medium

.PHONY: run test lint bench browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/revplan demo --workspace $(WORKSPACE) --size $(DEMO_SIZE) --if-missing --with-models
	$(BIN)/revplan worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	REVPLAN_WORKSPACE=$(WORKSPACE) $(BIN)/streamlit run app.py --server.headless true --server.port $(PORT)

browser:
	@bash scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) browser lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output bench-output
