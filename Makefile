# RevPlan: `make run` starts the app on the demo workspace, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PORT ?= 8501
WORKSPACE ?= demo
DEMO_SIZE ?= medium

.PHONY: run test lint bench browser clean

# What the app needs; the test tools come with `make test`.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/revplan demo --workspace $(WORKSPACE) --size $(DEMO_SIZE) --if-missing --train-in-background
	$(BIN)/revplan worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	REVPLAN_WORKSPACE=$(WORKSPACE) $(BIN)/streamlit run app.py --server.headless true --server.port $(PORT)

browser:
	@bash scripts/ensure-chromium.sh

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(TEST_STAMP) browser lint
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest

bench: $(TEST_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output bench-output
