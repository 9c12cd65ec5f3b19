# saas-synth: two commands do all the set-up on a fresh machine.
#   make run    create .venv, install pinned requirements, run the workbook on params/default.yaml
#   make test   the test suite (unit + property tests, a papermill run of params/tiny.yaml, nbval)
#   make bench  generation speed and memory on the default, 10x and large presets (reports/bench/latest.json)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml
PYTEST_WORKERS ?= 2

.PHONY: setup run tiny test test-unit test-notebooks bench lab clean

$(STAMP): requirements.txt requirements-dask.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dask.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m helpers.run --params $(PARAMS)

tiny: $(STAMP)
	$(PY) -m helpers.run --params params/tiny.yaml

test: test-unit test-notebooks

test-unit: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup tests

# nbval executes the committed notebooks in order (tiny params, a temporary dataset folder: conftest.py)
test-notebooks: $(STAMP)
	$(PY) -m pytest -p no:xdist --nbval-lax notebooks

# speed and memory, measured (not a test): default, 10x and large presets; ~17 min on 2 cores
bench: $(STAMP)
	$(PY) -m helpers.bench

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf data/_scratch data/.runs reports/.runs
