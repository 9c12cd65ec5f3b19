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
.PHONY: check-pythons

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

# JupyterLab serves the project root (params/, data/, reports/ reachable) and opens on notebooks/; as root
# (containers) it needs --allow-root. LAB_ARGS passes more options (e.g. LAB_ARGS="--no-browser --port=8890").
lab: $(STAMP) ## JupyterLab on the project root, opening at notebooks/ (LAB_ARGS=... for more options)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean: $(STAMP) ## remove scratch folders and failed, killed or superseded runs; published datasets stay
	$(PY) -m helpers.runs clean

clean-datasets: $(STAMP) ## remove every published dataset too, with its data/NAME and reports/NAME links
	$(PY) -m helpers.runs clean-datasets

# README's and params/default.yaml's generated figures (the test suite fails when they drift)
.PHONY: figures
figures: $(STAMP) ## rewrite the figures blocks of README.md and params/default.yaml from data/default and the bench
	$(PY) -m helpers.publish.figures

# every pin has a wheel (or is pure Python) for each supported Python: pip resolves each pin for that
# version, wheels only, without installing anything (a dry run: its --target stays empty); ~1 min each
CHECK_PYTHONS ?= 3.11.0 3.12 3.13
check-pythons: $(STAMP) ## every pinned package has a wheel for Python 3.11, 3.12 and 3.13 (pip dry run)
	@for v in $(CHECK_PYTHONS); do \
	  t=$$(mktemp -d) && \
	  $(PY) -m pip install --dry-run --quiet --disable-pip-version-check --ignore-installed --no-deps \
	    --only-binary=:all: --python-version $$v --target $$t \
	    -r requirements.txt -r requirements-dask.txt -r constraints.txt; \
	  code=$$?; rmdir $$t; \
	  if [ $$code -ne 0 ]; then echo "Python $$v: a pin has no wheel for it (see above)"; exit 1; fi; \
	  echo "Python $$v: every pin has a wheel"; \
	done

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
