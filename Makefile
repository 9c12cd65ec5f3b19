# saas-synth: two commands do all the set-up on a fresh machine (`make help` lists every target).
#   make run    create .venv, install pinned requirements, run the workbook on params/default.yaml
#   make test   what CI runs: ruff, then the whole test suite and nbval over the notebooks
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml
PYTEST_WORKERS ?= 2

.PHONY: help setup run tiny test test-fast test-unit test-notebooks lint format bench lab clean clean-datasets

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dask.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dask.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned requirements
run: $(STAMP) ## run the workbook on params/default.yaml (PARAMS=... for another) and publish data/NAME, reports/NAME
	$(PY) -m helpers.run --params $(PARAMS)

tiny: $(STAMP) ## run the workbook on params/tiny.yaml (seconds)
	$(PY) -m helpers.run --params params/tiny.yaml

test: lint test-unit test-notebooks ## what CI runs (.ci/run): ruff, every test, nbval; under 10 minutes on 2 cores

test-fast: $(STAMP) ## the tests not marked slow: a quick loop while developing
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow" tests

test-unit: $(STAMP) ## every test in tests/ (two workers)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup tests

# nbval executes the committed notebooks in order (tiny params, a temporary dataset folder: conftest.py)
test-notebooks: $(STAMP) ## nbval over the committed notebooks
	$(PY) -m pytest -p no:xdist --nbval-lax notebooks

lint: $(STAMP) ## ruff: lint (incl. import order) and format check over the tree
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## ruff: apply the safe fixes and format the tree
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# speed and memory, measured (not a test): default, 10x and large presets; ~17 min on 2 cores
bench: $(STAMP) ## generation speed and memory on default, 10x and large (reports/bench/latest.json)
	$(PY) -m helpers.bench

lab: $(STAMP) ## JupyterLab on notebooks/
	$(VENV)/bin/jupyter lab notebooks/

clean: $(STAMP) ## remove scratch folders and failed, killed or superseded runs; published datasets stay
	$(PY) -m helpers.runs clean

clean-datasets: $(STAMP) ## remove every published dataset too, with its data/NAME and reports/NAME links
	$(PY) -m helpers.runs clean-datasets

# A second environment, for the tests only (tests/test_portable.py): dbt-core and dbt-duckdb on the newest
# DuckDB 1.x (requirements-compat.txt), and the oldest DuckDB the warehouse supports in a folder of its
# own (requirements-compat-oldest.txt), so the tests open warehouse.duckdb with both and run dbt build.
COMPAT := .venv-compat
COMPAT_STAMP := $(COMPAT)/.installed
.PHONY: setup-compat

$(COMPAT_STAMP): requirements-compat.txt requirements-compat-oldest.txt
	@test -x $(COMPAT)/bin/python || $(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-compat.txt
	$(COMPAT)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --target $(COMPAT)/duckdb-oldest -r requirements-compat-oldest.txt
	@touch $(COMPAT_STAMP)

setup-compat: $(COMPAT_STAMP) ## the tests' second environment (.venv-compat): dbt-duckdb, DuckDB 1.x
test-unit: $(COMPAT_STAMP)
